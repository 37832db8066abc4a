"""Compression middleware over real sockets: negotiation, what is left alone,
and streams that stay incremental through gzip (each chunk decodable the
moment it arrives), checked with zlib and with curl --compressed."""
import asyncio
import gzip
import os
import select
import shutil
import socket
import subprocess
import threading
import time
import zlib

import pytest

from catzilla import Catzilla, FileResponse, Response, StreamingResponse
from catzilla.compression import CompressionMiddleware, GZipMiddleware, GzipEncoder
from catzilla.sse import EventSourceResponse
from wire import RawClient, get

TEXT = ("All work and no play makes Jack a dull boy. " * 40).encode()   # 1,800 bytes


try:
    import brotli
except ImportError:
    brotli = None
try:
    import zstandard
except ImportError:
    zstandard = None


def decode(coding, body):
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        return brotli.decompress(body)
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    assert coding is None
    return body


@pytest.fixture
def app_and_addr(serve, tmp_path):
    app = Catzilla()
    app.add_middleware(CompressionMiddleware, minimum_size=500, encodings=("gzip",))
    small = tmp_path / "small.txt"
    small.write_bytes(TEXT)
    big = tmp_path / "big.txt"
    big.write_bytes(TEXT * 700)                  # 1.2 MiB: over max_file_size
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG" + TEXT)

    @app.get("/text")
    def text(request):
        return Response(TEXT, media_type="text/plain")

    @app.get("/short")
    def short(request):
        return "short"

    @app.get("/json")
    def json(request):
        return {"text": TEXT.decode()}

    @app.get("/encoded")
    def encoded(request):
        return Response(gzip.compress(TEXT), headers={"content-encoding": "gzip"}, media_type="text/plain")

    @app.get("/no-transform")
    def no_transform(request):
        return Response(TEXT, media_type="text/plain", headers={"cache-control": "no-transform"})

    @app.get("/etag")
    def etag(request):
        return Response(TEXT, media_type="text/plain", headers={"etag": '"v1"'})

    @app.get("/binary")
    def binary(request):
        return Response(TEXT, media_type="application/octet-stream")

    @app.get("/file/{name}")
    def file(request, name):
        return FileResponse(str(tmp_path / name))

    @app.get("/empty")
    def empty(request):
        return Response(b"", 204)

    return app, serve(app)


@pytest.mark.parametrize("accept, coding", [
    (None, None),
    ("", None),
    ("gzip", "gzip"),
    ("GZIP", "gzip"),
    ("x-gzip", "gzip"),
    ("deflate, gzip;q=0.5", "gzip"),
    ("gzip;q=0", None),
    ("gzip;q=0.000", None),
    ("identity", None),
    ("identity;q=1, gzip;q=0.5", None),
    ("gzip;q=1, identity;q=0.5", "gzip"),
    ("*", "gzip"),
    ("*;q=0", None),
    ("*;q=0.1, gzip;q=0", None),
    ("*, gzip;q=0", None),
    ("br, compress, unknown", None),
    ("gzip;q=2", None),           # not a qvalue: the element is ignored
    ("gzip;q=abc, *;q=0.3", "gzip"),
    (" gzip ; q=0.7 , identity;q=0.6", "gzip"),
])
def test_negotiation(app_and_addr, accept, coding):
    app, addr = app_and_addr
    headers = {} if accept is None else {"Accept-Encoding": accept}
    r = get(addr, "/text", headers=headers)
    assert r.status == 200
    assert r.header("content-encoding") == coding
    assert r.header("vary") == "Accept-Encoding"
    assert decode(coding, r.body) == TEXT
    assert int(r.header("content-length")) == len(r.body)


@pytest.mark.parametrize("path, method, extra, why", [
    ("/short", "GET", {}, "below minimum_size"),
    ("/text", "HEAD", {}, "HEAD"),
    ("/text", "GET", {"Range": "bytes=0-9"}, "a Range request"),
    ("/encoded", "GET", {}, "already encoded"),
    ("/no-transform", "GET", {}, "no-transform"),
    ("/binary", "GET", {}, "octet-stream"),
    ("/file/pic.png", "GET", {}, "an image"),
    ("/file/big.txt", "GET", {}, "a file over max_file_size"),
    ("/empty", "GET", {}, "204"),
    ("/file/missing.txt", "GET", {}, "a 404 from the file response"),
])
def test_left_alone(app_and_addr, path, method, extra, why):
    app, addr = app_and_addr
    r = get(addr, path, method=method, headers={"Accept-Encoding": "gzip", **extra})
    assert r.header("content-encoding") == ("gzip" if path == "/encoded" else None), why
    if path == "/encoded":
        assert gzip.decompress(r.body) == TEXT


def test_json_and_small_files_are_compressed_with_a_weak_etag(app_and_addr):
    app, addr = app_and_addr
    r = get(addr, "/json", headers={"Accept-Encoding": "gzip"})
    assert r.header("content-encoding") == "gzip" and gzip.decompress(r.body).startswith(b'{"text":')
    r = get(addr, "/etag", headers={"Accept-Encoding": "gzip"})
    assert (r.header("etag"), gzip.decompress(r.body)) == ('W/"v1"', TEXT)
    r = get(addr, "/file/small.txt", headers={"Accept-Encoding": "gzip"})
    assert r.header("content-encoding") == "gzip" and r.header("vary") == "Accept-Encoding"
    assert r.header("etag").startswith('W/"') and r.header("accept-ranges") is None
    assert gzip.decompress(r.body) == TEXT
    etag = r.header("etag")
    r = get(addr, "/file/small.txt", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert (r.status, r.body) == (304, b"")
    plain = get(addr, "/file/small.txt")
    assert plain.body == TEXT and plain.header("etag") == etag[2:] and plain.header("vary") == "Accept-Encoding"


def test_large_files_compressed_when_asked(serve, tmp_path):
    app = Catzilla()
    app.add_middleware(GZipMiddleware, max_file_size=None)
    data = os.urandom(300_000).hex().encode()          # 600 KB of hex: compressible, not trivially
    (tmp_path / "big.txt").write_bytes(data)

    @app.get("/big")
    def big(request):
        return FileResponse(str(tmp_path / "big.txt"))

    addr = serve(app)
    r = get(addr, "/big", headers={"Accept-Encoding": "gzip"})
    assert r.header("transfer-encoding") == "chunked" and r.header("content-encoding") == "gzip"
    assert gzip.decompress(r.body) == data and len(r.body) < len(data) * 0.7


@pytest.mark.skipif(brotli is None or zstandard is None, reason="the compression extra is not installed")
@pytest.mark.parametrize("accept, coding", [
    ("gzip, br, zstd", "zstd"),
    ("gzip, br", "br"),
    ("gzip;q=1, br;q=0.9, zstd;q=0.8", "gzip"),
    ("br;q=0.5, zstd;q=0.5", "zstd"),
])
def test_brotli_and_zstd(serve, accept, coding):
    app = Catzilla()
    app.add_middleware(CompressionMiddleware)

    @app.get("/text")
    def text(request):
        return Response(TEXT, media_type="text/plain")

    @app.get("/stream")
    async def stream(request):
        async def agen():
            for i in range(3):
                yield f"line {i}\n"
        return StreamingResponse(agen())

    addr = serve(app)
    r = get(addr, "/text", headers={"Accept-Encoding": accept})
    assert r.header("content-encoding") == coding and decode(coding, r.body) == TEXT
    r = get(addr, "/stream", headers={"Accept-Encoding": accept})
    assert r.header("content-encoding") == coding
    assert decode(coding, r.body) == b"line 0\nline 1\nline 2\n"


def test_bad_options_fail_at_definition_time():
    app = Catzilla()
    with pytest.raises(ValueError):
        app.add_middleware(CompressionMiddleware, encodings=("deflate",))
    with pytest.raises(ValueError):
        app.add_middleware(CompressionMiddleware, minimum_size=-1)
    with pytest.raises(ValueError):
        app.add_middleware(GZipMiddleware, compresslevel=11)


def test_gzip_encoder_round_trips_and_refuses_use_after_close():
    enc = GzipEncoder(9)
    d = zlib.decompressobj(31)
    out = b""
    for i in range(100):
        piece = enc.feed(b"%d " % i * 50) + enc.flush()
        out += d.decompress(piece)
        assert out.endswith(b"%d " % i)              # decodable once flushed
    big = os.urandom(100_000)                          # released-GIL path, incompressible
    assert d.decompress(enc.feed(memoryview(big)) + enc.flush()) == big
    assert enc.flush() == b""                          # nothing new since the last flush
    assert d.decompress(enc.close(b"tail")) == b"tail" and d.eof
    with pytest.raises(ValueError):
        enc.feed(b"x")


# -- streams stay incremental -------------------------------------------------------

class ChunkReader:
    """Reads a chunked, gzip-coded response incrementally (by the tests' one
    response reader), decoding each chunk as it arrives."""

    def __init__(self, sock):
        self.c = RawClient(None, sock=sock)
        self.d = zlib.decompressobj(31)

    def head(self):
        return self.c.read_head().raw_head.decode("latin-1").lower()

    def chunk(self):
        """The decoded bytes of the next chunk, or None at the last chunk."""
        assert self.c.reader.framing == "chunked"
        piece = self.c.read_chunk()
        return None if piece is None else self.d.decompress(piece)


@pytest.mark.serial
@pytest.mark.parametrize("kind", ["sync", "async", "sse-sync", "sse-async"])
def test_paced_streams_arrive_chunk_by_chunk_through_gzip(serve, kind):
    app = Catzilla()
    app.add_middleware(GZipMiddleware)
    yielded = {}
    n = 5

    def items():
        for i in range(n):
            yielded[i] = time.monotonic()
            yield f"token {i}\n" if not kind.startswith("sse") else {"data": f"token {i}", "id": str(i)}
            time.sleep(0.25)

    async def aitems():
        for i in range(n):
            yielded[i] = time.monotonic()
            yield f"token {i}\n" if not kind.startswith("sse") else {"data": f"token {i}", "id": str(i)}
            await asyncio.sleep(0.25)

    @app.get("/stream")
    def stream(request):
        source = items() if kind.endswith("sync") and not kind.endswith("async") else aitems()
        if kind.startswith("sse"):
            return EventSourceResponse(source, ping=None)
        return StreamingResponse(source)

    addr = serve(app)
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
        r = ChunkReader(s)
        head = r.head()
        assert "content-encoding: gzip" in head and "transfer-encoding: chunked" in head
        text = b""
        i = 0
        while True:
            piece = r.chunk()
            if piece is None:
                break
            if not piece:
                continue                 # a chunk of gzip header bytes only
            arrived = time.monotonic()
            expected = (f"token {i}\n" if not kind.startswith("sse") else f"id: {i}\ndata: token {i}\n\n").encode()
            assert piece == expected, f"chunk {i} arrived whole and alone"
            if i == 0:
                assert arrived - yielded[0] < 0.1, "the first item arrives at once"
            else:
                assert arrived < yielded[i] + 0.2 and i in yielded
            text += piece
            i += 1
        assert i == n and r.d.eof and r.d.unused_data == b""


def test_sse_pings_pass_through_gzip(serve):
    app = Catzilla()
    app.add_middleware(GZipMiddleware)

    @app.get("/events")
    def events(request):
        def gen():
            yield {"data": "a"}
            time.sleep(0.5)                  # pings every 0.1 s meanwhile, framed on the loop
            yield {"data": "b"}
        return EventSourceResponse(gen(), ping=0.1)

    addr = serve(app)
    r = get(addr, "/events", headers={"Accept-Encoding": "gzip"})
    text = gzip.decompress(r.body).decode()
    assert text.startswith("data: a\n\n") and text.endswith("data: b\n\n")
    assert text.count(": ping\n\n") >= 2


def test_hang_up_through_gzip_stops_the_generator(serve):
    app = Catzilla()
    app.add_middleware(GZipMiddleware)
    closed = threading.Event()

    @app.get("/forever")
    def forever(request):
        def gen():
            try:
                while True:
                    yield "x" * 100 + "\n"
                    time.sleep(0.01)
            finally:
                closed.set()
        return StreamingResponse(gen())

    addr = serve(app)
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"GET /forever HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
        r = ChunkReader(s)
        assert "content-encoding: gzip" in r.head()
        text = b""
        while b"\n" not in text:               # the generator runs: close while it does
            text += r.chunk()
    assert closed.wait(5)


@pytest.mark.serial
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by scripts/system-deps.sh")
def test_curl_compressed_reads_a_paced_sse_stream_incrementally_and_byte_exact(serve):
    app = Catzilla()
    app.add_middleware(GZipMiddleware)
    n = 6

    yielded = {}

    @app.get("/events")
    async def events(request):
        async def agen():
            for i in range(n):
                yielded[i] = time.monotonic()
                yield {"event": "tick", "data": f"{i} " + "é" * i, "id": str(i)}
                await asyncio.sleep(0.3)
        return EventSourceResponse(agen(), ping=None)

    addr = serve(app)
    expected = "".join(f"event: tick\nid: {i}\ndata: {i} {'é' * i}\n\n" for i in range(n)).encode()
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}     # scripts/asan.sh preloads ASan
    p = subprocess.Popen(["curl", "-sSN", "--compressed", "-D", "-", f"http://{addr[0]}:{addr[1]}/events"],
                         stdout=subprocess.PIPE, env=env)
    try:
        out = b""
        deadline = time.monotonic() + 10
        while b"\n\n" not in out.partition(b"\r\n\r\n")[2]:
            assert select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))[0], \
                f"nothing from curl for 10 s: {out!r}"
            data = os.read(p.stdout.fileno(), 65536)
            assert data, "curl ended early"
            out += data
        arrived = time.monotonic()
        assert arrived - yielded[0] < 0.25, "the first event comes out of curl before the second is yielded"
        rest, _ = p.communicate(timeout=10)
        out += rest
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    head, body = out.split(b"\r\n\r\n", 1)
    assert b"content-encoding: gzip" in head.lower()
    assert body == expected


@pytest.mark.parametrize("kind", ["list", "sync", "async"])
def test_items_produced_back_to_back_share_one_flush(serve, kind):
    """A fast source's items are compressed together (a flush per write, not per
    item): 10,000 short lines come out as small as a whole-body gzip, not as
    10,000 sync-flush markers (which would be larger than the text)."""
    app = Catzilla()
    app.add_middleware(GZipMiddleware)
    lines = [f"Data {i}\n" for i in range(10_000)]
    text = "".join(lines).encode()

    @app.get("/lines")
    def stream(request):
        if kind == "list":
            return StreamingResponse(lines)
        if kind == "sync":
            return StreamingResponse(iter(lines))

        async def agen():
            for line in lines:
                yield line
        return StreamingResponse(agen())

    addr = serve(app)
    r = get(addr, "/lines", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(r.body) == text
    assert len(r.body) < len(text) / 3, (len(r.body), len(text))
