"""catzilla.testing.TestClient: the in-process client that drives the real
server code over a socketpair."""
import asyncio
import json

import pytest

from catzilla import Catzilla, JSONResponse, Response, StreamingResponse
from catzilla.testing import TestClient


def make_app(events=None):
    app = Catzilla()

    @app.get("/")
    def root(request):
        return "hello"

    @app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    def echo(request):
        return {
            "method": request.method,
            "path": request.path,
            "query": {k: request.query_params.getlist(k) for k in request.query_params},
            "headers": {k: request.headers.getlist(k) for k in request.headers},
            "body": request.body.decode("latin-1"),
            "version": request.http_version,
        }

    @app.post("/json")
    def post_json(request):
        return JSONResponse({"received": request.json()}, 201)

    @app.post("/form")
    def post_form(request):
        form = request.form()
        return {k: form.getlist(k) for k in form}

    @app.get("/headers")
    def headers(request):
        resp = Response("h", headers={"X-Custom": "1"})
        resp.headers.append("X-Multi", "a")
        resp.headers.append("X-Multi", "b")
        return resp

    @app.get("/stream")
    def stream(request):
        def gen():
            for i in range(5):
                yield f"chunk{i};"
        return StreamingResponse(gen())

    @app.get("/astream")
    def astream(request):
        async def agen():
            for i in range(3):
                await asyncio.sleep(0.01)
                yield f"a{i}".encode()
        return StreamingResponse(agen(), content_type="application/octet-stream")

    @app.get("/async")
    async def async_handler(request):
        await asyncio.sleep(0.01)
        return {"async": True}

    @app.get("/missing-thing")
    def missing(request):
        return Response("nope", 404)

    if events is not None:
        @app.on_startup
        def start():
            events.append("startup")

        @app.on_shutdown
        def stop():
            events.append("shutdown")

    return app


@pytest.fixture
def client():
    with TestClient(make_app()) as c:
        yield c


def test_get(client):
    r = client.get("/")
    assert (r.status_code, r.text, r.content) == (200, "hello", b"hello")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-length"] == "5"
    assert r.http_version == "1.1"


def test_get_with_params_and_headers(client):
    r = client.get("/echo", params={"a": ["1", "2"], "b": "x y"}, headers={"X-Test": "yes", "X-Other": "o"})
    d = r.json()
    assert d["method"] == "GET" and d["path"] == "/echo"
    assert d["query"] == {"a": ["1", "2"], "b": ["x y"]}
    assert d["headers"]["x-test"] == ["yes"] and d["headers"]["x-other"] == ["o"]
    assert d["headers"]["host"] == ["testserver"]
    # params appended to a path that already has a query
    assert client.get("/echo?z=0", params={"a": "1"}).json()["query"] == {"z": ["0"], "a": ["1"]}
    # headers as a list of pairs, repeated names kept
    r = client.get("/echo", headers=[("X-M", "1"), ("X-M", "2")])
    assert r.json()["headers"]["x-m"] == ["1", "2"]


def test_post_json(client):
    r = client.post("/json", json={"a": [1, 2], "b": None})
    assert r.status_code == 201
    assert r.json() == {"received": {"a": [1, 2], "b": None}}
    assert r.headers["content-type"] == "application/json"


def test_post_data_form(client):
    r = client.post("/form", data={"name": "café", "tags": ["a", "b"]})
    assert r.status_code == 200
    assert r.json() == {"name": ["café"], "tags": ["a", "b"]}


def test_post_content_bytes_and_str(client):
    r = client.post("/echo", content=b"\x00raw bytes\xff")
    assert r.json()["body"] == "\x00raw bytes\xff"
    r = client.put("/echo", content="text body")
    assert r.json()["method"] == "PUT" and r.json()["body"] == "text body"
    # POST without a body sends Content-Length: 0
    r = client.post("/echo")
    assert r.json()["body"] == "" and r.json()["headers"]["content-length"] == ["0"]


def test_other_methods(client):
    for method in ("patch", "delete", "options"):
        r = getattr(client, method)("/echo")
        assert r.json()["method"] == method.upper()


def test_http10_request(client):
    r = client.get("/echo", http_version="1.0")
    assert r.json()["version"] == "1.0"
    assert "host" not in r.json()["headers"]


def test_head(client):
    g = client.get("/")
    h = client.head("/")
    assert h.status_code == 200
    assert h.content == b""
    assert h.headers["content-length"] == g.headers["content-length"] == "5"


def test_response_headers_and_header_list(client):
    r = client.get("/headers")
    assert r.headers["x-custom"] == "1"
    assert r.header_list("X-Multi") == ["a", "b"]
    assert "date" in r.headers and "server" in r.headers


def test_status_codes(client):
    assert client.get("/missing-thing").status_code == 404
    assert client.get("/not-a-route").status_code == 404
    r = client.post("/")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_async_handler(client):
    assert client.get("/async").json() == {"async": True}


def test_stream_iterates_chunks(client):
    with client.stream("GET", "/stream") as s:
        assert s.status_code == 200
        assert s.headers["transfer-encoding"] == "chunked"
        pieces = list(s.iter_bytes())
    assert b"".join(pieces) == b"chunk0;chunk1;chunk2;chunk3;chunk4;"
    assert len(pieces) >= 1 and all(pieces)


def test_stream_async_generator_read(client):
    with client.stream("GET", "/astream") as s:
        assert s.headers["content-type"] == "application/octet-stream"
        assert s.read() == b"a0a1a2"


def test_stream_non_streaming_response(client):
    with client.stream("GET", "/") as s:
        assert s.read() == b"hello"


def test_stream_rejects_unknown_arguments(client):
    with pytest.raises(TypeError):
        client.stream("GET", "/", bogus=1)


def test_stream_read_full_body_via_get(client):
    r = client.get("/stream")
    assert r.content == b"chunk0;chunk1;chunk2;chunk3;chunk4;"


def test_raw(client):
    data = client.raw(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.endswith(b"\r\n\r\nhello")
    data = client.raw(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"connection: close" in data.lower()
    data = client.raw(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert data.count(b"HTTP/1.1 200 ") == 2


def test_startup_and_shutdown_hooks():
    events = []
    client = TestClient(make_app(events))
    assert events == ["startup"]
    assert client.get("/").status_code == 200
    client.close()
    assert events == ["startup", "shutdown"]
    client.close()   # idempotent
    assert events == ["startup", "shutdown"]


def test_many_requests_on_one_client(client):
    for i in range(200):
        assert client.get("/echo", params={"i": str(i)}).json()["query"] == {"i": [str(i)]}
