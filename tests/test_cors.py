"""CORSMiddleware over real sockets, against the Fetch standard's CORS protocol
(https://fetch.spec.whatwg.org/#http-cors-protocol): preflights answered
without reaching the route, simple requests, origins (exact, case, default
ports, "null", regex, "*"), credentials and the echo they require, Vary for
caches, max-age, exposed headers, and streams and event streams that keep
their bodies (and stay incremental) with the CORS headers on."""
from __future__ import annotations

import asyncio
import re
import threading

import pytest

from catzilla import (Catzilla, CORSMiddleware, EventSourceResponse, HTTPException, JSONResponse, Response,
                      StreamingResponse)
from wire import RawClient

ORIGIN = "https://app.example.com"


def cors_app(**options):
    """An app with CORSMiddleware(**options) and a few routes; `calls` counts
    the requests that reached a route."""
    app = Catzilla()
    app.add_middleware(CORSMiddleware, **options)
    calls = []

    @app.route("/items", methods=["GET", "POST", "PUT", "DELETE"])
    def items(request):
        calls.append((request.method, request.path))
        return JSONResponse({"method": request.method}, headers={"x-total": "3", "x-page": "1"})

    @app.get("/vary")
    def vary(request):
        calls.append(("GET", "/vary"))
        return Response("v", headers={"vary": "Accept-Encoding"})

    @app.get("/boom")
    def boom(request):
        raise RuntimeError("boom")

    @app.get("/teapot")
    def teapot(request):
        raise HTTPException(418, "short and stout")

    @app.options("/opt")
    def opt(request):
        calls.append(("OPTIONS", "/opt"))
        return Response(b"", 204, {"allow": "GET, OPTIONS"})

    return app, calls


def preflight(addr, path="/items", origin=ORIGIN, method="GET", headers=None, extra=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    h.update(extra or {})
    with RawClient(addr) as c:
        return c.request("OPTIONS", path, headers=h)


def fetch(addr, path="/items", origin=ORIGIN, method="GET", headers=None):
    h = {} if origin is None else {"Origin": origin}
    h.update(headers or {})
    with RawClient(addr) as c:
        return c.request(method, path, headers=h)


def vary_of(r):
    return [v.strip().lower() for field in r.headers_all("vary") for v in field.split(",") if v.strip()]


def no_cors(r):
    return not any(name.lower().startswith("access-control-") for name, _ in r.header_list)


# -- preflight -------------------------------------------------------------------------------------

def test_preflight_allowed_is_answered_without_the_route(serve):
    app, calls = cors_app(allow_origins=[ORIGIN], allow_methods=["GET", "PUT"],
                          allow_headers=["X-Token", "x-trace"])
    addr = serve(app)
    r = preflight(addr, method="PUT", headers="X-Token, content-type")
    assert r.status == 204 and r.body == b""
    assert r.header("access-control-allow-origin") == ORIGIN
    assert r.header("access-control-allow-methods") == "GET, PUT"
    # the requested headers (lower-cased, as browsers send them), content-type safelisted
    assert r.header("access-control-allow-headers") == "x-token, content-type"
    assert r.header("access-control-max-age") == "600"
    assert r.header("access-control-allow-credentials") is None
    assert vary_of(r) == ["origin", "access-control-request-method", "access-control-request-headers"]
    assert calls == []


def test_preflight_without_any_route_for_the_path(serve):
    app, calls = cors_app(allow_origins=[ORIGIN], allow_methods=["POST"])
    addr = serve(app)
    r = preflight(addr, path="/no/such/route", method="POST")
    assert r.status == 204
    assert r.header("access-control-allow-origin") == ORIGIN
    assert r.header("access-control-allow-methods") == "POST"
    assert r.header("access-control-allow-headers") is None      # none requested
    # the same path without CORS is still a 404, with Vary for caches
    r = fetch(addr, path="/no/such/route")
    assert r.status == 404 and r.header("access-control-allow-origin") == ORIGIN
    assert calls == []


def test_preflight_refused_for_origin_method_or_headers(serve):
    app, calls = cors_app(allow_origins=[ORIGIN], allow_methods=["GET", "POST"], allow_headers=["x-token"])
    addr = serve(app)
    cases = [
        ({"origin": "https://evil.example"}, "Disallowed CORS origin"),
        ({"method": "DELETE"}, "Disallowed CORS method"),
        ({"method": "post"}, "Disallowed CORS method"),              # methods are case-sensitive
        ({"method": "GET x"}, "Disallowed CORS method"),
        ({"headers": "x-token, x-other"}, "Disallowed CORS headers"),
        ({"headers": "bad header"}, "Disallowed CORS headers"),
        ({"origin": "null", "method": "PATCH", "headers": "x-no"}, "Disallowed CORS origin, method, headers"),
    ]
    for kw, reason in cases:
        r = preflight(addr, **kw)
        assert r.status == 400, (kw, r)
        assert r.body.decode() == reason, kw
        assert no_cors(r), (kw, r.header_list)
        assert "origin" in vary_of(r)
    assert calls == []


def test_preflight_header_lists_are_read_like_browsers_and_proxies_send_them(serve):
    app, _ = cors_app(allow_origins=[ORIGIN], allow_methods=["POST"], allow_headers=["X-A", "X-B"])
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(b"OPTIONS /items HTTP/1.1\r\nHost: t\r\nOrigin: " + ORIGIN.encode() + b"\r\n"
               b"Access-Control-Request-Method: POST\r\n"
               b"Access-Control-Request-Headers: X-A,,  x-b \r\n"
               b"Access-Control-Request-Headers: accept, x-a\r\n\r\n")
        r = c.read_response()
    assert r.status == 204
    assert r.header("access-control-allow-headers") == "x-a, x-b, accept"


def test_options_that_is_not_a_preflight_reaches_the_route(serve):
    app, calls = cors_app(allow_origins=[ORIGIN])
    addr = serve(app)
    r = fetch(addr, path="/opt", method="OPTIONS")           # Origin, but no Access-Control-Request-Method
    assert r.status == 204 and r.header("allow") == "GET, OPTIONS"
    assert r.header("access-control-allow-origin") == ORIGIN
    assert calls == [("OPTIONS", "/opt")]
    # ...and a real preflight for the same path does not
    assert preflight(addr, path="/opt", method="GET").status == 204
    assert calls == [("OPTIONS", "/opt")]


def test_max_age_and_its_absence(serve):
    for max_age, expected in ((0, "0"), (86400, "86400"), (None, None)):
        app, _ = cors_app(allow_origins=[ORIGIN], max_age=max_age)
        addr = serve(app)
        r = preflight(addr, method="GET")
        assert r.status == 204 and r.header("access-control-max-age") == expected


# -- origins ---------------------------------------------------------------------------------------

def test_origin_matching_is_exact_but_case_and_default_port_insensitive(serve):
    app, _ = cors_app(allow_origins=["https://App.Example.com:443", "http://localhost:5173"])
    addr = serve(app)
    allowed = ["https://app.example.com", "HTTPS://APP.EXAMPLE.COM", "https://app.example.com:443",
               "http://localhost:5173"]
    refused = ["http://app.example.com", "https://app.example.com:8443", "https://example.com",
               "https://app.example.com.evil.com", "https://evil.com/https://app.example.com",
               "http://localhost", "http://localhost:5174", "https://app.example.com/", "app.example.com",
               "null", ""]
    for origin in allowed:
        r = fetch(addr, origin=origin)
        assert r.status == 200 and r.header("access-control-allow-origin") == origin, origin
        assert preflight(addr, origin=origin, method="GET").status == 204, origin
    for origin in refused:
        r = fetch(addr, origin=origin)
        assert r.status == 200 and r.json() == {"method": "GET"}, origin    # the route still runs
        assert no_cors(r) and vary_of(r) == ["origin"], (origin, r.header_list)
        assert preflight(addr, origin=origin, method="GET").status == 400, origin


def test_null_origin_only_when_listed(serve):
    app, _ = cors_app(allow_origins=["*"], allow_credentials=True)
    addr = serve(app)
    assert no_cors(fetch(addr, origin="null"))
    assert preflight(addr, origin="null", method="GET").status == 400
    app, _ = cors_app(allow_origins=["null"], allow_credentials=True)
    addr = serve(app)
    r = fetch(addr, origin="null")
    assert r.header("access-control-allow-origin") == "null"
    assert r.header("access-control-allow-credentials") == "true"


def test_origin_regex_must_match_the_whole_origin(serve):
    app, _ = cors_app(allow_origins=[ORIGIN], allow_origin_regex=r"https://[a-z0-9-]+\.preview\.example\.com")
    addr = serve(app)
    for origin in ("https://pr-12.preview.example.com", ORIGIN):
        assert fetch(addr, origin=origin).header("access-control-allow-origin") == origin
    for origin in ("https://pr-12.preview.example.com.evil.com", "http://pr-12.preview.example.com",
                   "https://a.b.preview.example.com", "https://pr-12.preview.example.com:8443"):
        assert no_cors(fetch(addr, origin=origin)), origin


def test_several_origin_fields_are_not_an_origin(serve):
    app, _ = cors_app(allow_origins=[ORIGIN, "https://other.example"])
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(b"GET /items HTTP/1.1\r\nHost: t\r\nOrigin: " + ORIGIN.encode()
               + b"\r\nOrigin: https://other.example\r\n\r\n")
        r = c.read_response()
    assert r.status == 200 and no_cors(r)


# -- "*" and credentials ---------------------------------------------------------------------------

def test_wildcards_without_credentials_are_literal(serve):
    app, calls = cors_app(allow_origins="*", allow_methods="*", allow_headers="*", expose_headers="*")
    addr = serve(app)
    r = preflight(addr, method="PATCH", headers="x-anything, x-else")
    assert r.status == 204
    assert r.header("access-control-allow-origin") == "*"
    assert r.header("access-control-allow-methods") == "*"
    assert r.header("access-control-allow-headers") == "*"
    assert r.header("access-control-allow-credentials") is None
    # "*" does not cover Authorization (Fetch): it is named
    r = preflight(addr, method="GET", headers="authorization, x-a")
    assert r.header("access-control-allow-headers") == "authorization, x-a"
    # the answer does not depend on the Origin: the same static header on every
    # response, with or without Origin, and no Vary: Origin
    for origin in ("https://anyone.example", "null", None):
        r = fetch(addr, origin=origin)
        assert r.header("access-control-allow-origin") == "*", origin
        assert r.header("access-control-expose-headers") == "*"
        assert "origin" not in vary_of(r)
    assert len(calls) == 3


def test_wildcards_with_credentials_echo_the_request(serve):
    app, calls = cors_app(allow_origins="*", allow_methods="*", allow_headers="*", allow_credentials=True,
                          expose_headers="*")
    addr = serve(app)
    r = preflight(addr, origin="https://anyone.example", method="PATCH", headers="X-Anything, authorization")
    assert r.status == 204
    assert r.header("access-control-allow-origin") == "https://anyone.example"
    assert r.header("access-control-allow-credentials") == "true"
    assert r.header("access-control-allow-methods") == "PATCH"
    assert r.header("access-control-allow-headers") == "x-anything, authorization"
    r = fetch(addr, origin="https://anyone.example")
    assert r.header("access-control-allow-origin") == "https://anyone.example"
    assert r.header("access-control-allow-credentials") == "true"
    # "*" is a header name with credentials: the response's own headers are named
    exposed = {h.strip() for h in r.header("access-control-expose-headers").split(",")}
    assert exposed == {"x-total", "x-page"}
    assert vary_of(r) == ["origin"]
    # no Origin: nothing but Vary
    r = fetch(addr, origin=None)
    assert r.status == 200 and no_cors(r) and vary_of(r) == ["origin"]


def test_simple_request_with_credentials_and_exposed_headers(serve):
    app, calls = cors_app(allow_origins=[ORIGIN], allow_credentials=True, expose_headers=["X-Total", "x-page"],
                          allow_methods=["GET", "POST"])
    addr = serve(app)
    r = fetch(addr, method="POST", headers={"Content-Type": "text/plain"})
    assert r.status == 200 and r.json() == {"method": "POST"}
    assert r.header("access-control-allow-origin") == ORIGIN
    assert r.header("access-control-allow-credentials") == "true"
    assert r.header("access-control-expose-headers") == "x-total, x-page"
    assert vary_of(r) == ["origin"]
    assert r.header("access-control-allow-methods") is None and r.header("access-control-max-age") is None
    r = preflight(addr, method="POST")
    assert r.header("access-control-allow-credentials") == "true"
    assert r.header("access-control-allow-origin") == ORIGIN


def test_vary_is_merged_and_error_responses_get_cors(serve):
    app, _ = cors_app(allow_origins=[ORIGIN])
    addr = serve(app)
    r = fetch(addr, path="/vary")
    assert r.body == b"v" and r.headers_all("vary") == ["Accept-Encoding, Origin"]
    for path, status in (("/boom", 500), ("/teapot", 418), ("/missing", 404)):
        r = fetch(addr, path=path)
        assert r.status == status, path
        assert r.header("access-control-allow-origin") == ORIGIN, path    # the page can read the error
    r = fetch(addr, path="/items", method="PATCH")
    assert r.status == 405 and r.header("access-control-allow-origin") == ORIGIN


def test_handler_cannot_override_the_policy(serve):
    app = Catzilla()
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN])

    @app.get("/")
    def home(request):
        return Response("x", headers={"access-control-allow-origin": "*"})

    addr = serve(app)
    assert fetch(addr, path="/").headers_all("access-control-allow-origin") == [ORIGIN]
    assert no_cors(fetch(addr, path="/", origin="https://evil.example"))


# -- streams and event streams ---------------------------------------------------------------------

def test_streaming_and_sse_responses_get_cors_headers_and_unchanged_incremental_bodies(serve):
    app = Catzilla()
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True)
    gates = {"stream": threading.Event(), "sse": threading.Event(), "astream": threading.Event()}
    payload = [f"line {i} " * 50 + "\n" for i in range(20)]

    def paced(gate):
        yield payload[0]
        # the rest only once the client has the first chunk: proves it went out alone
        if not gate.wait(5):
            raise RuntimeError("the first chunk never reached the client")
        yield from payload[1:]

    @app.get("/stream")
    def stream(request):
        return StreamingResponse(paced(gates["stream"]), media_type="text/plain")

    @app.get("/astream")
    async def astream(request):
        async def gen():
            yield payload[0]
            for _ in range(500):
                if gates["astream"].is_set():
                    break
                await asyncio.sleep(0.01)
            for item in payload[1:]:
                yield item
        return StreamingResponse(gen(), media_type="text/plain")

    @app.get("/events")
    def events(request):
        def gen():
            yield {"data": "first", "id": "1"}
            if not gates["sse"].wait(5):
                raise RuntimeError("the first event never reached the client")
            yield {"data": "multi\nline", "event": "tick", "id": "2"}
            yield "last"
        return EventSourceResponse(gen(), ping=0)

    addr = serve(app)
    for path, gate, first, expected in (
            ("/stream", gates["stream"], payload[0].encode(), "".join(payload).encode()),
            ("/astream", gates["astream"], payload[0].encode(), "".join(payload).encode()),
            ("/events", gates["sse"], b"id: 1\ndata: first\n\n",
             b"id: 1\ndata: first\n\nevent: tick\nid: 2\ndata: multi\ndata: line\n\ndata: last\n\n")):
        with RawClient(addr) as c:
            c.send(f"GET {path} HTTP/1.1\r\nHost: t\r\nOrigin: {ORIGIN}\r\n\r\n".encode())
            head = c.read_head()
            assert head.status == 200
            assert head.header("transfer-encoding") == "chunked"
            assert head.header("access-control-allow-origin") == ORIGIN, path
            assert head.header("access-control-allow-credentials") == "true"
            assert "origin" in vary_of(head)
            assert c.read_chunk() == first, path        # the first chunk, alone, before the gate opens
            gate.set()
            rest = []
            while (piece := c.read_chunk()) is not None:
                rest.append(piece)
            assert c.reader.trailers == []
        assert first + b"".join(rest) == expected, path


# -- configuration ---------------------------------------------------------------------------------

@pytest.mark.parametrize("options, error", [
    ({"allow_origins": ["https://a.example/"]}, ValueError),
    ({"allow_origins": ["a.example"]}, ValueError),
    ({"allow_origins": ["https://user@a.example"]}, ValueError),
    ({"allow_origins": ["https://a.example:99999"]}, ValueError),
    ({"allow_origins": [42]}, TypeError),
    ({"allow_origin_regex": "https://(unclosed"}, ValueError),
    ({"allow_methods": ["GET POST"]}, ValueError),
    ({"allow_methods": ["GET", "PO\u00a7T"]}, ValueError),
    ({"allow_headers": ["x token"]}, ValueError),
    ({"allow_headers": ["x:y"]}, ValueError),
    ({"expose_headers": ["bad\nname"]}, ValueError),
    ({"max_age": -1}, ValueError),
    ({"max_age": "600"}, TypeError),
    ({"max_age": True}, TypeError),
    ({"allow_credentials": "yes"}, TypeError),
])
def test_bad_settings_fail_when_added(options, error):
    app = Catzilla()
    with pytest.raises(error):
        app.add_middleware(CORSMiddleware, **options)
    assert app.plan().layers == ()


def test_settings_given_as_strings():
    m = CORSMiddleware(allow_origins="https://a.example, https://b.example:8443", allow_methods="get, post",
                       allow_headers="X-A")
    assert m.origins == {"https://a.example", "https://b.example:8443"}
    assert m.methods == {"GET", "POST"} and "x-a" in m.headers
    # credentials with "*" is allowed (and answered by echo, see above)
    assert CORSMiddleware(allow_origins="*", allow_credentials=True).static is False
