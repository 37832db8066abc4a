"""Tests of catzilla.forms: path unquoting, query strings, cookies, urlencoded and
multipart/form-data bodies, including malformed input and seeded fuzzing."""
import random
import re
import urllib.parse

import pytest

from catzilla.datastructures import FormData, Headers, QueryParams, UploadFile
from catzilla.forms import (
    FormError, parse_cookies, parse_form, parse_multipart, parse_options_header, parse_query,
    parse_urlencoded, unquote_path,
)

# ------------------------------------------------------------------ unquote_path


@pytest.mark.parametrize("raw, expected", [
    (b"/", "/"),
    (b"", ""),
    (b"/users/42/posts", "/users/42/posts"),
    (b"/a%20b", "/a b"),
    (b"/a+b", "/a+b"),                       # '+' is not special in paths
    (b"/a%2Fb", "/a/b"),                     # %2F decodes (ASGI semantics)
    (b"/a%2fb", "/a/b"),                     # lower-case hex
    (b"/nul%00byte", "/nul\x00byte"),
    (b"/bad%zz", "/bad%zz"),                 # malformed escapes stay literal
    (b"/bad%g1", "/bad%g1"),
    (b"/bad%1g", "/bad%1g"),
    (b"/trail%", "/trail%"),
    (b"/trail%4", "/trail%4"),
    (b"%", "%"),
    (b"%%41", "%A"),
    (b"%2541", "%41"),                       # decoded once only
    (b"/caf%C3%A9", "/café"),
    (b"/%E2%82%AC/%F0%9F%98%80", "/€/😀"),
    (b"/caf\xc3\xa9", "/café"),               # raw UTF-8 in the request line
    (b"/%ff", "/\ufffd"),                     # invalid UTF-8 -> U+FFFD
    (b"/%C3", "/\ufffd"),                     # truncated sequence
    (b"/\xff\xfe", "/\ufffd\ufffd"),
    (b"/%C3%A9%", "/é%"),
])
def test_unquote_path(raw, expected):
    assert unquote_path(raw) == expected


def test_unquote_path_long_inputs_use_heap_buffer():
    seg = "/%C3%A9t%C3%A9"
    raw = (seg * 200).encode()
    assert len(raw) > 1000
    assert unquote_path(raw) == "/été" * 200
    plain = b"/x" * 5000
    assert unquote_path(plain) == plain.decode()


def test_unquote_path_matches_urllib_on_random_ascii():
    rng = random.Random(1234)
    alphabet = "%%%%0123456789abcdefABCDEFgGzZ/+ .~-_"
    for _ in range(3000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert unquote_path(s.encode("ascii")) == urllib.parse.unquote(s, errors="replace"), s


def test_unquote_path_type_errors():
    with pytest.raises(TypeError):
        unquote_path(None)
    with pytest.raises(TypeError):
        unquote_path("/str")


# ------------------------------------------------------------------ parse_query


def pairs(q):
    assert isinstance(q, QueryParams)
    return q.items()


def test_parse_query_basic():
    q = parse_query("a=1&b=2&c=3")
    assert pairs(q) == [("a", "1"), ("b", "2"), ("c", "3")]
    assert q["b"] == "2"


@pytest.mark.parametrize("qs, expected", [
    ("", []),
    ("&", []),
    ("&&a=1&&", [("a", "1")]),
    ("a", [("a", "")]),
    ("a=", [("a", "")]),
    ("=x", [("", "x")]),
    ("=", [("", "")]),
    ("a==b", [("a", "=b")]),
    ("a=1;b=2", [("a", "1;b=2")]),                      # ';' is not a separator
    ("a=1&a=2&a=3", [("a", "1"), ("a", "2"), ("a", "3")]),
    ("q=hello+world", [("q", "hello world")]),
    ("q=a%2Bb", [("q", "a+b")]),
    ("q+x=1", [("q x", "1")]),
    ("q=%20%20", [("q", "  ")]),
    ("q=caf%C3%A9", [("q", "café")]),
    ("q=café", [("q", "café")]),                        # non-ASCII str, fast path
    ("q=café+crème", [("q", "café crème")]),            # non-ASCII str, slow path
    ("q=%zz&r=%4", [("q", "%zz"), ("r", "%4")]),
    ("q=%ff", [("q", "\ufffd")]),
    ("k%3Dx=v%26w", [("k=x", "v&w")]),
    ("%E2%82%AC=%F0%9F%98%80", [("€", "😀")]),
])
def test_parse_query_cases(qs, expected):
    assert pairs(parse_query(qs)) == expected
    assert pairs(parse_query(qs.encode("utf-8"))) == expected


def test_parse_query_last_value_semantics():
    q = parse_query("page=1&page=2")
    assert q["page"] == "2"
    assert q.getlist("page") == ["1", "2"]


def test_parse_query_bytes_raw_utf8_and_invalid():
    assert pairs(parse_query(b"q=caf\xc3\xa9")) == [("q", "café")]
    assert pairs(parse_query(b"q=\xff&\xfe")) == [("q", "\ufffd"), ("\ufffd", "")]


def test_parse_query_str_with_surrogates_does_not_crash():
    # e.g. a str produced with errors="surrogateescape"
    assert pairs(parse_query("q=\udcff%41")) == [("q", "\ufffdA")]
    assert pairs(parse_query("q=\ud800%41")) == [("q", "?A")]


def test_parse_query_long_components():
    v = "%C3%A9" * 300
    q = parse_query(f"k={v}&x=" + "y" * 1000)
    assert q["k"] == "é" * 300
    assert q["x"] == "y" * 1000


def test_parse_query_matches_urllib_on_random_input():
    rng = random.Random(99)
    alphabet = "ab=&&;++%%%0123456789ABCDEFzé "
    for _ in range(3000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        expected = urllib.parse.parse_qsl(s, keep_blank_values=True, errors="replace", separator="&")
        assert pairs(parse_query(s)) == expected, s
        assert pairs(parse_query(s.encode())) == expected, s


def test_parse_query_type_errors():
    for bad in (None, 1, ["a=1"], bytearray(b"a=1")):
        with pytest.raises(TypeError):
            parse_query(bad)


# ------------------------------------------------------------------ parse_urlencoded


def test_parse_urlencoded():
    f = parse_urlencoded(b"name=J%C3%BCrgen+M&tags=a&tags=b&empty=&flag")
    assert isinstance(f, FormData)
    assert f.items() == [("name", "Jürgen M"), ("tags", "a"), ("tags", "b"), ("empty", ""), ("flag", "")]
    assert f["tags"] == "b"
    assert parse_urlencoded(b"").items() == []
    assert parse_urlencoded(b"a=\xff").items() == [("a", "\ufffd")]
    with pytest.raises(TypeError):
        parse_urlencoded(None)
    with pytest.raises(TypeError):
        parse_urlencoded("a=1")


# ------------------------------------------------------------------ parse_cookies


@pytest.mark.parametrize("header, expected", [
    ("", {}),
    ("a=1", {"a": "1"}),
    ("a=1; b=2", {"a": "1", "b": "2"}),
    ("a=1;b=2", {"a": "1", "b": "2"}),
    ("  a = 1 ;\tb\t=\t2\t; ", {"a": "1", "b": "2"}),
    ("a=1; a=2", {"a": "1"}),                       # first occurrence wins
    ('a="quoted value"', {"a": "quoted value"}),
    ('a=""', {"a": ""}),
    ('a="', {"a": '"'}),                           # a lone quote is kept
    ('a="unterminated', {"a": '"unterminated'}),
    ('a=x"y"', {"a": 'x"y"'}),
    ("a=b=c", {"a": "b=c"}),                        # first '=' separates
    ("a=", {"a": ""}),
    ("noequals; b=2", {"b": "2"}),                  # pieces without '=' skipped
    ("=nameless; b=2", {"b": "2"}),                 # empty names skipped
    (" =x ;;; ; c=3", {"c": "3"}),
    ("a=%20x", {"a": "%20x"}),                      # no percent-decoding
    ("a=caf\u00e9; \u00e9=1", {"a": "café", "é": "1"}),
    ("a=1 2", {"a": "1 2"}),
    ("session=abc123; theme=dark; lang=en",
     {"session": "abc123", "theme": "dark", "lang": "en"}),
])
def test_parse_cookies(header, expected):
    assert parse_cookies(header) == expected


def test_parse_cookies_type_error():
    with pytest.raises(TypeError):
        parse_cookies(None)
    with pytest.raises(TypeError):
        parse_cookies(b"a=1")


def test_parse_cookies_random_never_crashes():
    rng = random.Random(7)
    alphabet = 'ab=;" \t\u00e9\x00'
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))
        d = parse_cookies(s)
        for k, v in d.items():
            assert k and k == k.strip(" \t") and ";" not in k and "=" not in k
            assert ";" not in v


# ------------------------------------------------------------------ parse_options_header


@pytest.mark.parametrize("value, expected", [
    ("text/plain", ("text/plain", {})),
    ("  Text/HTML  ", ("text/html", {})),
    ("text/html; charset=UTF-8", ("text/html", {"charset": "UTF-8"})),
    ('multipart/form-data; boundary="a;b=c"', ("multipart/form-data", {"boundary": "a;b=c"})),
    ('form-data; name="f\\"x"; filename="C:\\dir\\a.txt"',
     ("form-data", {"name": 'f"x', "filename": "C:\\dir\\a.txt"})),
    ('x; a="back\\\\slash"', ("x", {"a": "back\\slash"})),
    ("x; A=1; a=2", ("x", {"a": "1"})),                 # first wins, names lower-cased
    ("x; novalue; b=2", ("x", {"b": "2"})),
    ("x; ; ;b = 2 ", ("x", {"b": "2"})),
    ('x; a="unterminated', ("x", {"a": "unterminated"})),
    ('x; a="q" junk; b=1', ("x", {"a": "q", "b": "1"})),
    ("x; a=", ("x", {"a": ""})),
    ("", ("", {})),
])
def test_parse_options_header(value, expected):
    assert parse_options_header(value) == expected


# ------------------------------------------------------------------ multipart helpers

BOUNDARY = "----catzillaBoundary7MA4YWxkTrZu0gW"
CT = f"multipart/form-data; boundary={BOUNDARY}"


def part(disposition, content, extra_headers=b""):
    if isinstance(content, str):
        content = content.encode()
    return b"Content-Disposition: " + disposition.encode() + b"\r\n" + extra_headers + b"\r\n" + content


def body(*parts, boundary=BOUNDARY, preamble=b"", epilogue=b"\r\n"):
    b = boundary.encode()
    out = preamble
    for p in parts:
        out += b"--" + b + b"\r\n" + p + b"\r\n"
    return out + b"--" + b + b"--" + epilogue


def field(name, value, extra=b""):
    return part(f'form-data; name="{name}"', value, extra)


def filepart(name, filename, content, ctype=b"application/octet-stream"):
    extra = b"Content-Type: " + ctype + b"\r\n" if ctype else b""
    return part(f'form-data; name="{name}"; filename="{filename}"', content, extra)


# ------------------------------------------------------------------ multipart: valid bodies


def test_multipart_fields_and_file():
    data = body(field("title", "hello"), field("tag", "a"), field("tag", "b"),
                filepart("upload", "notes.txt", b"file content", b"text/plain"))
    f = parse_multipart(data, CT)
    assert isinstance(f, FormData)
    assert f.keys() == ["title", "tag", "upload"]
    assert f["title"] == "hello"
    assert f.getlist("tag") == ["a", "b"]
    up = f["upload"]
    assert isinstance(up, UploadFile)
    assert up.filename == "notes.txt"
    assert up.content_type == "text/plain"
    assert up.read() == b"file content"
    assert up.size == 12
    assert isinstance(up.headers, Headers)
    assert up.headers["Content-Disposition"].startswith("form-data")


def test_multipart_binary_content_with_crlf_and_boundary_lookalikes():
    b = BOUNDARY.encode()
    nasty = (bytes(range(256)) + b"\r\n\r\n" + b"--" + b + b"X" + b"\r\n--" + b + b"x\r\n"
             + b"\r\n--" + b[:-1] + b"\r\n" + b"x--" + b + b"--" + b"\r\n\r\n--" + b + b"\t\tZ\r\n"
             + b"\r\n" + b"\r\n-" + b"\r\n--")
    data = body(filepart("bin", "blob.dat", nasty), field("after", "ok"))
    f = parse_multipart(data, CT)
    assert f["bin"].read() == nasty
    assert f["after"] == "ok"


def test_multipart_empty_and_crlf_only_contents():
    data = body(field("empty", b""), field("crlf", b"\r\n"), filepart("f", "e.bin", b""))
    f = parse_multipart(data, CT)
    assert f["empty"] == ""
    assert f["crlf"] == "\r\n"
    assert f["f"].read() == b"" and f["f"].size == 0


def test_multipart_preamble_epilogue_and_padding():
    b = BOUNDARY.encode()
    data = (b"This is the preamble.\r\nIt is ignored.\r\n--" + b + b"  \t\r\n"
            + field("a", "1") + b"\r\n--" + b + b" \r\n" + field("b", "2")
            + b"\r\n--" + b + b"--   trailing epilogue\r\n--" + b + b"\r\nignored")
    f = parse_multipart(data, CT)
    assert f.items() == [("a", "1"), ("b", "2")]


def test_multipart_quoted_and_special_boundaries():
    for boundary in ("simple", "a'()+_,-./:=?z", "with space inside", "x" * 70, "1"):
        ct = f'multipart/form-data; boundary="{boundary}"'
        data = body(field("k", "v"), boundary=boundary)
        assert parse_multipart(data, ct).items() == [("k", "v")], boundary
    # unquoted, with other parameters around it, odd casing
    ct = f"Multipart/Form-Data; charset=utf-8; BOUNDARY={BOUNDARY}; x=y"
    assert parse_multipart(body(field("k", "v")), ct)["k"] == "v"


def test_multipart_unicode_names_and_values():
    data = body(field("naïve", "crème brûlée €"),
                part('form-data; name="file"; filename="résumé 履歴書.pdf"', b"%PDF",
                     b"Content-Type: application/pdf\r\n"))
    f = parse_multipart(data, CT)
    assert f["naïve"] == "crème brûlée €"
    assert f["file"].filename == "résumé 履歴書.pdf"
    assert f["file"].content_type == "application/pdf"


def test_multipart_quoted_name_escapes_and_windows_paths():
    data = body(part('form-data; name="a\\"b"; filename="C:\\Users\\me\\x.txt"', b"1"),
                part('form-data; name=unquoted; filename=plain.txt', b"2"),
                part('form-data; name="semi;colon"', b"3"))
    f = parse_multipart(data, CT)
    assert f['a"b'].filename == "C:\\Users\\me\\x.txt"
    assert f["unquoted"].filename == "plain.txt"
    assert f["semi;colon"] == "3"


def test_multipart_filename_star():
    data = body(
        part("form-data; name=\"a\"; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt", b"1"),
        part("form-data; name=\"b\"; filename*=utf-8'en'%C3%A9t%C3%A9.txt", b"2"),
        part("form-data; name=\"c\"; filename*=ISO-8859-1''caf%E9.txt", b"3"),
        part("form-data; name=\"d\"; filename*=KOI8-R''x.txt; filename=\"fb.txt\"", b"4"),
        part("form-data; name=\"e\"; filename*=nocharset; filename=\"fb2.txt\"", b"5"),
        part("form-data; name=\"f\"; filename*=UTF-8''%ff.txt", b"6"),
    )
    f = parse_multipart(data, CT)
    assert f["a"].filename == "€ rates.txt"          # filename* wins over filename
    assert f["b"].filename == "été.txt"
    assert f["c"].filename == "café.txt"
    assert f["d"].filename == "fb.txt"               # unsupported charset -> fallback
    assert f["e"].filename == "fb2.txt"              # malformed ext-value -> fallback
    assert f["f"].filename == "\ufffd.txt"
    assert [f[k].read() for k in "abcdef"] == [b"1", b"2", b"3", b"4", b"5", b"6"]


def test_multipart_filename_star_without_usable_fallback_is_an_error():
    data = body(part("form-data; name=\"a\"; filename*=nonsense", b"1"))
    with pytest.raises(FormError, match="filename"):
        parse_multipart(data, CT)


def test_multipart_empty_filename_is_still_a_file():
    data = body(filepart("f", "", b"", b"application/octet-stream"))
    up = parse_multipart(data, CT)["f"]
    assert isinstance(up, UploadFile)
    assert up.filename == "" and up.size == 0


def test_multipart_field_charsets():
    data = body(
        field("latin", "café".encode("latin-1"), b"Content-Type: text/plain; charset=ISO-8859-1\r\n"),
        field("utf16", "ok€".encode("utf-16"), b"Content-Type: text/plain; charset=utf-16\r\n"),
        field("unknown", "é".encode(), b"Content-Type: text/plain; charset=x-no-such-codec\r\n"),
        field("nontext", "é".encode(), b"Content-Type: text/plain; charset=zlib_codec\r\n"),
        field("idna", "é".encode(), b"Content-Type: text/plain; charset=idna\r\n"),
        field("bad", b"\xff\xfeok"),
    )
    f = parse_multipart(data, CT)
    assert f["latin"] == "café"
    assert f["utf16"] == "ok€"
    assert f["unknown"] == "é"
    assert f["nontext"] == "é"
    assert f["idna"] == "é"
    assert f["bad"] == "\ufffd\ufffdok"


def test_multipart_file_content_type_default_and_part_headers():
    data = body(filepart("f", "a.bin", b"x", ctype=None),
                part('form-data; name="g"; filename="b.bin"', b"y",
                     b"CONTENT-TYPE: image/png\r\nX-Custom:  spaced value  \r\nX-Folded: one\r\n two\r\n"))
    f = parse_multipart(data, CT)
    assert f["f"].content_type == "text/plain"         # RFC 7578 section 4.4 default
    g = f["g"]
    assert g.content_type == "image/png"
    assert g.headers["x-custom"] == "spaced value"
    assert g.headers["x-folded"] == "one two"


def test_multipart_part_with_no_body_bytes_before_delimiter():
    b = BOUNDARY.encode()
    data = b"--" + b + b"\r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n--" + b + b"--"
    assert parse_multipart(data, CT).items() == [("x", "")]


def test_multipart_empty_bodies():
    assert parse_multipart(b"", CT).items() == []
    assert parse_multipart(f"--{BOUNDARY}--".encode(), CT).items() == []
    assert parse_multipart(f"--{BOUNDARY}--\r\n".encode(), CT).items() == []


def test_multipart_large_file_roundtrip():
    rng = random.Random(5)
    blob = rng.randbytes(1 << 20)
    f = parse_multipart(body(filepart("big", "big.bin", blob), field("n", "1")), CT)
    assert f["big"].read() == blob
    assert f["n"] == "1"


def _delimits_early(content, b):
    """Would `content` be cut short? True when CRLF--boundary followed by '--' or by
    optional SP/HTAB + CRLF (RFC 2046 delimiter) occurs before the real one."""
    framed = content + b"\r\n--" + b + b"\r\n"
    m = re.search(rb"\r\n--" + re.escape(b) + rb"(--|[ \t]*\r\n)", framed)
    return m.start() != len(content)


def test_multipart_random_roundtrip():
    rng = random.Random(2024)
    b = BOUNDARY.encode()
    chunks = [b"\r\n", b"--", b, b"--" + b, b"\r\n--" + b[:10], b"\x00", b"abc", b"\xff\xfe", b" ", b"\t"]
    skipped = 0
    for _ in range(300):
        expected = []
        parts = []
        for i in range(rng.randrange(0, 6)):
            content = b"".join(rng.choice(chunks) for _ in range(rng.randrange(0, 8)))
            if _delimits_early(content, b):
                skipped += 1
                continue  # not representable: the content contains a real delimiter
            parts.append(filepart(f"f{i}", f"n{i}", content))
            expected.append((f"f{i}", content))
        f = parse_multipart(body(*parts), CT)
        assert [(k, v.read()) for k, v in f.items()] == expected
    assert 0 < skipped < 300


# ------------------------------------------------------------------ multipart: limits


def test_multipart_part_count_limit():
    many = body(*[field(f"f{i}", str(i)) for i in range(1000)])
    f = parse_multipart(many, CT)
    assert len(f) == 1000 and f["f999"] == "999"
    with pytest.raises(FormError, match="more than 1000 parts"):
        parse_multipart(body(*[field(f"f{i}", str(i)) for i in range(1001)]), CT)
    with pytest.raises(FormError, match="more than 3 parts"):
        parse_multipart(body(*[field("x", "y")] * 4), CT, max_parts=3)
    assert len(parse_multipart(body(*[field("x", "y")] * 3), CT, max_parts=3).getlist("x")) == 3
    with pytest.raises(FormError):
        parse_multipart(body(field("x", "y")), CT, max_parts=0)


def test_multipart_header_size_limit():
    big = field("x", "y", b"X-Big: " + b"a" * 20000 + b"\r\n")
    with pytest.raises(FormError, match="exceed 16384 bytes"):
        parse_multipart(body(big), CT)
    assert parse_multipart(body(big), CT, max_header_bytes=30000)["x"] == "y"
    small = field("x", "y")
    header_len = small.index(b"\r\n\r\n")
    assert parse_multipart(body(small), CT, max_header_bytes=header_len)["x"] == "y"
    with pytest.raises(FormError, match="exceed"):
        parse_multipart(body(small), CT, max_header_bytes=header_len - 1)


# ------------------------------------------------------------------ multipart: malformed


@pytest.mark.parametrize("ct, msg", [
    ("multipart/form-data", "no boundary"),
    ("multipart/form-data; boundary=", "no boundary"),
    ('multipart/form-data; boundary=""', "no boundary"),
    ("multipart/form-data; boundary=" + "x" * 71, "invalid multipart boundary"),
    ('multipart/form-data; boundary="trailing "', "invalid multipart boundary"),
    ("multipart/form-data; boundary=bad\x00char", "invalid multipart boundary"),
    ('multipart/form-data; boundary="br{ace}"', "invalid multipart boundary"),
    ("multipart/form-data; boundary=caf\u00e9", "invalid multipart boundary"),
    ("multipart/mixed; boundary=abc", "expected multipart/form-data"),
    ("text/plain", "expected multipart/form-data"),
    ("", "expected multipart/form-data"),
])
def test_multipart_bad_content_type(ct, msg):
    with pytest.raises(FormError, match=msg):
        parse_multipart(body(field("a", "1")), ct)


def test_multipart_type_errors():
    with pytest.raises(TypeError):
        parse_multipart(None, CT)
    with pytest.raises(TypeError):
        parse_multipart("str body", CT)
    with pytest.raises(FormError):
        parse_multipart(b"x", None)


B = BOUNDARY.encode()


@pytest.mark.parametrize("data, msg", [
    (b"no boundary here at all", "no opening boundary"),
    (b"--" + B + b"X\r\n" + field("a", "1") + b"\r\n--" + B + b"X--", "no opening boundary"),
    (b"--" + B + b"\r\n" + field("a", "1"), "missing its closing boundary"),
    (b"--" + B + b"\r\n" + field("a", "1") + b"\r\n--" + B, "missing its closing boundary"),
    (b"--" + B + b"\r\n" + field("a", "1") + b"\r\n--" + B + b"-", "missing its closing boundary"),
    (b"--" + B + b"\r\n" + field("a", "1") + b"--" + B + b"--", "missing its closing boundary"),
    (b"--" + B + b"\r\n", "not terminated"),
    (b"--" + B + b"\r\nContent-Disposition: form-data; name=a\r\n", "not terminated"),
    (b"--" + B + b"\r\nContent-Disposition: form-data; name=a\r\n\r", "not terminated"),
    (b"--" + B + b"\r\n\r\nno headers\r\n--" + B + b"--", "no Content-Disposition"),
    (body(part("attachment; name=\"a\"", b"1")), "expected 'form-data'"),
    (body(part("form-data; filename=\"a.txt\"", b"1")), "no name"),
    (body(b"X-Other: 1\r\n\r\nv"), "no Content-Disposition"),
    (body(b"no colon line\r\n\r\nv"), "malformed multipart part header"),
    (body(b": empty name\r\n\r\nv"), "malformed multipart part header"),
    (body(b" folded first\r\n\r\nv"), "continuation"),
    (body(b"Content-Disposition: form-data;\n name=a\r\n\r\nv"), "bare CR or LF"),
    (body(b"Content-Disposition: form-data; name=a\rX: y\r\n\r\nv"), "bare CR or LF"),
])
def test_multipart_malformed(data, msg):
    with pytest.raises(FormError, match=msg):
        parse_multipart(data, CT)


def test_multipart_lf_only_line_endings_rejected():
    data = body(field("a", "1")).replace(b"\r\n", b"\n")
    with pytest.raises(FormError):
        parse_multipart(data, CT)


# ------------------------------------------------------------------ parse_form


def test_parse_form_dispatch():
    f = parse_form(b"a=1&b=%C3%A9", "application/x-www-form-urlencoded; charset=UTF-8")
    assert isinstance(f, FormData) and f.items() == [("a", "1"), ("b", "é")]
    f = parse_form(b"a=1", "  Application/X-WWW-Form-URLEncoded ")
    assert f["a"] == "1"
    f = parse_form(body(field("x", "y")), CT)
    assert f.items() == [("x", "y")]
    f = parse_form(body(field("x", "y")), CT, max_parts=1)
    assert f["x"] == "y"
    with pytest.raises(FormError, match="more than 0 parts"):
        parse_form(body(field("x", "y")), CT, max_parts=0)
    with pytest.raises(FormError, match="exceed 4 bytes"):
        parse_form(body(field("x", "y")), CT, max_header_bytes=4)


@pytest.mark.parametrize("ct", ["application/json", "text/plain", "", None, "multipart/mixed; boundary=x",
                                "application/x-www-form-urlencodedX"])
def test_parse_form_unsupported(ct):
    with pytest.raises(FormError, match="unsupported form content type"):
        parse_form(b"a=1", ct)


def test_parse_form_type_errors():
    with pytest.raises(TypeError):
        parse_form(None, "application/x-www-form-urlencoded")
    with pytest.raises(TypeError):
        parse_form(b"a=1", b"application/x-www-form-urlencoded")


# ------------------------------------------------------------------ fuzzing (seeded, bounded)


def _only_value_errors(fn, *args, **kw):
    """Run fn; FormError (a ValueError) means "rejected" -> None; anything else propagates
    and fails the test."""
    try:
        return fn(*args, **kw)
    except FormError:
        return None


def test_fuzz_random_bytes():
    rng = random.Random(0xCA7)
    for _ in range(3000):
        data = rng.randbytes(rng.randrange(0, 200))
        _only_value_errors(parse_multipart, data, CT)
        _only_value_errors(parse_form, data, CT)
        assert isinstance(parse_urlencoded(data), FormData)
        assert isinstance(parse_query(data), QueryParams)
        assert isinstance(unquote_path(data), str)
        text = data.decode("latin-1")
        assert isinstance(parse_cookies(text), dict)
        assert isinstance(parse_query(text), QueryParams)
        mt, params = parse_options_header(text)
        assert isinstance(mt, str) and isinstance(params, dict)
        _only_value_errors(parse_multipart, body(field("a", "1")), "multipart/form-data; boundary=" + text)
        _only_value_errors(parse_form, data, text)


def test_fuzz_mutated_multipart():
    rng = random.Random(0xF00D)
    seed = body(field("title", "hello"), filepart("f", "a.bin", b"\r\n--" + B[:5] + b"\x00\xff"),
                part("form-data; name=\"g\"; filename*=UTF-8''%E2%82%AC", b"x",
                     b"Content-Type: text/plain; charset=latin-1\r\n"),
                preamble=b"pre\r\n")
    tokens = [b"\r\n", b"--", B, b"\r\n\r\n", b";", b'"', b"=", b"\\", b" ", b"%", b"*", b"'",
              b"Content-Disposition: form-data; name=x", b"filename*=", b"\xff"]
    parsed_ok = 0
    for _ in range(4000):
        data = bytearray(seed)
        for _ in range(rng.randrange(1, 5)):
            op = rng.randrange(4)
            pos = rng.randrange(0, len(data) + 1)
            if op == 0 and data:
                del data[pos:pos + rng.randrange(1, 8)]
            elif op == 1:
                data[pos:pos] = rng.choice(tokens)
            elif op == 2 and pos < len(data):
                data[pos] = rng.randrange(256)
            else:
                data = data[:pos]
        result = _only_value_errors(parse_multipart, bytes(data), CT, max_parts=50, max_header_bytes=256)
        if result is not None:
            parsed_ok += 1
            for k, v in result.items():
                assert isinstance(k, str) and isinstance(v, (str, UploadFile))
    # the mutations must leave a healthy share of bodies parseable, or the fuzz tests nothing
    assert 200 < parsed_ok < 3900
