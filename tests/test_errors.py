"""Errors through the app: HTTPException answers JSON {"detail": ...}; exception
handlers keyed by class or status code see the router's 404/405 and the
server's own protocol errors (400, 408, 413, 414, 431); the access log names
the method and target of every answered request, early errors included;
stream and WebSocket errors name their request. Real sockets throughout."""
import asyncio
import logging

import pytest

from catzilla import (Catzilla, HTTPException, JSONResponse, PlainTextResponse, StreamingResponse,
                      WebSocketDisconnect)
from catzilla.testing import TestClient
from procs import wait_until
from wire import RawClient, build_request, chunked, get


def plain_app(**settings):
    app = Catzilla(**settings)

    @app.get("/items")
    def items(request):
        return {"items": []}

    @app.post("/upload")
    def upload(request):
        return {"n": len(request.body)}

    return app


def raw(addr, data: bytes) -> RawClient:
    c = RawClient(addr)
    c.send(data)
    return c


# -- the default answer: JSON {"detail": ...} -----------------------------------------

def test_http_exception_default_is_json_detail_with_its_headers(serve):
    app = plain_app()

    @app.get("/teapot")
    def teapot(request):
        raise HTTPException(418, {"reason": "short and stout", "codes": [1, 2]}, {"x-why": "tea"})

    @app.get("/phrase")
    def phrase(request):
        raise HTTPException(409)

    @app.get("/not-json")
    def not_json(request):
        raise HTTPException(400, detail=object())

    addr = serve(app)
    r = get(addr, "/teapot")
    assert (r.status, r.header("content-type"), r.header("x-why")) == (418, "application/json", "tea")
    assert r.json() == {"detail": {"reason": "short and stout", "codes": [1, 2]}}
    assert get(addr, "/phrase").json() == {"detail": "Conflict"}
    r = get(addr, "/nowhere")
    assert (r.status, r.json()) == (404, {"detail": "Not Found"})
    r = get(addr, "/items", method="DELETE")
    assert (r.status, r.json(), r.header("allow")) == (405, {"detail": "Method Not Allowed"}, "GET, HEAD")
    r = get(addr, "/not-json")                       # a detail JSON cannot carry is the server's error
    assert (r.status, r.body) == (500, b"Internal Server Error")
    assert str(HTTPException(404)) == "404: Not Found"


def test_plain_text_errors_by_handler(serve):
    app = plain_app()

    @app.exception_handler(HTTPException)
    def as_text(request, exc):
        return PlainTextResponse(str(exc.detail), exc.status_code, exc.headers)

    addr = serve(app)
    r = get(addr, "/nowhere")
    assert (r.status, r.header("content-type"), r.body) == (404, "text/plain; charset=utf-8", b"Not Found")
    r = get(addr, "/items", method="PUT")
    assert (r.status, r.body, r.header("allow")) == (405, b"Method Not Allowed", "GET, HEAD")


# -- 404 and 405 through the handlers ------------------------------------------------------

@pytest.mark.parametrize("kind", ["sync", "async"])
def test_404_and_405_by_status_code_handlers(serve, kind):
    app = plain_app()
    seen = []

    if kind == "sync":
        @app.exception_handler(404)
        def not_found(request, exc):
            seen.append((request.method, request.path, exc.status_code))
            return JSONResponse({"missing": request.path}, 404)
    else:
        @app.exception_handler(404)
        async def not_found(request, exc):
            await asyncio.sleep(0)
            seen.append((request.method, request.path, exc.status_code))
            return JSONResponse({"missing": request.path}, 404)

    @app.exception_handler(405)
    def not_allowed(request, exc):
        return PlainTextResponse(f"use {exc.headers['allow']}", 405, exc.headers)

    addr = serve(app)
    r = get(addr, "/no/such/thing?x=1")
    assert (r.status, r.json()) == (404, {"missing": "/no/such/thing"})
    assert seen == [("GET", "/no/such/thing", 404)]
    r = get(addr, "/items", method="POST")
    assert (r.status, r.body, r.header("allow")) == (405, b"use GET, HEAD", "GET, HEAD")
    assert get(addr, "/items").json() == {"items": []}       # routes are untouched


def test_404_and_405_by_http_exception_handler_and_status_code_wins(serve):
    app = plain_app()

    @app.exception_handler(HTTPException)
    def any_http(request, exc):
        return JSONResponse({"error": exc.detail, "status": exc.status_code}, exc.status_code, exc.headers)

    @app.exception_handler(405)
    def not_allowed(request, exc):
        return PlainTextResponse("by status", 405, exc.headers)

    addr = serve(app)
    r = get(addr, "/nope")
    assert (r.status, r.json()) == (404, {"error": "Not Found", "status": 404})
    r = get(addr, "/items", method="PATCH")
    assert (r.status, r.body, r.header("allow")) == (405, b"by status", "GET, HEAD")


def test_500_handler_takes_unhandled_exceptions_and_the_traceback_is_logged(serve, caplog):
    app = plain_app()

    class Handled(Exception):
        pass

    @app.get("/boom")
    def boom(request):
        raise RuntimeError("kaboom")

    @app.get("/handled")
    def handled(request):
        raise Handled()

    @app.exception_handler(Handled)
    def on_handled(request, exc):
        return PlainTextResponse("handled", 400)

    @app.exception_handler(500)
    def server_error(request, exc):
        return JSONResponse({"oops": type(exc).__name__}, 500)

    addr = serve(app)
    with caplog.at_level(logging.ERROR, logger="catzilla"):
        r = get(addr, "/boom")
        assert (r.status, r.json()) == (500, {"oops": "RuntimeError"})
        assert (get(addr, "/handled").status) == 400             # a class handler wins
        assert get(addr, "/nope").status == 404                    # an HTTPException is not a 500
    logged = [rec for rec in caplog.records if rec.getMessage() == "handler raised for GET /boom"]
    assert len(logged) == 1 and "kaboom" in str(logged[0].exc_info[1])


def test_exception_handler_keys_are_checked_at_definition():
    app = Catzilla()
    for bad in (200, 600, 99):
        with pytest.raises(ValueError, match="400..599"):
            app.exception_handler(bad)
    for bad in ("404", True, None, int):
        with pytest.raises(TypeError, match="exception class or a status code"):
            app.exception_handler(bad)
    with pytest.raises(TypeError, match="callable"):
        app.add_exception_handler(404, "not a function")
    app.add_exception_handler(404, lambda request, exc: PlainTextResponse("gone", 404))
    with TestClient(app) as client:
        r = client.get("/x")
        assert (r.status_code, r.text) == (404, "gone")


# -- the server's own errors through the handlers ------------------------------------------

def recording_app(**settings):
    """An app whose HTTPException handler answers with what it saw of the request."""
    app = plain_app(**settings)

    @app.exception_handler(HTTPException)
    async def seen(request, exc):
        await asyncio.sleep(0)
        return JSONResponse({"status": exc.status_code, "detail": exc.detail, "method": request.method,
                             "path": request.path, "headers": len(request.headers),
                             "url": request.url, "app": request.app is app}, exc.status_code)
    return app


def answer(addr, data: bytes):
    with raw(addr, data) as c:
        r = c.read_response()
        assert r.header("connection") == "close"
        c.wait_closed()                  # a protocol error ends the connection
        return r


def test_protocol_errors_reach_the_http_exception_handler(serve):
    addr = serve(recording_app(max_body=100, max_request_line=256, max_head_bytes=1024, max_headers=4))
    cases = {
        b"GET /bad\x01path HTTP/1.1\r\nHost: x\r\n\r\n": (400, "invalid request-target", "GET", "/bad"),
        b"G@T / HTTP/1.1\r\n\r\n": (400, "invalid method", "", ""),
        b"GET /" + b"a" * 400 + b" HTTP/1.1\r\n\r\n": (414, "request line too long", "GET", "/" + "a" * 251),
        b"GET /many HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(6)) + b"\r\n":
            (431, "too many headers", "GET", "/many"),
        build_request("POST", "/upload", b"x" * 101): (413, "request body too large", "POST", "/upload"),
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n":
            (400, "malformed chunked body", "POST", "/upload"),
        b"GET /v HTTP/2.0\r\nHost: x\r\n\r\n": (505, "HTTP version not supported", "GET", "/v"),
    }
    for data, (status, detail, method, path) in cases.items():
        r = answer(addr, data)
        body = r.json()
        assert (r.status, body["status"], body["method"], body["path"], body["app"]) == \
            (status, status, method, path, True), data[:60]
        assert detail in body["detail"], (detail, body)
    # a parsed request keeps its headers; an early one has none
    assert answer(addr, build_request("POST", "/upload", b"x" * 101)).json()["headers"] >= 2
    assert answer(addr, b"GET /" + b"a" * 400 + b" HTTP/1.1\r\n\r\n").json()["headers"] == 0


def test_protocol_errors_by_status_code_handler_and_default_json(serve):
    app = plain_app(max_body=10)

    @app.exception_handler(413)
    def too_big(request, exc):
        return PlainTextResponse(f"{request.method} {request.path}: at most 10 bytes", 413)

    addr = serve(app)
    r = answer(addr, build_request("POST", "/upload", b"y" * 11))
    assert (r.status, r.body) == (413, b"POST /upload: at most 10 bytes")
    r = answer(addr, b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunked(b"0123456789", b"abc"))
    assert (r.status, r.body) == (413, b"POST /upload: at most 10 bytes")
    r = answer(addr, b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")        # no 400 handler: the default
    assert (r.status, r.header("content-type")) == (400, "application/json")
    assert r.json() == {"detail": "whitespace before colon"}
    # the server lives and serves the next client
    assert get(addr, "/items").json() == {"items": []}


def test_a_failing_handler_for_a_protocol_error_gives_500_and_the_server_lives(serve):
    app = plain_app()

    @app.exception_handler(400)
    def broken(request, exc):
        raise RuntimeError("handler bug")

    addr = serve(app)
    r = answer(addr, b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")
    assert (r.status, r.body) == (500, b"Internal Server Error")
    assert get(addr, "/items").status == 200


# -- the access log --------------------------------------------------------------------------

def access_lines(caplog):
    return [rec.getMessage() for rec in caplog.records if rec.name == "catzilla.access"]


def test_access_log_names_method_and_target_of_early_errors(serve, caplog):
    caplog.set_level(logging.INFO, logger="catzilla.access")
    addr = serve(plain_app(access_log=True, max_body=100, max_request_line=256, max_headers=4))
    answer(addr, build_request("POST", "/upload?big=1", b"x" * 101))
    answer(addr, b"GET /" + b"a" * 400 + b" HTTP/1.1\r\n\r\n")
    answer(addr, b"GET /many?x=1 HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(6)) + b"\r\n")
    answer(addr, b"PUT /bad\x01 HTTP/1.1\r\n\r\n")
    answer(addr, b"\x16\x03\x01 garbage\r\n\r\n")                      # e.g. TLS to a plain port
    get(addr, "/items?page=2")

    wait_until(lambda: len(access_lines(caplog)) >= 6, 5, "six access-log lines")
    lines = access_lines(caplog)
    assert len(lines) == 6, lines
    assert '"POST /upload?big=1 HTTP/1.1" 413 ' in lines[0]
    assert '"GET /' + "a" * 99 + '...[cut] HTTP/1.1" 414 ' in lines[1]
    assert '"GET /many?x=1 HTTP/1.1" 431 ' in lines[2]
    assert '"PUT /bad HTTP/1.1" 400 ' in lines[3]
    assert '"- - HTTP/1.1" 400 ' in lines[4]
    assert '"GET /items?page=2 HTTP/1.1" 200 ' in lines[5]
    assert all(line.startswith("127.0.0.1:") for line in lines)


@pytest.mark.slow
def test_header_timeout_names_what_arrived(serve, caplog):
    caplog.set_level(logging.INFO, logger="catzilla.access")
    app = recording_app(access_log=True, header_timeout=0.3)
    addr = serve(app)
    with raw(addr, b"GET /slow?x=1 HTTP/1.1\r\nHost: a\r\n") as c:    # the head never ends
        r = c.read_response()
        c.wait_closed()
    assert (r.status, r.json()["method"], r.json()["path"]) == (408, "GET", "/slow")
    assert any('"GET /slow?x=1 HTTP/1.1" 408 ' in line for line in access_lines(caplog))


# -- stream and WebSocket errors name their request -----------------------------------------

@pytest.mark.parametrize("kind", ["sync", "async"])
def test_stream_errors_name_the_request(serve, caplog, kind):
    app = Catzilla()

    if kind == "sync":
        def body():
            yield "first\n"
            raise ValueError("the source broke")
    else:
        async def body():
            yield "first\n"
            raise ValueError("the source broke")

    @app.get("/feed/{name}")
    def feed(request, name):
        return StreamingResponse(body())

    addr = serve(app)
    with caplog.at_level(logging.ERROR, logger="catzilla"):
        with RawClient(addr) as c:
            c.send(build_request("GET", "/feed/prices?since=1"))
            c.read_head()
            assert c.read_cut_body() == b"first\n"
        wait_until(lambda: any("stream aborted" in rec.getMessage() for rec in caplog.records), 5,
                   "the stream's error in the log")
    messages = [rec.getMessage() for rec in caplog.records if "stream aborted" in rec.getMessage()]
    assert messages == ["stream aborted for GET /feed/prices: the response body raised"]


def test_websocket_handler_errors_name_the_request(serve, caplog):
    app = Catzilla()

    @app.websocket("/ws/{room}")
    async def room(ws, room):
        await ws.accept()
        await ws.receive_text()
        raise KeyError("no such user")

    addr = serve(app)
    from websockets.sync.client import connect
    with caplog.at_level(logging.ERROR, logger="catzilla"):
        with connect(f"ws://{addr[0]}:{addr[1]}/ws/lobby") as ws:
            ws.send("hi")
            with pytest.raises(Exception):
                ws.recv(timeout=5)
            assert ws.close_code == 1011
    messages = [rec.getMessage() for rec in caplog.records if "raised after accept" in rec.getMessage()]
    assert messages == ["WebSocket handler for /ws/lobby raised after accept"]
