"""Tests of the C HTTP/1.1 request parser and chunked decoder (include/cz_http.c)
through the thin catzilla._core.httpparser wrapper."""
import string

import pytest

from catzilla._core.httpparser import ChunkedDecoder, ParseError, parse_request

# --------------------------------------------------------------------------
# helpers

TCHAR = set(b"!#$%&'*+-.^_`|~" + string.digits.encode() + string.ascii_letters.encode())
FIELD_VCHAR = {9} | set(range(0x20, 0x7F)) | set(range(0x80, 0x100))  # HTAB SP VCHAR obs-text


def outcome(data, **limits):
    """('ok', dict) | ('incomplete',) | ('error', status, reason)."""
    try:
        r = parse_request(data, **limits)
    except ParseError as e:
        return ("error", e.status, e.reason)
    return ("incomplete",) if r is None else ("ok", r)


def parse_ok(data, **limits):
    r = parse_request(data, **limits)
    assert r is not None, "incomplete"
    return r


def parse_err(data, **limits):
    with pytest.raises(ParseError) as ei:
        parse_request(data, **limits)
    return ei.value.status, ei.value.reason


def check_prefixes(data, **limits):
    """Every prefix of data must give CZ_INCOMPLETE or exactly the result of
    the whole input; once a prefix gives a result, every longer one gives the
    same. Returns the whole input's outcome and the shortest deciding prefix."""
    whole = outcome(data, **limits)
    decided_at = None
    for k in range(len(data) + 1):
        got = outcome(data[:k], **limits)
        if got == ("incomplete",):
            assert decided_at is None, f"prefix {k} incomplete after a result at {decided_at}"
            continue
        if whole[0] == "ok":
            assert got == whole, f"prefix {k}: {got!r} != {whole!r}"
        else:
            assert got == whole, f"prefix {k}: {got!r} != whole {whole!r}"
        if decided_at is None:
            decided_at = k
    return whole, decided_at


def check_error(data, status, reason=None, **limits):
    """data is rejected with status (and reason); every prefix agrees."""
    whole, decided_at = check_prefixes(data, **limits)
    assert whole[0] == "error", f"accepted: {whole!r}"
    assert whole[1] == status, whole
    if reason is not None:
        assert whole[2] == reason, whole
    return decided_at


def req(*header_lines, line=b"GET / HTTP/1.1", host=True, body=b""):
    lines = [line]
    if host:
        lines.append(b"Host: example.com")
    lines.extend(header_lines)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


TYPICAL_GET = (
    b"GET /api/users/42?fields=name,email HTTP/1.1\r\n"
    b"Host: api.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: application/json\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=abc123; theme=dark\r\n"
    b"\r\n"
)

POST_CL = (
    b"POST /submit HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 11\r\n"
    b"\r\n"
    b"a=1&b=2&c=3"
)

POST_CHUNKED = (
    b"POST /upload HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Expect: 100-continue\r\n"
    b"\r\n"
    b"5\r\nhello\r\n0\r\n\r\n"
)

# --------------------------------------------------------------------------
# valid requests


def test_typical_get():
    r = parse_ok(TYPICAL_GET)
    assert r["method"] == b"GET"
    assert r["target"] == b"/api/users/42?fields=name,email"
    assert r["version"] == 1
    assert r["head_length"] == len(TYPICAL_GET)
    assert r["headers"] == [
        (b"Host", b"api.example.com"),
        (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"),
        (b"Accept", b"application/json"),
        (b"Accept-Encoding", b"gzip, deflate, br"),
        (b"Connection", b"keep-alive"),
        (b"Cookie", b"session=abc123; theme=dark"),
    ]
    assert r["content_length"] == -1
    assert r["keep_alive"] and r["has_host"]
    assert not (r["chunked"] or r["conn_close"] or r["expect_continue"] or r["upgrade"])


def test_post_with_content_length_stops_at_head():
    r = parse_ok(POST_CL)
    assert r["method"] == b"POST"
    assert r["content_length"] == 11
    assert r["head_length"] == len(POST_CL) - 11
    assert POST_CL[r["head_length"]:] == b"a=1&b=2&c=3"
    assert not r["chunked"]


def test_post_chunked_and_expect():
    r = parse_ok(POST_CHUNKED)
    assert r["chunked"] and r["expect_continue"]
    assert r["content_length"] == -1
    assert POST_CHUNKED[r["head_length"]:] == b"5\r\nhello\r\n0\r\n\r\n"


def test_many_headers_in_order():
    lines = [b"X-H%d: value-%d" % (i, i) for i in range(99)]
    r = parse_ok(req(*lines))
    assert len(r["headers"]) == 100
    assert r["headers"][0] == (b"Host", b"example.com")
    assert r["headers"][1:] == [(b"X-H%d" % i, b"value-%d" % i) for i in range(99)]


@pytest.mark.parametrize("target", [
    b"http://example.com/a/b?c=d#frag",
    b"https://user@example.com:8443/",
    b"*",
    b"/%7Euser/~x;p=1?q=[1]&r=!$'()*+,",
])
def test_target_forms(target):
    r = parse_ok(req(line=b"OPTIONS " + target + b" HTTP/1.1"))
    assert r["method"] == b"OPTIONS"
    assert r["target"] == target


def test_obs_text_and_tabs_in_values():
    value = bytes(range(0x80, 0x100)) + b"\tcaf\xc3\xa9 \x21\x7e"
    r = parse_ok(req(b"X-Bin: " + value))
    assert r["headers"][1] == (b"X-Bin", value)


@pytest.mark.parametrize("raw,expected", [
    (b"X: \t value with  inner  spaces \t ", b"value with  inner  spaces"),
    (b"X:value", b"value"),
    (b"X:", b""),
    (b"X:   \t  ", b""),
    (b"X: a\tb", b"a\tb"),
])
def test_ows_trimmed(raw, expected):
    r = parse_ok(req(raw))
    assert r["headers"][1] == (b"X", expected)


def test_http10_without_host():
    r = parse_ok(b"GET /old HTTP/1.0\r\nUser-Agent: x\r\n\r\n")
    assert r["version"] == 0
    assert not r["has_host"]
    assert r["headers"] == [(b"User-Agent", b"x")]


def test_http10_with_content_length():
    r = parse_ok(b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
    assert r["version"] == 0 and r["content_length"] == 3


def test_header_names_case_insensitive():
    r = parse_ok(b"POST / HTTP/1.1\r\nhOsT: h\r\ncOnTeNt-LeNgTh: 5\r\nCONNECTION: CLOSE\r\n"
                 b"EXPECT: 100-CONTINUE\r\n\r\n")
    assert r["has_host"] and r["content_length"] == 5
    assert r["conn_close"] and r["expect_continue"]
    r = parse_ok(b"POST / HTTP/1.1\r\nHost: h\r\nTRANSFER-encoding: ChUnKeD\r\n\r\n")
    assert r["chunked"]


@pytest.mark.parametrize("name", [
    b"Content_Length", b"Content-Lengths", b"XContent-Length", b"Content-Lengt", b"Transfer-Encodings",
    b"Transfer_Encoding", b"Content-Length-X",
])
def test_lookalike_names_have_no_meaning(name):
    r = parse_ok(req(name + b": 1 2 gzip"))
    assert r["content_length"] == -1 and not r["chunked"]
    assert r["headers"][1] == (name, b"1 2 gzip")


@pytest.mark.parametrize("name", [b"Hostx", b"Hos", b"XHost", b"H-st", b"Ho_t"])
def test_lookalike_host_is_not_host(name):
    check_error(req(name + b": a", host=False), 400, "missing host")


@pytest.mark.parametrize("name", [b"host", b"HOST", b"hOsT", b"Host"])
def test_host_any_case(name):
    assert parse_ok(req(name + b": a", host=False))["has_host"]


@pytest.mark.parametrize("value,close,keep_alive,upgrade", [
    (b"close", True, False, False),
    (b"Keep-Alive", False, True, False),
    (b"Upgrade", False, False, True),
    (b"keep-alive, Upgrade", False, True, True),
    (b" , close ,, ", True, False, False),
    (b"foo, bar", False, False, False),
    (b"closed, keep-aliveX, xupgrade", False, False, False),
    (b"", False, False, False),
    (b"upgrade,close\t", True, False, True),
])
def test_connection_tokens(value, close, keep_alive, upgrade):
    r = parse_ok(req(b"Connection: " + value))
    assert (r["conn_close"], r["keep_alive"], r["upgrade"]) == (close, keep_alive, upgrade)


def test_connection_fields_combine():
    r = parse_ok(req(b"Connection: Upgrade", b"Upgrade: websocket", b"Connection: close"))
    assert r["upgrade"] and r["conn_close"] and not r["keep_alive"]


@pytest.mark.parametrize("value,flag", [
    (b"100-continue", True),
    (b"100-Continue  ", True),
    (b"100-continue, foo", False),
    (b"200-ok", False),
    (b"", False),
])
def test_expect(value, flag):
    assert parse_ok(req(b"Expect: " + value))["expect_continue"] is flag


@pytest.mark.parametrize("value,expected", [
    (b"0", 0),
    (b"007", 7),
    (b"  42  ", 42),
    (b"9223372036854775807", 2**63 - 1),
])
def test_content_length_values(value, expected):
    assert parse_ok(req(b"Content-Length: " + value))["content_length"] == expected


def test_transfer_encoding_with_ows():
    assert parse_ok(req(b"Transfer-Encoding: \t chunked \t "))["chunked"]


@pytest.mark.parametrize("host", [b"", b"example.com:8080", b"[::1]:80", b"10.0.0.1", b"xn--bcher-kva.example"])
def test_host_values(host):
    r = parse_ok(req(b"Host: " + host, host=False))
    assert r["has_host"] and r["headers"] == [(b"Host", host)]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_leading_empty_lines_tolerated(n):
    data = b"\r\n" * n + TYPICAL_GET
    r = parse_ok(data)
    assert r["head_length"] == len(data)
    assert r["method"] == b"GET"


def test_pipelined_requests():
    second = b"GET /two HTTP/1.1\r\nHost: b\r\n\r\n"
    data = TYPICAL_GET + second + b"GET /thr"
    r1 = parse_ok(data)
    assert r1["head_length"] == len(TYPICAL_GET)
    assert r1["target"] == b"/api/users/42?fields=name,email"
    rest = data[r1["head_length"]:]
    r2 = parse_ok(rest)
    assert r2["target"] == b"/two" and r2["head_length"] == len(second)
    assert parse_request(rest[r2["head_length"]:]) is None


def test_long_values_cross_simd_blocks():
    # values of every length up to 70 exercise the 16/8-byte blocks and tails
    for n in range(70):
        value = bytes(0x21 + (i * 7) % 94 for i in range(n))
        r = parse_ok(req(b"X-Long: " + value, b"Y: z"))
        assert r["headers"][1] == (b"X-Long", value)
        assert r["headers"][2] == (b"Y", b"z")
        r = parse_ok(req(line=b"GET /" + value + b" HTTP/1.1"))
        assert r["target"] == b"/" + value


# --------------------------------------------------------------------------
# byte classes: every byte value in every position class


@pytest.mark.parametrize("offset", [0, 1, 7, 8, 15, 16, 17, 31, 40])
def test_every_byte_in_value(offset):
    for b in range(256):
        value = b"v" * offset + bytes([b]) + b"w" * 20
        data = req(b"X: " + value)
        got = outcome(data)
        if b in FIELD_VCHAR:
            assert got[0] == "ok", (b, got)
            assert got[1]["headers"][1] == (b"X", value.strip(b" \t"))
        else:
            assert got[0] == "error" and got[1] == 400, (b, got)


def test_every_byte_in_name():
    for b in range(256):
        data = req(b"X-A" + bytes([b]) + b"b: v")
        got = outcome(data)
        if b in TCHAR:
            assert got[0] == "ok" and got[1]["headers"][1] == (b"X-A" + bytes([b]) + b"b", b"v"), b
        elif b == ord(":"):
            assert got[0] == "ok" and got[1]["headers"][1] == (b"X-A", b"b: v"), b
        else:
            assert got[0] == "error" and got[1] == 400, (b, got)


@pytest.mark.parametrize("offset", [0, 3, 8, 15, 16, 17, 33])
def test_every_byte_in_target(offset):
    for b in range(256):
        target = b"/" + b"t" * offset + bytes([b]) + b"u" * 20
        got = outcome(req(line=b"GET " + target + b" HTTP/1.1"))
        if 0x21 <= b <= 0x7E:
            assert got[0] == "ok" and got[1]["target"] == target, b
        else:
            assert got[0] == "error" and got[1] == 400, (b, got)


def test_every_byte_in_method():
    for b in range(256):
        method = b"GE" + bytes([b]) + b"T"
        got = outcome(req(line=method + b" / HTTP/1.1"))
        if b in TCHAR:
            assert got[0] == "ok" and got[1]["method"] == method, b
        else:
            assert got[0] == "error" and got[1] == 400, (b, got)


def test_every_byte_in_host():
    allowed = set((string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:[]").encode())
    for b in range(256):
        got = outcome(req(b"Host: a" + bytes([b]) + b"b", host=False))
        if b in allowed:
            assert got[0] == "ok", b
        else:
            assert got[0] == "error" and got[1] == 400, (b, got)


# --------------------------------------------------------------------------
# incremental parsing


@pytest.mark.parametrize("data", [
    TYPICAL_GET,
    POST_CL,
    POST_CHUNKED,
    b"\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    b"GET http://x/ HTTP/1.1\r\nHost: x\r\nX: \xff\xfe \t\r\nConnection: close, upgrade\r\n\r\n",
    req(b"Content-Length: 000123  ", b"Expect: 100-continue", b"Connection: keep-alive"),
])
def test_every_split_of_valid_requests(data):
    whole, decided_at = check_prefixes(data)
    assert whole[0] == "ok"
    assert decided_at == whole[1]["head_length"]


def test_pipelined_prefixes():
    data = TYPICAL_GET + b"GET /next HTTP/1.1\r\nHost: y\r\n\r\n"
    whole, decided_at = check_prefixes(data)
    assert decided_at == len(TYPICAL_GET)
    assert whole[1]["head_length"] == len(TYPICAL_GET)


def test_incomplete_shapes():
    for data in [b"", b"G", b"GET", b"GET ", b"GET /", b"GET / ", b"GET / HTTP/1.", b"GET / HTTP/1.1",
                 b"GET / HTTP/1.1\r", b"GET / HTTP/1.1\r\n", b"GET / HTTP/1.1\r\nHost",
                 b"GET / HTTP/1.1\r\nHost:", b"GET / HTTP/1.1\r\nHost: x", b"GET / HTTP/1.1\r\nHost: x\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\n\r", b"\r\n", b"\r", b"\r\n\r\n\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 12",
                 b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunk",
                 b"GET / HTTP/1.1\r\nHost: x\r\nConnection: clo"]:
        assert parse_request(data) is None, data


# --------------------------------------------------------------------------
# malformed request lines


@pytest.mark.parametrize("data,reason", [
    (b"\n" + TYPICAL_GET, "bare LF"),
    (b"GET / HTTP/1.1\nHost: x\r\n\r\n", "bare LF"),
    (b"GET / HTTP/1.1\r\nHost: x\n\r\n", "bare LF"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\n", "bare LF"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n", "bare LF"),
    (b"GET / HTTP/1.1\r\nX\n: a\r\n\r\n", "bare LF"),
    (b"GET\n", "bare LF"),
    (b"GET /\n", "bare LF"),
    (b"GET / HTTP/1\n", "bare LF"),
    (b"\r\n\n", "bare LF"),
])
def test_bare_lf(data, reason):
    check_error(data, 400, reason)


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\rHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\rX",
    b"\rGET / HTTP/1.1\r\n",
])
def test_bare_cr(data):
    check_error(data, 400, "bare CR")


@pytest.mark.parametrize("line,reason", [
    (b"G(ET / HTTP/1.1", "invalid method"),
    (b"GET\x00 / HTTP/1.1", "invalid method"),
    (b" GET / HTTP/1.1", "invalid method"),
    (b"GET\t/ HTTP/1.1", "invalid method"),
    (b"G\xc3\x89T / HTTP/1.1", "invalid method"),
    (b"GET  / HTTP/1.1", "invalid request-target"),
    (b"GET /a\x00b HTTP/1.1", "invalid request-target"),
    (b"GET /a\x7fb HTTP/1.1", "invalid request-target"),
    (b"GET /caf\xc3\xa9 HTTP/1.1", "invalid request-target"),
    (b"GET /a\tb HTTP/1.1", "invalid request-target"),
    (b"GET / HTTP/1.1 ", "invalid HTTP version"),
    (b"GET /  HTTP/1.1", "invalid HTTP version"),
    (b"GET / http/1.1", "invalid HTTP version"),
    (b"GET / HTTP/1.1x", "invalid HTTP version"),
    (b"GET / HTTP/1", "invalid HTTP version"),
    (b"GET / HTTP/11.1", "invalid HTTP version"),
    (b"GET / HTTP/1.10", "invalid HTTP version"),
    (b"GET / HTTP/a.b", "invalid HTTP version"),
    (b"GET / HTTP/2.0x", "invalid HTTP version"),
    (b"GET / HTTPS/1.1", "invalid HTTP version"),
    (b"GET /", "invalid request-target"),
    (b"GET", "invalid method"),
    (b"", "invalid method"),
])
def test_bad_request_line(line, reason):
    check_error(line + b"\r\nHost: x\r\n\r\n", 400, reason)


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.2", b"HTTP/3.0", b"HTTP/9.9"])
def test_unsupported_version_505(version):
    decided = check_error(b"GET / " + version + b"\r\nHost: x\r\n\r\n", 505)
    # decided once the CR after the version is seen
    assert decided == len(b"GET / " + version + b"\r")


def test_too_many_leading_empty_lines():
    check_error(b"\r\n" * 5 + TYPICAL_GET, 400, "too many empty lines before request")


# --------------------------------------------------------------------------
# malformed header sections


@pytest.mark.parametrize("lines,reason", [
    ((b"X: a", b" continued"), "obsolete line folding"),
    ((b"X: a", b"\tcontinued"), "obsolete line folding"),
    ((b"Host : x",), "whitespace before colon"),
    ((b"Host\t: x",), "whitespace before colon"),
    ((b"X\x00Y: v",), "invalid header name"),
    ((b"X\x01: v",), "invalid header name"),
    ((b"X\xc3\xa9: v",), "invalid header name"),
    ((b"X(: v",), "invalid header name"),
    ((b"X-Header",), "invalid header name"),
    ((b": v",), "empty header name"),
    ((b"X: a\x00b",), "invalid header value"),
    ((b"X: a\x7fb",), "invalid header value"),
    ((b"X: a\x1bb",), "invalid header value"),
    ((b"X: a\x0bb",), "invalid header value"),
    ((b"X: " + b"v" * 40 + b"\x00",), "invalid header value"),
])
def test_bad_header_lines(lines, reason):
    check_error(req(*lines), 400, reason)


def test_whitespace_before_first_header():
    check_error(b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, "whitespace before first header")


# --------------------------------------------------------------------------
# limits


def test_request_line_limit_boundary():
    line = b"GET /" + b"a" * 27 + b" HTTP/1.1"  # 41 bytes
    data = line + b"\r\nHost: x\r\n\r\n"
    assert parse_ok(data, max_request_line=len(line))["target"] == b"/" + b"a" * 27
    check_error(data, 414, "request line too long", max_request_line=len(line) - 1)
    # with leading empty lines, only the request line itself counts
    assert parse_ok(b"\r\n\r\n" + data, max_request_line=len(line))


def test_414_on_incomplete_input():
    assert parse_request(b"GET /" + b"a" * 8000) is None
    with pytest.raises(ParseError) as ei:
        parse_request(b"GET /" + b"a" * 9000)
    assert ei.value.status == 414
    # the limit is hit inside the method and inside the version too
    assert parse_err(b"X" * 20, max_request_line=16)[0] == 414
    assert parse_err(b"GET / HTTP/", max_request_line=8)[0] == 414
    # a request line of exactly the limit waits for its CRLF
    assert parse_request(b"GET / HTTP/1.1", max_request_line=14) is None
    check_error(b"GET /" + b"a" * 100, 414, max_request_line=50)


def test_head_size_limit_boundary():
    n = len(TYPICAL_GET)
    assert parse_ok(TYPICAL_GET, max_head_bytes=n)["head_length"] == n
    check_error(TYPICAL_GET, 431, "request head too large", max_head_bytes=n - 1)
    # partial input already as long as the limit cannot become a valid head
    assert parse_err(TYPICAL_GET[:n - 1], max_head_bytes=n - 1)[0] == 431
    assert parse_request(TYPICAL_GET[:n - 2], max_head_bytes=n - 1) is None


def test_431_on_incomplete_input():
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000
    assert parse_err(data)[0] == 431
    assert parse_request(data[:60000]) is None
    check_error(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 20, 431, max_head_bytes=64)


def test_header_count_limit():
    three = req(b"A: 1", b"B: 2")  # Host + 2 = 3 fields
    assert len(parse_ok(three, max_headers=3)["headers"]) == 3
    check_error(three, 431, "too many headers", max_headers=2)
    # decided at the first byte of the field that does not fit
    assert parse_err(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB", max_headers=2) == (431, "too many headers")
    assert parse_request(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\n", max_headers=2) is None


def test_huge_limits():
    big = 2**64 - 1
    r = parse_ok(TYPICAL_GET, max_request_line=big, max_head_bytes=big)
    assert r["head_length"] == len(TYPICAL_GET)
    assert parse_request(TYPICAL_GET[:-1], max_request_line=big, max_head_bytes=big) is None


def test_parse_error_type():
    with pytest.raises(ValueError) as ei:
        parse_request(b"GET / HTTP/1.1\r\n\r\n")
    e = ei.value
    assert isinstance(e, ParseError)
    assert (e.status, e.reason) == (400, "missing host")
    assert str(e) == "400 missing host"


def test_zero_limits():
    assert parse_err(TYPICAL_GET, max_head_bytes=0)[0] == 431
    assert parse_err(TYPICAL_GET, max_request_line=0)[0] == 414
    assert parse_ok(b"GET / HTTP/1.0\r\n\r\n", max_headers=0)["headers"] == []
    assert parse_err(b"GET / HTTP/1.0\r\nA: b\r\n\r\n", max_headers=0)[0] == 431


# --------------------------------------------------------------------------
# framing: Content-Length / Transfer-Encoding (request smuggling shapes)


@pytest.mark.parametrize("lines,reason", [
    ((b"Content-Length: 5", b"Transfer-Encoding: chunked"), "content-length with transfer-encoding"),
    ((b"Transfer-Encoding: chunked", b"Content-Length: 5"), "content-length with transfer-encoding"),
    ((b"Content-Length: 5", b"Content-Length: 6"), "duplicate content-length"),
    ((b"Content-Length: 5", b"Content-Length: 5"), "duplicate content-length"),
    ((b"Content-Length: +5",), "invalid content-length"),
    ((b"Content-Length: -5",), "invalid content-length"),
    ((b"Content-Length: 1 2",), "invalid content-length"),
    ((b"Content-Length: 5, 5",), "invalid content-length"),
    ((b"Content-Length: 5,5",), "invalid content-length"),
    ((b"Content-Length: ",), "invalid content-length"),
    ((b"Content-Length: 0x5",), "invalid content-length"),
    ((b"Content-Length: 5\x00",), "invalid header value"),
    ((b"Content-Length: 5a",), "invalid content-length"),
    ((b"Content-Length: 9223372036854775808",), "content-length overflow"),
    ((b"Content-Length: 99999999999999999999999",), "content-length overflow"),
    ((b"Transfer-Encoding: gzip",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: chunked, gzip",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: gzip, chunked",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: chunkedx",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: chunk",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: identity",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: chunked;q=1",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: ",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: \"chunked\"",), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"), "duplicate transfer-encoding"),
    ((b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"), "unsupported transfer-encoding"),
    ((b"Transfer-Encoding\t: chunked",), "whitespace before colon"),
    ((b"Transfer-Encoding:\x0bchunked",), "invalid header value"),
])
def test_framing_errors(lines, reason):
    check_error(req(*lines, line=b"POST / HTTP/1.1"), 400, reason)


def test_transfer_encoding_on_http10():
    check_error(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "transfer-encoding on HTTP/1.0")
    check_error(b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
                "transfer-encoding on HTTP/1.0")


def test_framing_errors_reported_early():
    # bad values are rejected before the line is complete
    assert parse_err(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x") == (400, "invalid content-length")
    assert parse_err(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gz") == (
        400, "unsupported transfer-encoding")
    assert parse_err(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length:") == (
        400, "duplicate content-length")
    assert parse_err(b"GET / HTTP/1.1\r\nHost: a\r\nHost:") == (400, "duplicate host")


# --------------------------------------------------------------------------
# Host


def test_missing_host_http11():
    check_error(b"GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, "missing host")
    check_error(b"GET http://example.com/ HTTP/1.1\r\n\r\n", 400, "missing host")


@pytest.mark.parametrize("line", [b"GET / HTTP/1.1", b"GET / HTTP/1.0"])
def test_duplicate_host(line):
    check_error(line + b"\r\nHost: a\r\nX: y\r\nhost: a\r\n\r\n", 400, "duplicate host")


@pytest.mark.parametrize("host", [b"a b", b"a/b", b"user@example.com", b"ex\xc3\xa4mple.com", b"a?b", b"a#b"])
def test_invalid_host(host):
    check_error(req(b"Host: " + host, host=False), 400, "invalid host")


@pytest.mark.parametrize("value", [b"close x", b"close;x", b"clo\"se", b"keep-alive close"])
def test_invalid_connection(value):
    check_error(req(b"Connection: " + value), 400, "invalid connection header")


# --------------------------------------------------------------------------
# chunked decoder


def decode_all(data, **kw):
    d = ChunkedDecoder(**kw)
    out, done, rest = d.feed(data)
    return out, done, rest


def decode_bytewise(data, **kw):
    d = ChunkedDecoder(**kw)
    out = bytearray()
    for i in range(len(data)):
        got, done, rest = d.feed(data[i:i + 1])
        out += got
        if done:
            return bytes(out), True, rest + data[i + 1:]
        assert rest == b""
    return bytes(out), False, b""


def error_offset(data, **kw):
    """Feed one byte at a time; the index of the byte that raised the error."""
    d = ChunkedDecoder(**kw)
    for i in range(len(data)):
        try:
            _, done, _ = d.feed(data[i:i + 1])
        except ParseError as e:
            assert e.status == 400
            # the whole input fails too, and the error is sticky
            with pytest.raises(ParseError):
                ChunkedDecoder(**kw).feed(data)
            with pytest.raises(ParseError):
                d.feed(b"0\r\n\r\n")
            return i
        assert not done, "completed without error"
    raise AssertionError("no error")


CHUNKED_BODIES = [
    (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
    (b"0\r\n\r\n", b""),
    (b"a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", b"0123456789abcdefghij"),
    (b"0000000000000003\r\nabc\r\n0\r\n\r\n", b"abc"),
    (b"3;name\r\nabc\r\n0\r\n\r\n", b"abc"),
    (b"3;name=value;other=\"quo\\\"ted; \\\\ \xff\"\r\nabc\r\n0;last\r\n\r\n", b"abc"),
    (b"3 ; a = b\t;\tc ; d=\"x\"\r\nabc\r\n0\r\n\r\n", b"abc"),
    (b"3\r\nabc\r\n0\r\nX-Trailer: v\r\nY: w \t \xff\r\nZ:\r\n\r\n", b"abc"),
    (b"1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", b"\r\n"),
]


@pytest.mark.parametrize("body,payload", CHUNKED_BODIES)
def test_chunked_valid(body, payload):
    assert decode_all(body) == (payload, True, b"")
    assert decode_bytewise(body) == (payload, True, b"")
    for k in range(len(body) + 1):  # every split in two pieces
        d = ChunkedDecoder()
        out1, done1, _ = d.feed(body[:k])
        assert not done1 or k == len(body)
        out2, done2, rest = d.feed(body[k:])
        assert (out1 + out2, done2, rest) == (payload, True, b""), k


def test_chunked_leftover_returned():
    body = b"4\r\nwiki\r\n0\r\n\r\n"
    nxt = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert decode_all(body + nxt) == (b"wiki", True, nxt)
    assert decode_bytewise(body + nxt) == (b"wiki", True, nxt)
    d = ChunkedDecoder()
    d.feed(body)
    assert d.done
    assert d.feed(b"more") == (b"", True, b"more")


def test_chunked_incomplete():
    d = ChunkedDecoder()
    assert d.feed(b"5\r\nhel") == (b"hel", False, b"")
    assert d.remaining == 2
    assert d.feed(b"lo\r\n0\r\n") == (b"lo", False, b"")
    assert d.feed(b"\r") == (b"", False, b"")
    assert d.feed(b"\n") == (b"", True, b"")


def test_chunked_large_chunk_in_pieces():
    data = bytes(range(256)) * 400
    body = b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n"
    d = ChunkedDecoder()
    out = bytearray()
    step = len(body) // 7 + 1
    for i in range(0, len(body), step):
        got, done, rest = d.feed(body[i:i + step])
        out += got
    assert done and rest == b"" and bytes(out) == data


def test_chunked_max_size_accepted():
    d = ChunkedDecoder()
    assert d.feed(b"FFFFFFFFFFFFFFFF\r\nab") == (b"ab", False, b"")
    assert d.remaining == 2**64 - 1 - 2


@pytest.mark.parametrize("data,offset", [
    (b"g\r\n", 0),
    (b"0x5\r\nhello\r\n", 1),
    (b" 5\r\nhello\r\n", 0),
    (b"-1\r\n", 0),
    (b"+1\r\n", 0),
    (b"\r\n", 0),
    (b"5\nhello\r\n", 1),
    (b"5\r\r\n", 2),
    (b"12345678901234567\r\n", 16),      # 17 hex digits
    (b"00000000000000000\r\n", 16),      # 17 digits even without overflow
    (b"5 \r\nhello", 2),                 # BWS only before ';'
    (b"5;\r\n", 2),                      # empty extension name
    (b"5;=v\r\n", 2),
    (b"5;a=\r\n", 4),
    (b"5;a=b c\r\n", 6),
    (b"5;a=b \r\n", 6),                 # no BWS before CRLF
    (b"5;a \r\n", 4),
    (b"5;a b\r\n", 4),
    (b"5;a\x00\r\n", 3),
    (b"5;a=\"x\x01\"\r\n", 6),
    (b"5;a=\"x\"y\r\n", 7),
    (b"5;a=\"x\\\x7f\"\r\n", 7),
    (b"5;a=b\nhello", 5),
    (b"5\r\nhelloX\r\n", 8),             # no CRLF after data
    (b"5\r\nhello\n", 8),                # bare LF after data
    (b"5\r\nhello\r\r\n", 9),
    (b"5\r\nhello\r\n\r\n", 10),         # empty size line
    (b"0\r\n\n", 3),                     # bare LF ending the body
    (b"0\r\n\rX", 4),
    (b"0\r\nX: a\n\r\n", 7),             # bare LF in a trailer
    (b"0\r\nX: a\r\n b\r\n\r\n", 9),     # obs-fold in trailers
    (b"0\r\nX : a\r\n\r\n", 4),          # whitespace before colon
    (b"0\r\n: a\r\n\r\n", 3),            # empty trailer name
    (b"0\r\nX\r\n\r\n", 4),              # no colon
    (b"0\r\nX: a\x00\r\n\r\n", 7),
    (b"0\r\nX: a\x7f\r\n\r\n", 7),
    (b"0\r\nX\xff: a\r\n\r\n", 4),
])
def test_chunked_errors(data, offset):
    assert error_offset(data) == offset


def test_chunked_line_too_long():
    ext = b"5;" + b"a" * 5000 + b"\r\nhello\r\n0\r\n\r\n"
    assert error_offset(ext) == 4096
    ok = b"5;" + b"a" * 4000 + b"\r\nhello\r\n0\r\n\r\n"
    assert decode_all(ok) == (b"hello", True, b"")


def test_chunked_trailer_limit():
    line = b"X-T: 12345\r\n"  # 12 bytes
    body = b"0\r\n" + line + b"\r\n"
    assert decode_all(body, max_trailer_bytes=12) == (b"", True, b"")
    assert error_offset(body, max_trailer_bytes=11) == 3 + 11
    d = ChunkedDecoder(max_trailer_bytes=100)
    d.feed(b"0\r\n" + line + line)
    assert d.trailer_bytes == 24
    assert d.feed(b"\r\n") == (b"", True, b"")
    # no trailers allowed at all with 0, but an empty trailer section is fine
    assert decode_all(b"0\r\n\r\n", max_trailer_bytes=0) == (b"", True, b"")
    assert error_offset(b"0\r\nX: y\r\n\r\n", max_trailer_bytes=0) == 3
    # many small trailer lines are limited by their total size
    assert error_offset(b"0\r\n" + b"A:\r\n" * 3000 + b"\r\n") == 3 + 8192


def test_chunked_data_not_interpreted():
    # CR, LF and anything else inside chunk data are payload
    payload = bytes(range(256))
    body = b"100\r\n" + payload + b"\r\n0\r\n\r\n"
    assert decode_all(body) == (payload, True, b"")
    assert decode_bytewise(body) == (payload, True, b"")
