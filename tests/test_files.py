"""FileResponse (catzilla/files.pyx): bytes on the wire, HEAD, ranges,
conditional requests, Content-Disposition, errors, and -- over real sockets
against a server in its own process -- sendfile(2) and flat memory on a
10 GiB sparse file."""
import email.utils
import os
import re
import shutil
import signal
import socket
import sys
import time
from urllib.parse import unquote

import psutil
import pytest

from catzilla import Catzilla
from catzilla.files import FileResponse, content_disposition, http_date, parse_http_date
from catzilla.testing import TestClient
from procs import launcher, wait_until
from wire import BytesReader, RawClient, parse_response, parse_responses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.urandom(1024 * 1024 + 17)
OLD = 1_000_000_000          # 2001-09-09: a Last-Modified well in the past


@pytest.fixture(scope="module")
def files_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    (d / "data.bin").write_bytes(DATA)
    (d / "hello.txt").write_bytes(b"hello, world\n")
    (d / "old.txt").write_bytes(b"0123456789abcdefghij")
    os.utime(d / "old.txt", (OLD, OLD))
    (d / "empty.dat").write_bytes(b"")
    (d / "archive.tar.gz").write_bytes(b"\x1f\x8b fake gzip")
    (d / "page.html").write_bytes(b"<h1>gone</h1>")
    (d / "sub").mkdir()
    (d / "secret.txt").write_bytes(b"secret")
    os.chmod(d / "secret.txt", 0)
    return d


@pytest.fixture(scope="module")
def client(files_dir):
    app = Catzilla()

    @app.route("/files/{name:path}", methods=["GET", "HEAD", "POST"])
    def serve(request):
        q = request.query_params
        return FileResponse(os.path.join(files_dir, request.path_params["name"]),
                            filename=q.get("dl"), content_type=q.get("ct"),
                            content_disposition_type=q.get("disp", "attachment"))

    @app.get("/missing-page")
    def missing_page(request):
        return FileResponse(files_dir / "page.html", status=404)

    @app.get("/with-headers")
    def with_headers(request):
        return FileResponse(files_dir / "hello.txt",
                            headers={"Cache-Control": "max-age=60", "ETag": '"v1"'})

    with TestClient(app) as c:
        yield c


def etag_of(client, name):
    return client.head(f"/files/{name}").headers["etag"]


# -- whole file, HEAD ------------------------------------------------------------

def test_full_get_is_byte_exact_with_validators(client, files_dir):
    r = client.get("/files/data.bin")
    assert r.status_code == 200
    assert r.content == DATA
    st = os.stat(files_dir / "data.bin")
    assert r.headers["content-length"] == str(len(DATA))
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["last-modified"] == email.utils.formatdate(st.st_mtime_ns // 10**9, usegmt=True)
    # strong ETag from size and mtime_ns
    assert r.headers["etag"] == f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
    assert "content-disposition" not in r.headers


def test_etag_changes_when_file_changes(client, tmp_path):
    app = Catzilla()
    p = tmp_path / "f.txt"
    p.write_bytes(b"one")
    os.utime(p, ns=(10**18, 10**18))

    @app.get("/f")
    def f(request):
        return FileResponse(p)
    with TestClient(app) as c:
        first = c.get("/f").headers["etag"]
        p.write_bytes(b"two")                       # same size
        os.utime(p, ns=(10**18 + 1, 10**18 + 1))    # mtime one nanosecond later
        r = c.get("/f")
        assert r.content == b"two"
        assert r.headers["etag"] != first
        assert c.get("/f", headers={"if-none-match": first}).status_code == 200


def test_content_type_guessing(client):
    assert client.get("/files/hello.txt").headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get("/files/page.html").headers["content-type"] == "text/html; charset=utf-8"
    # a compressed file is sent as-is: its own media type, never Content-Encoding
    r = client.get("/files/archive.tar.gz")
    assert r.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in r.headers
    assert client.get("/files/hello.txt", params={"ct": "application/x-custom"}).headers["content-type"] \
        == "application/x-custom"
    # the download name decides when given
    r = client.get("/files/data.bin", params={"dl": "picture.png"})
    assert r.headers["content-type"] == "image/png"


def test_head_sends_headers_and_no_body(client):
    get = client.get("/files/data.bin")
    head = client.head("/files/data.bin")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-length", "content-type", "etag", "last-modified", "accept-ranges"):
        assert head.headers[name] == get.headers[name]
    # On one connection: a HEAD, then a GET. If the HEAD had sent any body
    # bytes, the second response would not start right after the first head.
    raw = client.raw(b"HEAD /files/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                     b"GET /files/hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    r = BytesReader(raw)
    first = r.read_response(head_only=True)
    assert (first.version, first.status) == ("HTTP/1.1", 200)
    assert ("Content-Length", "13") in first.header_list
    second = r.read_response()
    assert (second.version, second.status, second.body) == ("HTTP/1.1", 200, b"hello, world\n")
    assert r.take_buffered() == b""


def test_head_with_range_has_range_headers(client):
    r = client.head("/files/data.bin", headers={"range": "bytes=0-99"})
    assert r.status_code == 206
    assert r.headers["content-length"] == "100"
    assert r.headers["content-range"] == f"bytes 0-99/{len(DATA)}"
    assert r.content == b""


def test_empty_file(client):
    r = client.get("/files/empty.dat")
    assert r.status_code == 200
    assert r.headers["content-length"] == "0"
    assert r.content == b""
    r = client.get("/files/empty.dat", headers={"range": "bytes=0-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */0"


def test_http10_client(client):
    raw = client.raw(b"GET /files/hello.txt HTTP/1.0\r\n\r\n")
    r = parse_response(raw)
    assert (r.version, r.status) == ("HTTP/1.1", 200)
    assert ("Content-Length", "13") in r.header_list
    assert r.body == b"hello, world\n"


# -- ranges --------------------------------------------------------------------------

N = len(DATA)


@pytest.mark.parametrize("spec, first, last", [
    ("bytes=0-0", 0, 0),
    ("bytes=10-19", 10, 19),
    ("bytes=1000-", 1000, N - 1),
    ("bytes=-5", N - 5, N - 1),
    ("bytes=-1", N - 1, N - 1),
    (f"bytes=-{N * 2}", 0, N - 1),              # suffix longer than the file: all of it
    (f"bytes={N - 3}-{N * 10}", N - 3, N - 1),  # last-pos past the end: clamped
    (f"bytes={N - 1}-", N - 1, N - 1),
    ("Bytes = 5-9 ", 5, 9),                     # unit is case-insensitive, OWS allowed
    ("bytes=5-9,", 5, 9),                       # empty list elements are ignored
    ("bytes=7-9" + "0" * 0, 7, 9),
    ("bytes=0-99999999999999999999999999", 0, N - 1),
])
def test_single_range(client, spec, first, last):
    r = client.get("/files/data.bin", headers={"range": spec})
    assert r.status_code == 206, spec
    assert r.headers["content-range"] == f"bytes {first}-{last}/{N}"
    assert r.headers["content-length"] == str(last - first + 1)
    assert r.content == DATA[first:last + 1]
    assert "etag" in r.headers and "last-modified" in r.headers


@pytest.mark.parametrize("spec", [
    "items=0-5",            # unknown unit
    "bytes=5-2",            # last < first: invalid
    "bytes=abc",
    "bytes=1-2-3",
    "bytes=",
    "bytes",
    "bytes=0-1,4-5",        # several ranges: the whole file (RFC 9110 lets us ignore Range)
    "bytes=-5,0-0",
    "bytes=\u00b2-5",      # a non-ASCII digit is not a digit
])
def test_ignored_range_gives_whole_file(client, spec):
    r = client.get("/files/data.bin", headers={"range": spec})
    assert r.status_code == 200, spec
    assert "content-range" not in r.headers
    assert r.content == DATA


@pytest.mark.parametrize("spec", [f"bytes={N}-", f"bytes={N + 10}-{N + 20}", "bytes=-0",
                                  f"bytes={N}-{N},{N + 5}-", "bytes=99999999999999999999999-"])
def test_unsatisfiable_range_is_416(client, spec):
    r = client.get("/files/data.bin", headers={"range": spec})
    assert r.status_code == 416, spec
    assert r.headers["content-range"] == f"bytes */{N}"
    assert int(r.headers["content-length"]) == len(r.content)
    assert DATA[:64] not in r.content


def test_range_ignored_for_post_and_non_200(client):
    r = client.post("/files/hello.txt", headers={"range": "bytes=0-1"})
    assert r.status_code == 200 and r.content == b"hello, world\n"
    r = client.get("/missing-page", headers={"range": "bytes=0-1"})
    assert r.status_code == 404 and r.content == b"<h1>gone</h1>"


def test_ranges_on_a_keep_alive_connection(client):
    """Several ranged responses back to back on one connection stay in step."""
    reqs = b"".join(f"GET /files/old.txt HTTP/1.1\r\nHost: t\r\nRange: bytes={a}-{b}\r\n\r\n".encode()
                    for a, b in ((0, 3), (10, 12), (18, 30)))
    raw = client.raw(reqs + b"GET /files/old.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    bodies = [(r.status, r.header("content-length") is not None, r.body) for r in parse_responses(raw)]
    assert bodies == [(206, True, b"0123"), (206, True, b"abc"), (206, True, b"ij"),
                      (200, True, b"0123456789abcdefghij")]


# -- conditional requests ----------------------------------------------------------------

def test_if_none_match_gives_304(client):
    etag = etag_of(client, "hello.txt")
    for value in (etag, f'"nope", {etag}', f"W/{etag}", "*", f'"a",\t"b" ,{etag}'):
        r = client.get("/files/hello.txt", headers={"if-none-match": value})
        assert r.status_code == 304, value
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert "last-modified" in r.headers
        assert "content-length" not in r.headers
    head = client.head("/files/hello.txt", headers={"if-none-match": etag})
    assert head.status_code == 304
    for value in ('"nope"', 'W/"nope"', etag[:-2] + '"', "garbage"):
        r = client.get("/files/hello.txt", headers={"if-none-match": value})
        assert r.status_code == 200, value
        assert r.content == b"hello, world\n"


def test_if_none_match_on_post_is_412(client):
    etag = etag_of(client, "hello.txt")
    assert client.post("/files/hello.txt", headers={"if-none-match": etag}).status_code == 412
    assert client.post("/files/hello.txt", headers={"if-none-match": '"other"'}).status_code == 200


def test_if_modified_since_gives_304(client):
    lm = client.head("/files/old.txt").headers["last-modified"]
    assert lm == "Sun, 09 Sep 2001 01:46:40 GMT"
    for value in (lm,
                  "Sunday, 09-Sep-01 01:46:40 GMT",      # RFC 850
                  "Sun Sep  9 01:46:40 2001",             # asctime
                  "Sun, 09 Sep 2001 01:46:41 GMT",        # later than Last-Modified
                  http_date(time.time() + 3600)):
        r = client.get("/files/old.txt", headers={"if-modified-since": value})
        assert r.status_code == 304, value
        assert r.content == b""
    for value in ("Sun, 09 Sep 2001 01:46:39 GMT", "Sat, 01 Jan 2000 00:00:00 GMT",
                  "not a date", "Sun, 09 Sep 2001 01:46:40 UTC", "Sun, 31 Feb 2001 01:46:40 GMT"):
        r = client.get("/files/old.txt", headers={"if-modified-since": value})
        assert r.status_code == 200, value
        assert r.content == b"0123456789abcdefghij"


def test_if_none_match_wins_over_if_modified_since(client):
    lm = client.head("/files/old.txt").headers["last-modified"]
    r = client.get("/files/old.txt", headers={"if-none-match": '"other"', "if-modified-since": lm})
    assert r.status_code == 200
    etag = etag_of(client, "old.txt")
    r = client.get("/files/old.txt", headers={"if-none-match": etag,
                                               "if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT"})
    assert r.status_code == 304


def test_if_match_and_if_unmodified_since(client):
    etag = etag_of(client, "old.txt")
    assert client.get("/files/old.txt", headers={"if-match": etag}).status_code == 200
    assert client.get("/files/old.txt", headers={"if-match": "*"}).status_code == 200
    r = client.get("/files/old.txt", headers={"if-match": '"other"'})
    assert r.status_code == 412 and b"0123" not in r.content
    # If-Match uses the strong comparison: a weak tag never matches
    assert client.get("/files/old.txt", headers={"if-match": f"W/{etag}"}).status_code == 412
    assert client.get("/files/old.txt", headers={
        "if-unmodified-since": "Sun, 09 Sep 2001 01:46:40 GMT"}).status_code == 200
    assert client.get("/files/old.txt", headers={
        "if-unmodified-since": "Sun, 09 Sep 2001 01:46:39 GMT"}).status_code == 412


def test_if_range(client):
    etag = etag_of(client, "old.txt")
    lm = client.head("/files/old.txt").headers["last-modified"]
    hit = [{"if-range": etag}, {"if-range": lm}]
    miss = [{"if-range": '"other"'}, {"if-range": f"W/{etag}"},
            {"if-range": "Sun, 09 Sep 2001 01:46:41 GMT"}, {"if-range": "garbage"}]
    for h in hit:
        r = client.get("/files/old.txt", headers={"range": "bytes=2-4", **h})
        assert r.status_code == 206, h
        assert r.content == b"234"
    for h in miss:
        r = client.get("/files/old.txt", headers={"range": "bytes=2-4", **h})
        assert r.status_code == 200, h
        assert r.content == b"0123456789abcdefghij"
    # an If-Range that fails also skips the 416
    r = client.get("/files/old.txt", headers={"range": "bytes=100-", "if-range": '"other"'})
    assert r.status_code == 200


def test_if_range_date_of_a_just_modified_file_is_weak(client, files_dir):
    p = files_dir / "fresh.txt"
    p.write_bytes(b"fresh bytes")
    lm = client.head("/files/fresh.txt").headers["last-modified"]
    r = client.get("/files/fresh.txt", headers={"range": "bytes=0-1", "if-range": lm})
    # modified within the last second: the date cannot be a strong validator
    assert r.status_code == 200 and r.content == b"fresh bytes"


def test_user_validators_and_headers(client):
    r = client.get("/with-headers")
    assert r.headers["etag"] == '"v1"'
    assert r.headers["cache-control"] == "max-age=60"
    r = client.get("/with-headers", headers={"if-none-match": '"v1"'})
    assert r.status_code == 304
    assert r.headers["cache-control"] == "max-age=60"


def test_conditionals_ignored_for_non_200_status(client):
    r = client.get("/missing-page", headers={"if-none-match": "*"})
    assert r.status_code == 404 and r.content == b"<h1>gone</h1>"


# -- Content-Disposition ----------------------------------------------------------------

def parse_disposition(value):
    kind, *params = [p.strip() for p in value.split(";")]
    out = {}
    for p in params:
        k, _, v = p.partition("=")
        out[k.strip().lower()] = v.strip()
    return kind, out


def test_content_disposition_ascii(client):
    r = client.get("/files/hello.txt", params={"dl": "report 2024.txt"})
    assert r.headers["content-disposition"] == 'attachment; filename="report 2024.txt"'
    r = client.get("/files/hello.txt", params={"dl": "a.txt", "disp": "inline"})
    assert r.headers["content-disposition"] == 'inline; filename="a.txt"'


@pytest.mark.parametrize("name", ["résumé.pdf", "отчёт 2024.txt", "日本語.txt", 'quote"and\\slash.txt',
                                  "emoji 😀.txt", "tab\there.txt"])
def test_content_disposition_non_ascii(client, name):
    r = client.get("/files/hello.txt", params={"dl": name})
    assert r.status_code == 200
    value = r.headers["content-disposition"]
    value.encode("ascii")                                # nothing but ASCII on the wire
    kind, params = parse_disposition(value)
    assert kind == "attachment"
    assert params["filename"].startswith('"') and params["filename"].endswith('"')
    ext = params["filename*"]
    assert ext.startswith("UTF-8''")
    assert unquote(ext[len("UTF-8''"):], encoding="utf-8", errors="strict") == name
    assert all(c.isalnum() or c in "!#$&+-.^_`|~%" for c in ext[len("UTF-8''"):])


def test_content_disposition_fallback_transliterates():
    assert content_disposition("attachment", "résumé.pdf") == \
        "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"


# -- errors ----------------------------------------------------------------------------------

def test_missing_file_and_directory_are_404(client):
    assert client.get("/files/nope.txt").status_code == 404
    assert client.get("/files/sub").status_code == 404
    assert client.get("/files/sub/").status_code == 404
    assert client.get("/files/hello.txt/x").status_code == 404      # ENOTDIR
    assert client.get("/files/a%00b").status_code == 404            # NUL in the path
    assert client.get("/files/" + "x" * 5000).status_code == 404    # ENAMETOOLONG
    # and the server is fine afterwards
    assert client.get("/files/hello.txt").content == b"hello, world\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_403(client):
    assert client.get("/files/secret.txt").status_code == 403


def test_fifo_is_404_and_does_not_block(client, files_dir):
    fifo = files_dir / "pipe"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    assert client.get("/files/pipe").status_code == 404
    assert time.monotonic() - t0 < 2


def test_http_date_parsing():
    t = 784111777
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == t
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == t
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == t
    assert http_date(t) == "Sun, 06 Nov 1994 08:49:37 GMT"
    for bad in ("", "Sun, 06 Nov 1994 08:49:37", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT",
                "Sun, 06 Foo 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT", None, 5):
        assert parse_http_date(bad) is None, bad
    # two-digit years: more than 50 years ahead means the previous century
    this_year = time.gmtime().tm_year
    yy = (this_year + 60) % 100
    parsed = parse_http_date(f"Monday, 01-Jan-{yy:02d} 00:00:00 GMT")
    assert time.gmtime(parsed).tm_year == this_year + 60 - 100


def test_file_is_closed_after_response(client):
    proc = psutil.Process()
    before = proc.num_fds()
    for _ in range(50):
        assert client.get("/files/hello.txt").status_code == 200
        assert client.get("/files/hello.txt", headers={"range": "bytes=0-0"}).status_code == 206
        assert client.head("/files/hello.txt").status_code == 200
        assert client.get("/files/hello.txt", headers={"if-none-match": "*"}).status_code == 304
    assert proc.num_fds() <= before + 2


# -- real sockets, server in its own process -------------------------------------------------------

SERVER_APP = r'''
import os, signal, sys
if sys.platform.startswith("linux"):      # die with the test run, even if it is killed
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
sys.path.insert(0, os.environ["CATZILLA_ROOT"])
from catzilla import Catzilla
from catzilla.files import FileResponse

app = Catzilla()
BASE = os.environ["FILES_ROOT"]

@app.get("/")
def home(request):
    return "ok"

@app.route("/files/{name:path}", methods=["GET", "HEAD"])
def serve(request):
    return FileResponse(os.path.join(BASE, request.path_params["name"]))

app.listen(0, "127.0.0.1", banner=True)
'''

BIG = 10 * 1024 ** 3
TAIL = b"<-- the last 32 bytes of 10 GiB"
assert len(TAIL) == 31
TAIL += b"!"


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("big")
    p = d / "big.bin"
    with open(p, "wb") as f:
        f.write(b"HEAD" * 16)
    os.truncate(p, BIG)                         # sparse: takes no disk space
    with open(p, "r+b") as f:
        f.seek(BIG - len(TAIL))
        f.write(TAIL)
    (d / "four.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    (d / "app.py").write_text(SERVER_APP)
    return d


def start_server(run, d, prefix=()):
    """app.py in d, through `run` (a procs.Launcher), under `prefix` (a wrapper
    such as strace) if given; once its banner is seen."""
    return run.start([*prefix, sys.executable, str(d / "app.py")], CATZILLA_ROOT=ROOT, FILES_ROOT=str(d))


class Conn:
    """One keep-alive connection: requests sent as they are, heads and bodies read
    by the tests' one response reader."""

    def __init__(self, port):
        self.c = RawClient(("127.0.0.1", port), timeout=10)
        self.s = self.c.sock

    def request(self, method, path, headers=""):
        self.s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())

    def head(self):
        r = self.c.read_head()
        return r.status, {k.lower(): v for k, v in r.header_list}

    def body(self, n):
        return self.c._exactly(n)

    def close(self):
        self.c.close()


@pytest.fixture(scope="module")
def big_server(big_dir):
    with launcher(big_dir) as run:
        yield start_server(run, big_dir)


def test_10gib_sparse_file_range_near_the_end(big_server):
    port = big_server.port
    c = Conn(port)
    try:
        c.request("GET", "/files/big.bin", f"Range: bytes={BIG - 100}-\r\n")
        status, h = c.head()
        assert status == 206
        assert h["content-range"] == f"bytes {BIG - 100}-{BIG - 1}/{BIG}"
        assert h["content-length"] == "100"
        assert c.body(100) == b"\0" * 68 + TAIL
        c.request("GET", "/files/big.bin", "Range: bytes=-32\r\n")
        status, h = c.head()
        assert status == 206 and c.body(32) == TAIL
        c.request("HEAD", "/files/big.bin")
        status, h = c.head()
        assert status == 200 and h["content-length"] == str(BIG)
    finally:
        c.close()


def test_10gib_sparse_file_partial_download_keeps_rss_flat(big_server, big_dir):
    port = big_server.port
    server = psutil.Process(big_server.proc.pid)
    warm = Conn(port)
    warm.request("GET", "/files/four.bin")
    status, h = warm.head()
    assert warm.body(int(h["content-length"])) == (big_dir / "four.bin").read_bytes()
    warm.close()
    base = server.memory_info().rss
    peak = base
    t0 = time.monotonic()
    c = Conn(port)
    c.request("GET", "/files/big.bin")
    status, h = c.head()
    assert status == 200 and h["content-length"] == str(BIG)
    want = 64 * 1024 * 1024
    early = c.c.take_buffered()        # what came with the head
    got = len(early)
    first = early[:64]
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    chunk = bytearray(1 << 20)
    view = memoryview(chunk)
    n_reads = 0
    while got < want:
        n = c.s.recv_into(view)
        assert n > 0
        if not first:
            first = bytes(view[:64])
        got += n
        n_reads += 1
        if n_reads % 64 == 0:
            peak = max(peak, server.memory_info().rss)
    peak = max(peak, server.memory_info().rss)
    assert first == b"HEAD" * 16
    c.close()
    assert peak - base < 20 * 1024 * 1024, f"server RSS grew by {(peak - base) >> 20} MiB"
    assert time.monotonic() - t0 < 15
    # the file is closed once the client is gone, and the server still serves
    wait_until(lambda: not any(f.path.endswith("big.bin") for f in server.open_files()), 2,
               "big.bin to be closed")
    c = Conn(port)
    c.request("GET", "/")
    status, h = c.head()
    assert status == 200 and c.body(2) == b"ok"
    c.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="strace is Linux-only")
def test_body_is_sent_with_sendfile(big_dir, tmp_path):
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    log = tmp_path / "strace.log"
    with launcher(big_dir) as run:
        try:
            server = start_server(run, big_dir, (strace, "-f", "-qq", "-e", "trace=sendfile", "-o", str(log)))
        except AssertionError as exc:
            pytest.skip(f"cannot run the server under strace: {exc}")
        c = Conn(server.port)
        c.request("GET", "/files/four.bin")
        status, h = c.head()
        size = 4 * 1024 * 1024
        assert status == 200 and h["content-length"] == str(size)
        assert c.body(size) == (big_dir / "four.bin").read_bytes()
        c.request("GET", "/files/four.bin", "Range: bytes=1000-1999\r\n")
        status, h = c.head()
        assert status == 206 and c.body(1000) == (big_dir / "four.bin").read_bytes()[1000:2000]
        c.close()
        # the server itself (not strace) drains and exits; then strace ends too
        pid = int(server.wait_output(r"serving on .*pid (\d+)", stream=server.out).group(1))
        os.kill(pid, signal.SIGTERM)
        assert server.wait_exit(10) == 0
    text = log.read_text()
    if "Operation not permitted" in text or "PTRACE" in text:
        pytest.skip("ptrace is not permitted here")
    sent = [int(m.group(1)) for m in re.finditer(r"sendfile.*\) += (\d+)$", text, re.M)]
    # the body went out through sendfile(2): every byte of both responses
    assert sum(sent) == size + 1000, text[-2000:]
