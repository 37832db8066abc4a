"""Tests of the incremental multipart/form-data parser (catzilla.forms.MultipartParser
over include/cz_multipart.c): split invariance, look-alike boundaries, limits and their
status codes, spooling of file parts to disk at flat memory, and temp-file cleanup."""
import hashlib
import os
import random
import resource

import pytest

import catzilla.forms as forms
from catzilla.datastructures import FormData, UploadFile
from catzilla.forms import (
    FormError, FormLimitError, MultipartParser, multipart_boundary, parse_form, parse_multipart,
)

BOUNDARY = b"----catzillaBoundary7MA4YWxkTrZu0gW"
CT = "multipart/form-data; boundary=" + BOUNDARY.decode()


def part(disposition, content, extra=b""):
    return b"Content-Disposition: " + disposition + b"\r\n" + extra + b"\r\n" + content


def field(name, value, extra=b""):
    return part(b'form-data; name="' + name + b'"', value, extra)


def filepart(name, filename, content, ctype=b"application/octet-stream"):
    extra = b"Content-Type: " + ctype + b"\r\n" if ctype else b""
    return part(b'form-data; name="' + name + b'"; filename="' + filename + b'"', content, extra)


def body(*parts, boundary=BOUNDARY, preamble=b"", epilogue=b"\r\n"):
    out = preamble
    for p in parts:
        out += b"--" + boundary + b"\r\n" + p + b"\r\n"
    return out + b"--" + boundary + b"--" + epilogue


def result(form):
    """A comparable snapshot: (name, str) or (name, (filename, ctype, size, bytes))."""
    out = []
    for k, v in form.items():
        if isinstance(v, UploadFile):
            out.append((k, (v.filename, v.content_type, v.size, v.read())))
        else:
            out.append((k, v))
    return out


def parse_chunks(chunks, boundary=BOUNDARY, **limits):
    p = MultipartParser(boundary, **limits)
    for c in chunks:
        p.feed(c)
    form = p.finish()
    try:
        return result(form)
    finally:
        form.close()


def splits(data, points):
    cuts = [0] + sorted(points) + [len(data)]
    return [data[a:b] for a, b in zip(cuts, cuts[1:])]


B = BOUNDARY
LOOKALIKES = (b"\r\n--" + B[:-1] + b"\r\n"          # boundary minus its last byte
              + b"\r\n--" + B + b"X\r\n"            # boundary plus a byte
              + b"\r\n--" + B + b"-\r\n"            # a single dash
              + b"\r\n--" + B + b" \t x\r\n"        # padding, then not CRLF
              + b"\r\n--" + B + b"\r\r\nx"          # CR not followed by LF
              + b"--" + B + b"--"                   # no CRLF before it
              + b"\r\n-" + b"\r\n--" + b"\r\n--boundar" + b"\r\n\r\n\r")

SMALL = body(
    field(b"title", b"hello"),
    filepart(b"f", b"a.bin", b"\r\n" + LOOKALIKES + b"\r\n"),   # CRLF at both edges
    field(b"empty", b""),
    field(b"crlf", b"\r\n"),
    filepart(b"nofile", b"", b""),                               # empty filename, empty content
    field(b"last", b"\r\n--" + B[:10]),
    preamble=b"preamble\r\n--" + B + b"Y\r\n",
    epilogue=b"epilogue\r\n--" + B + b"\r\n",
)

EXPECTED_SMALL = [
    ("title", "hello"),
    ("f", ("a.bin", "application/octet-stream", len(LOOKALIKES) + 4, b"\r\n" + LOOKALIKES + b"\r\n")),
    ("empty", ""),
    ("crlf", "\r\n"),
    ("nofile", ("", "application/octet-stream", 0, b"")),
    ("last", "\r\n--" + B[:10].decode()),
]


# ------------------------------------------------------------------ split invariance


def test_whole_body_result():
    assert parse_chunks([SMALL]) == EXPECTED_SMALL
    f = parse_multipart(SMALL, CT)
    assert result(f) == EXPECTED_SMALL
    f.close()


def test_every_single_split_point():
    for i in range(len(SMALL) + 1):
        assert parse_chunks(splits(SMALL, [i])) == EXPECTED_SMALL, i


def test_every_pair_of_split_points_around_delimiters():
    # two cuts inside the same delimiter region: the held look-behind crosses a feed
    start = SMALL.index(b"\r\n--" + B + b"\r\n", SMALL.index(b"a.bin"))
    lo, hi = start - 4, start + len(B) + 10
    for i in range(lo, hi):
        for j in range(i, hi):
            assert parse_chunks(splits(SMALL, [i, j])) == EXPECTED_SMALL, (i, j)


def test_byte_by_byte_and_empty_feeds():
    chunks = []
    for i in range(len(SMALL)):
        chunks += [SMALL[i:i + 1], b""]
    assert parse_chunks(chunks) == EXPECTED_SMALL
    # bytearray and memoryview chunks are accepted too
    assert parse_chunks([bytearray(SMALL[:50]), memoryview(SMALL)[50:]]) == EXPECTED_SMALL


def test_random_splits_of_a_larger_body():
    rng = random.Random(77)
    blob = rng.randbytes(300_000) + LOOKALIKES + rng.randbytes(1000)
    text = (b"x" * 1000 + b"\r\n--" + B[:20]) * 50
    data = body(filepart(b"blob", b"b.bin", blob), field(b"text", text),
                filepart(b"tail", b"t.txt", LOOKALIKES, b"text/plain"))
    expected = [("blob", ("b.bin", "application/octet-stream", len(blob), blob)),
                ("text", text.decode()),
                ("tail", ("t.txt", "text/plain", len(LOOKALIKES), LOOKALIKES))]
    assert parse_chunks([data]) == expected
    for _ in range(30):
        points = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 60))]
        assert parse_chunks(splits(data, points), spool_threshold=50_000) == expected


def test_random_bodies_split_vs_whole():
    """Mutated bodies: the outcome (result or error class + message) does not
    depend on how the body is split."""
    rng = random.Random(4242)
    tokens = [b"\r\n", b"--", B, b"\r\n--" + B, b"\r\n\r\n", b" ", b"\t", b"x", b"\x00",
              b'Content-Disposition: form-data; name="n"', b'; filename="f"']

    def outcome(chunks):
        try:
            return ("ok", parse_chunks(chunks, max_parts=20, max_header_size=200,
                                       max_field_size=500))
        except FormError as exc:
            return (type(exc).__name__, exc.status_code, str(exc))

    oks = 0
    for _ in range(400):
        data = bytearray(SMALL)
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                data[pos:pos] = rng.choice(tokens)
            else:
                del data[pos:pos + rng.randrange(1, 6)]
        data = bytes(data)
        whole = outcome([data])
        oks += whole[0] == "ok"
        points = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 12))]
        assert outcome(splits(data, points)) == whole, data
    assert 20 < oks < 400


# ------------------------------------------------------------------ structure


def test_preamble_epilogue_padding_and_empty_bodies():
    data = (b"pre\r\n--" + B + b" \t\r\n" + field(b"a", b"1") + b"\r\n--" + B + b"\t\r\n"
            + field(b"b", b"2") + b"\r\n--" + B + b"--anything at all")
    assert parse_chunks([data]) == [("a", "1"), ("b", "2")]
    assert parse_chunks([]) == []                       # empty body: empty form
    assert parse_chunks([b"", b""]) == []
    assert parse_chunks([b"--" + B + b"--"]) == []
    # 64 bytes of transport padding are accepted, 65 are a 400
    ok = b"--" + B + b" " * 64 + b"\r\n" + field(b"a", b"1") + b"\r\n--" + B + b"--"
    assert parse_chunks([ok]) == [("a", "1")]
    with pytest.raises(FormError, match="padding") as ei:
        parse_chunks([b"--" + B + b" " * 65 + b"\r\n"])
    assert ei.value.status_code == 400


def test_part_headers_are_kept():
    data = body(part(b'form-data; name="g"; filename="b.bin"', b"y",
                     b"CONTENT-TYPE: image/png\r\nX-Custom:  v  \r\nX-Folded: one\r\n two\r\n"))
    form = MultipartParser(B)
    form.feed(data)
    f = form.finish()
    g = f["g"]
    assert g.content_type == "image/png"
    assert g.headers["x-custom"] == "v" and g.headers["x-folded"] == "one two"
    assert g.headers["content-disposition"].startswith("form-data")
    f.close()


def test_filename_star_and_charsets_through_the_parser():
    data = body(part(b"form-data; name=\"a\"; filename=\"fb\"; filename*=UTF-8''%E2%82%AC.txt", b"1"),
                field(b"latin", "café".encode("latin-1"), b"Content-Type: text/plain; charset=latin-1\r\n"))
    assert parse_chunks(splits(data, [40, 90])) == [
        ("a", ("€.txt", "text/plain", 1, b"1")), ("latin", "café")]


# ------------------------------------------------------------------ errors and status codes


@pytest.mark.parametrize("data, msg", [
    (b"no boundary at all", "no opening boundary"),
    (b"--" + B + b"\r\n" + field(b"a", b"1"), "missing its closing boundary"),
    (b"--" + B + b"\r\n" + field(b"a", b"1") + b"\r\n--" + B, "missing its closing boundary"),
    (b"--" + B + b"\r\n" + field(b"a", b"1") + b"\r\n--" + B + b"-", "missing its closing boundary"),
    (b"--" + B + b"\r\nContent-Disposition: form-data; name=a\r\n", "not terminated"),
    (body(field(b"a", b"1")).replace(b"\r\n", b"\n"), "no opening boundary"),     # LF only
    (body(b"Content-Disposition: form-data; name=a\nX: 1\r\n\r\nv"), "bare CR or LF"),
    (body(b"X-Other: 1\r\n\r\nv"), "no Content-Disposition"),
    (body(part(b'attachment; name="a"', b"1")), "expected 'form-data'"),
    (body(part(b'form-data; filename="a.txt"', b"1")), "no name"),
])
def test_malformed_is_400(data, msg):
    for chunks in ([data], splits(data, [len(data) // 3, len(data) // 2])):
        with pytest.raises(FormError, match=msg) as ei:
            parse_chunks(chunks)
        assert ei.value.status_code == 400
        assert not isinstance(ei.value, FormLimitError)


def test_missing_final_boundary_is_reported_by_finish():
    p = MultipartParser(B)
    p.feed(b"--" + B + b"\r\n" + field(b"a", b"1") + b"\r\n")
    with pytest.raises(FormError, match="closing boundary") as ei:
        p.finish()
    assert ei.value.status_code == 400


def test_too_many_parts_is_413():
    ok = body(*[field(b"f", b"v")] * 5)
    assert len(parse_chunks([ok], max_parts=5)) == 5
    with pytest.raises(FormLimitError, match="more than 4 parts") as ei:
        parse_chunks([ok], max_parts=4)
    assert ei.value.status_code == 413 and isinstance(ei.value, FormError)
    with pytest.raises(FormLimitError, match="more than 1000 parts"):
        parse_multipart(body(*[field(b"f", b"v")] * 1001), CT)


def test_oversized_field_is_413():
    assert parse_chunks([body(field(b"a", b"x" * 100))], max_field_size=100) == [("a", "x" * 100)]
    with pytest.raises(FormLimitError, match="field exceeds 99 bytes") as ei:
        parse_chunks(splits(body(field(b"a", b"x" * 100)), [60, 120]), max_field_size=99)
    assert ei.value.status_code == 413
    # the default (1 MiB) applies to the whole-body path too; files are not fields
    big = b"y" * ((1 << 20) + 1)
    with pytest.raises(FormLimitError):
        parse_form(body(field(b"a", big)), CT)
    f = parse_form(body(filepart(b"a", b"big", big)), CT)
    assert f["a"].size == len(big)
    f.close()


def test_oversized_file_and_headers_are_413():
    data = body(filepart(b"a", b"f", b"z" * 1000))
    assert parse_chunks([data], max_file_size=1000)[0][1][2] == 1000
    with pytest.raises(FormLimitError, match="file part exceeds 999 bytes") as ei:
        parse_chunks([data], max_file_size=999)
    assert ei.value.status_code == 413
    big = body(field(b"x", b"y", b"X-Big: " + b"a" * 300 + b"\r\n"))
    with pytest.raises(FormLimitError, match="headers exceed 200 bytes") as ei:
        parse_chunks(splits(big, [100, 200, 300]), max_header_size=200)
    assert ei.value.status_code == 413


def test_errors_are_sticky_and_close_the_files(monkeypatch):
    made = []

    class Recording(forms.SpooledTemporaryFile):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(forms, "SpooledTemporaryFile", Recording)
    p = MultipartParser(B, max_parts=2)
    p.feed(b"--" + B + b"\r\n" + filepart(b"f", b"a", b"123") + b"\r\n--" + B + b"\r\n"
           + filepart(b"g", b"b", b"45"))
    assert len(made) == 2 and not any(f.closed for f in made)
    with pytest.raises(FormLimitError, match="more than 2 parts"):
        p.feed(b"\r\n--" + B + b"\r\n")
    assert all(f.closed for f in made)
    with pytest.raises(FormLimitError, match="more than 2 parts"):
        p.feed(b"more")
    with pytest.raises(FormLimitError):
        p.finish()
    # close() abandons a parse in progress
    made.clear()
    p = MultipartParser(B)
    p.feed(b"--" + B + b"\r\n" + filepart(b"f", b"a", b"123"))
    p.close()
    p.close()
    assert made and all(f.closed for f in made)
    with pytest.raises(FormError, match="closed"):
        p.feed(b"x")
    # after finish(), the form owns the files
    p = MultipartParser(B)
    p.feed(body(filepart(b"f", b"a", b"1")))
    form = p.finish()
    with pytest.raises(FormError, match="finished"):
        p.feed(b"x")
    assert form["f"].read() == b"1"
    form.close()
    assert form["f"].closed


def test_constructor_validation():
    for bad in (b"", b"x" * 71, b"trailing ", b"br{ace}", b"caf\xc3\xa9", b"a\r\nb"):
        with pytest.raises(FormError, match="invalid multipart boundary"):
            MultipartParser(bad)
    with pytest.raises(TypeError):
        MultipartParser("str boundary")
    with pytest.raises(ValueError):
        MultipartParser(B, max_parts=-1)
    with pytest.raises(ValueError):
        MultipartParser(B, max_file_size=-1)
    with pytest.raises(TypeError):
        MultipartParser(B).feed("str")
    assert multipart_boundary(CT) == B
    assert multipart_boundary('multipart/form-data; boundary="a b"') == b"a b"
    with pytest.raises(FormError):
        multipart_boundary("text/plain")


# ------------------------------------------------------------------ UploadFile storage


def test_spooling_threshold_and_positional_api(tmp_path):
    small = body(filepart(b"s", b"s.bin", b"a" * 100), filepart(b"l", b"l.bin", b"b" * 5000))
    p = MultipartParser(B, spool_threshold=1000)
    p.feed(small)
    form = p.finish()
    s, big = form["s"], form["l"]
    assert not s.file._rolled                     # in memory
    assert big.file._rolled                       # on disk
    assert big.tell() == 0
    assert big.read(3) == b"bbb" and big.tell() == 3
    assert big.read() == b"b" * 5000              # whole content, position kept
    assert big.tell() == 3
    assert big.seek(-2, 2) == 4998 and big.read(10) == b"bb"
    assert big.text() == "b" * 5000
    assert big.save(tmp_path / "out", chunk_size=777) == 5000
    assert (tmp_path / "out").read_bytes() == b"b" * 5000
    form.close()
    for fn in (big.read, big.tell, lambda: big.seek(0), big.text):
        with pytest.raises(ValueError):
            fn()


def _vmrss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _open_inodes():
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            st = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        out.add((st.st_dev, st.st_ino))
    return out


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_200_mib_upload_streams_to_disk_at_flat_memory():
    chunk_size = 64 * 1024
    nchunks = 200 * 1024 * 1024 // chunk_size
    rng = random.Random(2000)
    p = MultipartParser(B, spool_threshold=1 << 20)
    p.feed(b"--" + B + b"\r\n" + field(b"title", b"big one") + b"\r\n--" + B + b"\r\n"
           + b'Content-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
           + b"Content-Type: application/octet-stream\r\n\r\n")
    sent = hashlib.sha256()
    warmup = 32                          # 2 MiB: past the spool rollover to disk
    base = peak = maxrss_before = 0
    for i in range(nchunks):
        if i == warmup:
            base = peak = _vmrss_kib()
            maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        block = rng.randbytes(chunk_size)
        sent.update(block)
        p.feed(block)
        if i > warmup and i % 64 == 0:
            peak = max(peak, _vmrss_kib())
    p.feed(b"\r\n--" + B + b"--\r\n")
    form = p.finish()
    peak = max(peak, _vmrss_kib())
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    up = form["upload"]
    assert form["title"] == "big one"
    assert up.size == nchunks * chunk_size
    # RSS grew by less than a few MiB while 200 MiB went through
    growth_kib = peak - base
    print(f"VmRSS base {base} KiB, peak {peak} KiB (+{growth_kib} KiB); "
          f"ru_maxrss {maxrss_before} -> {maxrss_after} KiB")
    assert growth_kib < 6 * 1024, growth_kib
    assert maxrss_after - maxrss_before < 6 * 1024
    # byte-exact on disk
    assert up.file._rolled
    fd = up.file.fileno()
    st = os.fstat(fd)
    assert st.st_size == up.size and st.st_nlink == 0      # unlinked temp file
    got = hashlib.sha256()
    up.seek(0)
    while True:
        block = up.read(1 << 20)
        if not block:
            break
        got.update(block)
    assert got.hexdigest() == sent.hexdigest()
    key = (st.st_dev, st.st_ino)
    assert key in _open_inodes()
    form.close()
    # the last descriptor of the unlinked file is gone: the kernel frees it
    assert key not in _open_inodes()
    assert up.closed
