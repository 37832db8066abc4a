"""Tests of catzilla.request.Request: the unit-test constructor (parsed by the
server's own C parser), the lazy views, the async body API through the real
server, and the buffer pinning that keeps a held Request's bytes intact."""
import asyncio
import gc
import hashlib
import os

import pytest

from catzilla import Catzilla, HTTPException, Request
from catzilla.datastructures import Headers, QueryParams
from catzilla.request import RequestBody
from catzilla.testing import TestClient
from wire import parse_responses


def run(awaitable):
    async def wrap():
        return await awaitable
    return asyncio.run(wrap())


# ------------------------------------------------------------------ Request(...)


def test_defaults():
    r = Request()
    assert (r.method, r.path, r.query_string, r.http_version) == ("GET", "/", "", "1.1")
    assert r.query_params == QueryParams() and isinstance(r.query_params, QueryParams)
    assert isinstance(r.headers, Headers)
    assert r.headers.items() == [("host", "testserver")]
    assert r.body == b"" and type(r.body) is bytes
    assert r.url == "http://testserver/"
    assert (r.client, r.app, r.path_params, r.content_type) == (None, None, None, None)
    assert r.cookies == {}
    assert repr(r) == "<Request GET />"


def test_method_path_and_query():
    r = Request("DELETE", "/caf%C3%A9/a%2Fb?x=1&x=2&y=%C3%A9&flag", client=("10.0.0.1", 4321))
    assert r.method == "DELETE"
    assert r.path == "/café/a/b"
    assert r.query_string == "x=1&x=2&y=%C3%A9&flag"
    assert r.query_params.getlist("x") == ["1", "2"]
    assert r.query_params["y"] == "é"
    assert r.query_params["flag"] == ""
    assert r.url == "http://testserver/café/a/b?x=1&x=2&y=%C3%A9&flag"
    assert r.client == ("10.0.0.1", 4321)


def test_methods_are_case_sensitive_tokens():
    assert Request("get").method == "get"
    assert Request("M-SEARCH", "*").path == "*"


def test_headers_multi_valued_and_case_insensitive():
    r = Request("GET", "/", [("X-Multi", "1"), ("Accept", "text/html"), ("x-multi", "2"), ("HOST", "example.org")])
    h = r.headers
    assert h.getlist("X-MULTI") == ["1", "2"]
    assert h["x-multi"] == "1"
    assert h.keys() == ["x-multi", "accept", "host"]     # the given Host: none added
    assert len(h) == 3 and len(h.items()) == 4
    assert r.headers is h                                  # built once
    assert r.url == "http://example.org/"


def test_headers_from_dict_bytes_and_latin1():
    r = Request("GET", "/", {"Accept": ["a/b", "c/d"], b"X-Raw": b"caf\xe9", "X-Tab": "a\tb"})
    assert r.headers.getlist("accept") == ["a/b", "c/d"]
    assert r.headers["x-raw"] == "café"                    # latin-1 on the wire, decoded back
    assert r.headers["x-tab"] == "a\tb"


def test_cookies():
    r = Request("GET", "/", [("Cookie", "a=1; b=two"), ("Cookie", "c=3")])
    assert r.cookies == {"a": "1", "b": "two", "c": "3"}


def test_body_is_exact_bytes():
    # plain bytes in the sync API (what orjson and friends want); RequestBody,
    # also callable for `await request.body()`, only for async endpoints
    r = Request("POST", "/upload", {"Content-Type": "application/octet-stream"}, b"\x00raw\xff")
    body = r.body
    assert type(body) is bytes
    assert body == b"\x00raw\xff" and len(body) == 5 and body[1:4] == b"raw"
    assert r.body is body                                   # cached
    assert r.headers["content-length"] == "5"               # added for the body
    assert Request("POST", "/", None, "é").body == "é".encode()
    called = RequestBody(b"ab")                             # what async endpoints get
    assert called == b"ab" and isinstance(called, bytes)
    got = run(called())
    assert got == b"ab" and type(got) is bytes
    assert Request("POST", "/", None, bytearray(b"ab")).body == b"ab"


def test_json():
    r = Request("POST", "/", {"Content-Type": "application/json"}, '{"a": [1, 2], "b": null}')
    assert r.json() == {"a": [1, 2], "b": None}
    assert r.json() is r.json()                             # cached
    assert r.content_type == "application/json"
    null = Request("POST", "/", None, b"null")
    assert null.json() is None and null.json() is None
    with pytest.raises(HTTPException) as info:
        Request("POST", "/", None, b"{nope").json()
    assert info.value.status_code == 400


def test_form_urlencoded_and_multipart():
    r = Request("POST", "/f", {"Content-Type": "application/x-www-form-urlencoded"}, "a=1&b=caf%C3%A9&a=3+4")
    form = r.form()
    assert form.getlist("a") == ["1", "3 4"] and form["b"] == "café"
    assert r.form() is form
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"t.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nhello\r\n--XX--\r\n")
    up = Request("POST", "/", {"Content-Type": "multipart/form-data; boundary=XX"}, body).form()["f"]
    assert (up.filename, up.read()) == ("t.txt", b"hello")
    with pytest.raises(HTTPException) as info:
        Request("POST", "/", {"Content-Type": "multipart/form-data"}, b"x").form()   # no boundary
    assert info.value.status_code == 400


def test_absolute_form_and_http10():
    r = Request("GET", "http://example.org:8080/p%20q?z=1")
    assert r.path == "/p q" and r.query_params["z"] == "1"
    assert r.headers["host"] == "example.org:8080"
    assert r.url == "http://example.org:8080/p q?z=1"
    old = Request("GET", "/x", http_version="1.0")
    assert old.http_version == "1.0"


@pytest.mark.parametrize("kwargs", [
    dict(method="GE T"),
    dict(method="G\r\nET"),
    dict(method=""),
    dict(url="/a b"),
    dict(url="/a\r\nX-Injected: 1"),
    dict(url="relative/path"),
    dict(url="/café"),
    dict(headers={"X": "a\r\nb"}),
    dict(headers={"X": "nul\x00"}),
    dict(headers={"Bad Name": "1"}),
    dict(headers={"": "1"}),
    dict(headers={"X": "snow \u2603"}),
    dict(headers=[("Host", "a"), ("Host", "b")]),
    dict(headers={"Content-Length": "3"}, body=b"ab"),
    dict(headers={"Transfer-Encoding": "chunked"}, body=b"ab"),
    dict(http_version="2.0"),
])
def test_bad_input_is_value_error(kwargs):
    with pytest.raises(ValueError):
        Request(**kwargs)


def test_bad_types():
    with pytest.raises(TypeError):
        Request("POST", "/", None, 42)
    with pytest.raises(TypeError):
        Request("GET", "/", {"X": 1.5})
    with pytest.raises(TypeError):
        Request("GET", "/", "X: 1")


def test_not_reinitialisable_and_uninitialised_is_safe():
    r = Request()
    with pytest.raises(TypeError):
        r.__init__()
    bare = Request.__new__(Request)
    for view in ("body", "headers", "query_string", "url"):
        with pytest.raises(RuntimeError):
            getattr(bare, view)


def test_request_in_a_collected_cycle():
    r = Request("POST", "/", None, b"data")
    r.state.me = r
    del r
    gc.collect()      # __dealloc__ runs with its buffer still attached (no_gc_clear)


# ------------------------------------------------------------------ through the server


def make_app(with_hook=False):
    app = Catzilla()
    if with_hook:
        @app.before_request
        def hook(request):
            request.state.hooked = True

    @app.post("/async/json")
    async def async_json(request):
        data = await request.json()
        return {"got": data, "again": (await request.json()) is data}

    @app.post("/async/body")
    async def async_body(request):
        raw = await request.body()
        return {"exact_bytes": type(raw) is bytes, "same": raw == request.body,
                "len": len(request.body), "text": raw.decode(),
                "attribute_type": type(request.body).__name__}

    @app.post("/async/form")
    async def async_form(request):
        form = await request.form()
        return {k: form.getlist(k) for k in form}

    @app.post("/sync/json")
    def sync_json(request):
        data = request.json()
        return {"type": type(data).__name__, "body_type": type(request.body).__name__}

    return app


@pytest.fixture(params=[False, True], ids=["fast-path", "with-hook"])
def client(request):
    with TestClient(make_app(with_hook=request.param)) as c:
        yield c


def test_async_json(client):
    r = client.post("/async/json", json={"a": [1, 2]})
    assert r.status_code == 200
    assert r.json() == {"got": {"a": [1, 2]}, "again": True}


def test_async_invalid_json_is_400(client):
    r = client.post("/async/json", content=b"{broken", headers={"content-type": "application/json"})
    assert r.status_code == 400
    # json.loads's own message, with the position
    assert r.json() == {"detail": "invalid JSON body: Expecting property name enclosed in double quotes: "
                                  "line 1 column 2 (char 1)"}


def test_json_means_json_loads(client):
    # msgspec decodes; what it refuses, the standard library answers (NaN, Infinity)
    big = 123456789012345678901234567890
    r = client.post("/async/json", content=b'{"n": %d, "u": "\\u00e9", "x": [1.5, -0, true, null]}' % big)
    assert r.json() == {"got": {"n": big, "u": "\u00e9", "x": [1.5, 0, True, None]}, "again": True}
    r = client.post("/async/json", content=b'[NaN, Infinity]')
    assert r.status_code == 200 and r.content == b'{"got":[null,null],"again":true}'   # sent back as null


def test_async_body(client):
    r = client.post("/async/body", content="héllo")
    assert r.json() == {"exact_bytes": True, "same": True, "len": 6, "text": "héllo",
                        "attribute_type": "RequestBody"}


def test_async_form(client):
    r = client.post("/async/form", data={"a": ["1", "2"], "b": "é"})
    assert r.json() == {"a": ["1", "2"], "b": ["é"]}


def test_sync_endpoint_keeps_the_sync_api(client):
    r = client.post("/sync/json", json=[1])
    assert r.json() == {"type": "list", "body_type": "bytes"}


# ------------------------------------------------------------------ pinning


def test_held_requests_keep_their_bytes():
    """A handler keeps every Request; their lazy views are read only after later
    requests on the same connection: a reused or compacted buffer would show
    other bytes."""
    app = Catzilla()
    held = []

    @app.post("/keep/{n:int}")
    def keep(request, n):
        held.append(request)
        return "ok"

    @app.post("/echo")
    def echo(request):
        return {"n": len(request.body), "sha": hashlib.sha256(request.body).hexdigest()}

    bodies = [os.urandom(100 + 37 * i) for i in range(6)]
    raw = b"".join(
        f"POST /keep/{i}?i={i} HTTP/1.1\r\nHost: h{i}\r\nX-I: {i}\r\nContent-Length: {len(b)}\r\n\r\n".encode() + b
        for i, b in enumerate(bodies))
    # a large body after them makes the connection grow or replace its buffer
    big = os.urandom(600_000)
    raw += f"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(big)}\r\n\r\n".encode() + big
    with TestClient(app) as c:
        out = c.raw(raw)
    responses = parse_responses(out)
    assert [(r.version, r.status) for r in responses] == [("HTTP/1.1", 200)] * (len(bodies) + 1)
    assert responses[-1].json() == {"n": len(big), "sha": hashlib.sha256(big).hexdigest()}
    assert len(held) == len(bodies)
    for i, (req, body) in enumerate(zip(held, bodies)):
        assert req.body == body
        assert req.headers["x-i"] == str(i) and req.headers["host"] == f"h{i}"
        assert req.query_params["i"] == str(i)


def test_body_arriving_after_a_pipelined_request():
    """The second request's head is parsed (its Request made) while its body is
    still arriving and the first request's bytes sit before it in the buffer:
    when the connection moves the bytes, the Request must follow them."""
    app = Catzilla()

    @app.get("/first")
    def first(request):
        return "first"

    @app.post("/echo")
    def echo(request):
        return {"n": len(request.body), "sha": hashlib.sha256(request.body).hexdigest(),
                "h": request.headers["x-check"]}

    big = os.urandom(900_000)
    raw = (b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
           + f"POST /echo HTTP/1.1\r\nHost: x\r\nX-Check: yes\r\nConnection: close\r\n"
             f"Content-Length: {len(big)}\r\n\r\n".encode() + big)
    with TestClient(app) as c:
        out = c.raw(raw)
    first, second = parse_responses(out)
    assert (first.version, first.status, first.body) == ("HTTP/1.1", 200, b"first")
    assert second.json() == {"n": len(big), "sha": hashlib.sha256(big).hexdigest(), "h": "yes"}
