"""What middleware may know of a response before it is sent (Response.body_info,
catzilla/response.pyx): its kind and length, computed by the response itself --
a file opened and stat()ed once per request, whatever middleware asked -- and
the one home of the weak-ETag rule and of HTTP/1.0 stream framing."""
import gzip
import os

import pytest

from catzilla import Catzilla, FileResponse, Response, StreamingResponse
from catzilla.broadcast import Broadcast
from catzilla.compression import CompressionMiddleware
from catzilla.testing import TestClient
from wire import parse_response

TEXT = b"All work and no play makes Jack a dull boy.\n" * 100      # 4,400 bytes


def info(response):
    i = response.body_info
    return i.kind, i.length, i.filterable


def test_each_kind_describes_itself(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(TEXT)
    assert info(Response(b"abc")) == ("bytes", 3, True)
    assert info(Response("h\u00e9")) == ("bytes", 3, True)                # UTF-8 bytes, not characters
    assert info(Response()) == ("bytes", 0, True)
    assert info(StreamingResponse(iter([b"a"]))) == ("stream", None, True)
    assert info(FileResponse(path)) == ("file", len(TEXT), True)
    assert info(FileResponse(tmp_path / "missing.txt")) == ("file", None, True)   # answers 404 itself
    assert info(FileResponse(tmp_path)) == ("file", None, True)                    # a directory: 404
    assert info(Broadcast().sse("news")) == ("stream", None, False)       # one encoding for all subscribers
    r = Response(b"abc")
    r.body = b"abcdef"
    assert r.body_info.length == 6                                        # the body as it is now


def test_a_feed_refuses_a_filter():
    class Upper:
        def feed(self, data): return data.upper()
        def flush(self): return b""
        def close(self, data=b""): return data.upper()
    assert Broadcast().sse("news").wrap_body(Upper()) is False
    assert Response(b"x").wrap_body(Upper()) is True


def counting(monkeypatch, path):
    """Count os.open of `path`, fstat of what it returned, and os.stat of `path`."""
    calls = {"open": 0, "fstat": 0, "stat": 0}
    fds = set()
    real_open, real_fstat, real_stat = os.open, os.fstat, os.stat

    def open_(p, *a, **kw):
        fd = real_open(p, *a, **kw)
        if os.fsdecode(p) == str(path):
            calls["open"] += 1
            fds.add(fd)
        return fd

    def fstat(fd, *a, **kw):
        if fd in fds:
            calls["fstat"] += 1
        return real_fstat(fd, *a, **kw)

    def stat(p, *a, **kw):
        if not isinstance(p, int) and os.fsdecode(p) == str(path):
            calls["stat"] += 1
        return real_stat(p, *a, **kw)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "fstat", fstat)
    monkeypatch.setattr(os, "stat", stat)
    return calls


@pytest.mark.parametrize("accept, compressed", [("gzip", True), ("identity", False)])
def test_compression_stats_a_file_once(tmp_path, monkeypatch, accept, compressed):
    path = tmp_path / "page.txt"
    path.write_bytes(TEXT)
    app = Catzilla()
    app.add_middleware(CompressionMiddleware, minimum_size=100, encodings=("gzip",))

    @app.get("/page")
    def page(request):
        return FileResponse(path)

    calls = counting(monkeypatch, path)
    with TestClient(app) as client:
        for n in range(1, 3):
            r = client.get("/page", headers={"accept-encoding": accept})
            assert r.status_code == 200
            body = gzip.decompress(r.content) if compressed else r.content
            assert body == TEXT
            assert (r.headers.get("content-encoding") == "gzip") is compressed
            assert calls == {"open": n, "fstat": n, "stat": 0}


def test_wrapped_bodies_get_a_weak_etag(tmp_path):
    path = tmp_path / "page.txt"
    path.write_bytes(TEXT)
    app = Catzilla()
    app.add_middleware(CompressionMiddleware, minimum_size=100, encodings=("gzip",))

    @app.get("/given")
    def given(request):
        return Response(TEXT, headers={"etag": '"v1"'}, media_type="text/plain")

    @app.get("/weak")
    def weak(request):
        return Response(TEXT, headers={"etag": 'W/"v2"'}, media_type="text/plain")

    @app.get("/file")
    def file(request):
        return FileResponse(path)

    with TestClient(app) as client:
        gz = {"accept-encoding": "gzip"}
        assert client.get("/given", headers=gz).headers["etag"] == 'W/"v1"'
        assert client.get("/given").headers["etag"] == '"v1"'                 # not wrapped: stays strong
        assert client.get("/weak", headers=gz).headers["etag"] == 'W/"v2"'    # never W/W/
        strong = client.get("/file").headers["etag"]
        r = client.get("/file", headers=gz)
        assert strong.startswith('"') and r.headers["etag"] == "W/" + strong
        # the weak tag validates the wrapped body (weak comparison for If-None-Match)
        assert client.get("/file", headers={**gz, "if-none-match": r.headers["etag"]}).status_code == 304


def test_http10_gets_a_wrapped_file_raw_then_close(tmp_path):
    path = tmp_path / "page.txt"
    path.write_bytes(TEXT)
    app = Catzilla()
    app.add_middleware(CompressionMiddleware, minimum_size=100, encodings=("gzip",))

    @app.get("/file")
    def file(request):
        return FileResponse(path)

    with TestClient(app) as client:
        raw = client.raw(b"GET /file HTTP/1.0\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
    resp = parse_response(raw)                               # the body: what came until the close
    assert resp.version == "HTTP/1.1" and resp.status == 200
    assert resp.header("content-encoding") == "gzip" and resp.header("connection") == "close"
    assert not resp.has("transfer-encoding") and not resp.has("content-length")
    assert gzip.decompress(resp.body) == TEXT                # raw, ended by the close
