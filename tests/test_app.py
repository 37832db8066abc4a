"""The application API through the real server and real sockets: handlers,
hooks, exception handling, return types, response headers and cookies,
response-splitting protection, the Request API, route groups, route errors."""
import asyncio
import json
import socket
import sys
import threading
import time

import pytest

from catzilla import (Catzilla, HTMLResponse, HTTPException, JSONResponse, RedirectResponse, Response,
                      RouteError, Router)
from wire import RawClient, build_request, get, parse_responses


# --------------------------------------------------------------------------
# sync and async handlers, concurrency

def test_sync_and_async_handlers(serve):
    app = Catzilla()

    @app.get("/sync")
    def sync_handler(request):
        return "sync"

    @app.get("/async")
    async def async_handler(request):
        await asyncio.sleep(0)
        return "async"

    @app.get("/async-nosuspend")
    async def async_nosuspend(request):
        return {"x": 1}

    addr = serve(app)
    with RawClient(addr) as c:
        for _ in range(3):
            assert c.request("GET", "/sync").body == b"sync"
            assert c.request("GET", "/async").body == b"async"
            assert c.request("GET", "/async-nosuspend").json() == {"x": 1}


def test_async_handler_does_not_block_other_connections(serve):
    app = Catzilla()
    waiting = threading.Event()     # set by /wait, seen by this thread
    released = asyncio.Event()
    order = []

    @app.get("/wait")
    async def wait(request):
        order.append("wait-start")
        waiting.set()
        try:
            await asyncio.wait_for(released.wait(), 3)
        except asyncio.TimeoutError:
            return "timed out"
        order.append("wait-end")
        return "released"

    @app.get("/release")
    def release(request):
        order.append("release")
        released.set()
        return "ok"

    addr = serve(app)
    with RawClient(addr) as a, RawClient(addr) as b:
        a.send(build_request("GET", "/wait"))
        assert waiting.wait(3), "/wait never started"     # it is suspended in released.wait() now
        t0 = time.monotonic()
        assert b.request("GET", "/release").body == b"ok"
        assert time.monotonic() - t0 < 1.0
        assert a.read_response().body == b"released"
    assert order == ["wait-start", "release", "wait-end"]


def test_pipelined_requests_wait_for_async_handler_in_order(serve):
    app = Catzilla()

    @app.get("/slow/{i:int}")
    async def slow(request, i):
        await asyncio.sleep(0.05 if i % 2 == 0 else 0)
        return f"slow{i}"

    addr = serve(app)
    with RawClient(addr) as c:
        c.send(b"".join(build_request("GET", f"/slow/{i}") for i in range(6)))
        assert [c.read_response().body for _ in range(6)] == [f"slow{i}".encode() for i in range(6)]


def test_current_task_and_asyncio_timeout_work_in_handlers(serve):
    app = Catzilla()

    @app.get("/task")
    async def task(request):
        t = asyncio.current_task()
        return {"task": t is not None, "running": asyncio.get_running_loop() is not None}

    @app.get("/timeout")
    async def timeout(request):
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(5)
        except TimeoutError:
            return {"timed_out": True, "elapsed": time.monotonic() - t0}
        return {"timed_out": False}

    @app.get("/wait-for")
    async def wait_for(request):
        try:
            await asyncio.wait_for(asyncio.sleep(5), 0.05)
        except asyncio.TimeoutError:
            return "wait_for timed out"
        return "no"

    addr = serve(app)
    with RawClient(addr) as c:
        assert c.request("GET", "/task").json() == {"task": True, "running": True}
        if sys.version_info >= (3, 11):
            r = c.request("GET", "/timeout").json()
            assert r["timed_out"] is True and r["elapsed"] < 1.0
        assert c.request("GET", "/wait-for").body == b"wait_for timed out"


# --------------------------------------------------------------------------
# failures

def test_handler_exception_gives_plain_500_and_server_lives(serve):
    app = Catzilla()

    @app.get("/boom")
    def boom(request):
        raise RuntimeError("secret detail")

    @app.get("/aboom")
    async def aboom(request):
        await asyncio.sleep(0)
        raise KeyError("async secret")

    @app.get("/ok")
    def ok(request):
        return "ok"

    addr = serve(app)
    for path in ("/boom", "/aboom"):
        with RawClient(addr) as c:
            r = c.request("GET", path)
            assert r.status == 500
            assert r.header("content-type", "").startswith("text/plain")
            assert b"Traceback" not in r.body and b"secret" not in r.body
            assert r.body == b"Internal Server Error"
            # the connection lives too
            assert c.request("GET", "/ok").body == b"ok"
        assert get(addr, "/ok").body == b"ok"   # and a new connection works


def test_debug_mode_500_shows_traceback(serve):
    app = Catzilla(debug=True)

    @app.get("/boom")
    def boom(request):
        raise RuntimeError("visible detail")

    r = get(serve(app), "/boom")
    assert r.status == 500
    assert b"Traceback" in r.body and b"visible detail" in r.body


def test_http_exception(serve):
    app = Catzilla()

    @app.get("/tea")
    def tea(request):
        raise HTTPException(418, "teapot")

    @app.get("/auth")
    async def auth(request):
        raise HTTPException(401, headers={"WWW-Authenticate": "Basic"})

    addr = serve(app)
    r = get(addr, "/tea")
    assert (r.status, r.header("content-type")) == (418, "application/json")
    assert json.loads(r.body) == {"detail": "teapot"}
    r = get(addr, "/auth")
    assert r.status == 401
    assert r.header("www-authenticate") == "Basic"
    assert json.loads(r.body) == {"detail": "Unauthorized"}


def test_exception_handler_for_custom_exception(serve):
    app = Catzilla()

    class AppError(Exception):
        pass

    class SubError(AppError):
        pass

    @app.exception_handler(AppError)
    def handle(request, exc):
        return JSONResponse({"error": str(exc), "type": type(exc).__name__, "path": request.path}, 409)

    @app.get("/raise")
    def raiser(request):
        raise AppError("custom")

    @app.get("/sub")
    async def sub(request):
        raise SubError("sub")

    @app.get("/other")
    def other(request):
        raise ValueError("not handled")

    addr = serve(app)
    r = get(addr, "/raise")
    assert r.status == 409 and r.json() == {"error": "custom", "type": "AppError", "path": "/raise"}
    r = get(addr, "/sub")
    assert r.status == 409 and r.json()["type"] == "SubError"
    assert get(addr, "/other").status == 500
    with pytest.raises(TypeError):
        app.exception_handler("not a class")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_exception_handler_that_fails_gives_500(serve, kind):
    app = Catzilla()

    def bad_handler(request, exc):
        raise RuntimeError("handler broke")

    async def bad_async_handler(request, exc):
        raise RuntimeError("handler broke")

    app.exception_handler(LookupError)(bad_handler if kind == "sync" else bad_async_handler)

    @app.get("/x")
    def x(request):
        raise KeyError("k")

    addr = serve(app)
    assert get(addr, "/x").status == 500
    assert get(addr, "/x").status == 500


# --------------------------------------------------------------------------
# hooks

@pytest.mark.parametrize("kind", ["sync", "async"])
def test_before_and_after_request_hooks(serve, kind):
    app = Catzilla()
    calls = []

    if kind == "sync":
        @app.before_request
        def before(request):
            calls.append(("before", request.path))
            if request.path == "/blocked":
                return Response("blocked", 403)
            request.state.user = "alice"

        @app.after_request
        def after(request, response):
            response.headers["X-After"] = kind
            calls.append(("after", request.path, response.status_code))
    else:
        @app.before_request
        async def before(request):
            await asyncio.sleep(0)
            calls.append(("before", request.path))
            if request.path == "/blocked":
                return Response("blocked", 403)
            request.state.user = "alice"

        @app.after_request
        async def after(request, response):
            await asyncio.sleep(0)
            response.headers["X-After"] = kind
            calls.append(("after", request.path, response.status_code))

    handled = []

    @app.get("/ok")
    def ok(request):
        handled.append(request.path)
        return f"hello {request.state.user}"

    @app.get("/blocked")
    def blocked(request):
        handled.append(request.path)
        return "should not run"

    addr = serve(app)
    with RawClient(addr) as c:
        r = c.request("GET", "/ok")
        assert (r.status, r.body, r.header("x-after")) == (200, b"hello alice", kind)
        r = c.request("GET", "/blocked")
        assert (r.status, r.body, r.header("x-after")) == (403, b"blocked", kind)
        r = c.request("GET", "/missing")
        assert r.status == 404
    assert handled == ["/ok"]
    assert calls == [("before", "/ok"), ("after", "/ok", 200), ("before", "/blocked"),
                     ("after", "/blocked", 403), ("before", "/missing"), ("after", "/missing", 404)]


def test_after_request_can_replace_response(serve):
    app = Catzilla()

    @app.after_request
    def replace(request, response):
        if response.status_code == 404:
            return JSONResponse({"error": "not found", "path": request.path}, 404)

    @app.get("/x")
    def x(request):
        return "x"

    addr = serve(app)
    assert get(addr, "/x").body == b"x"
    r = get(addr, "/nope")
    assert r.status == 404 and r.json() == {"error": "not found", "path": "/nope"}


def test_startup_and_shutdown_hooks_run(serve):
    app = Catzilla()
    events = []

    @app.on_startup
    def start_sync():
        events.append("startup-sync")

    @app.on_startup
    async def start_async():
        await asyncio.sleep(0)
        events.append("startup-async")

    @app.on_shutdown
    async def stop_async():
        events.append("shutdown-async")

    @app.on_shutdown
    def stop_sync():
        events.append("shutdown-sync")

    @app.get("/events")
    def show(request):
        return list(events)

    addr = serve(app)
    assert get(addr, "/events").json() == ["startup-sync", "startup-async"]
    addr.stop()
    assert events == ["startup-sync", "startup-async", "shutdown-async", "shutdown-sync"]
    with pytest.raises(OSError):
        socket.create_connection(addr, timeout=1).close()


# --------------------------------------------------------------------------
# return types and responses

def make_return_app():
    app = Catzilla()

    @app.get("/str")
    def r_str(request):
        return "héllo"

    @app.get("/bytes")
    def r_bytes(request):
        return b"\x00\x01binary"

    @app.get("/dict")
    def r_dict(request):
        return {"a": 1, "b": [1, 2], "c": "é"}

    @app.get("/list")
    def r_list(request):
        return [1, "two", None]

    @app.get("/none")
    def r_none(request):
        return None

    @app.get("/response")
    def r_response(request):
        resp = Response("custom", 202, headers={"X-One": "1"}, content_type="text/x-custom")
        resp.headers["X-Two"] = "2"
        resp.headers.append("X-Multi", "a")
        resp.headers.append("X-Multi", "b")
        resp.set_cookie("session", "abc123", max_age=60, httponly=True, secure=True, samesite="strict")
        resp.delete_cookie("old")
        return resp

    @app.get("/json")
    def r_json(request):
        return JSONResponse({"created": True}, status=201, headers={"X-J": "j"})

    @app.get("/html")
    def r_html(request):
        return HTMLResponse("<h1>hi</h1>")

    @app.get("/redirect")
    def r_redirect(request):
        return RedirectResponse("/target?a=1")

    @app.get("/redirect301")
    def r_redirect301(request):
        return RedirectResponse("https://example.com/x y", status=301)

    return app


def test_return_types(serve):
    addr = serve(make_return_app())
    with RawClient(addr) as c:
        r = c.request("GET", "/str")
        assert (r.status, r.body) == (200, "héllo".encode())
        assert r.header("content-type") == "text/plain; charset=utf-8"

        r = c.request("GET", "/bytes")
        assert (r.status, r.body) == (200, b"\x00\x01binary")
        assert r.header("content-type") == "application/octet-stream"

        r = c.request("GET", "/dict")
        assert r.status == 200 and r.header("content-type") == "application/json"
        assert r.json() == {"a": 1, "b": [1, 2], "c": "é"}

        r = c.request("GET", "/list")
        assert r.json() == [1, "two", None] and r.header("content-type") == "application/json"

        r = c.request("GET", "/none")
        assert (r.status, r.body) == (204, b"")
        assert r.header("content-length") is None

        r = c.request("GET", "/json")
        assert (r.status, r.json(), r.header("x-j")) == (201, {"created": True}, "j")
        assert r.header("content-type") == "application/json"

        r = c.request("GET", "/html")
        assert (r.body, r.header("content-type")) == (b"<h1>hi</h1>", "text/html; charset=utf-8")

        r = c.request("GET", "/redirect")
        assert (r.status, r.header("location")) == (307, "/target?a=1")
        r = c.request("GET", "/redirect301")
        assert (r.status, r.header("location")) == (301, "https://example.com/x%20y")


def test_response_headers_and_cookies(serve):
    r = get(serve(make_return_app()), "/response")
    assert (r.status, r.body) == (202, b"custom")
    assert r.header("content-type") == "text/x-custom"
    assert (r.header("x-one"), r.header("x-two")) == ("1", "2")
    assert r.headers_all("x-multi") == ["a", "b"]
    cookies = r.headers_all("set-cookie")
    assert len(cookies) == 2
    session = [p.strip() for p in cookies[0].split(";")]
    assert session[0] == "session=abc123"
    lower = {p.lower() for p in session[1:]}
    assert {"max-age=60", "path=/", "httponly", "secure", "samesite=strict"} <= lower
    old = [p.strip() for p in cookies[1].split(";")]
    assert old[0] == 'old=""'
    assert "max-age=0" in {p.lower() for p in old[1:]}
    assert any(p.lower().startswith("expires=") for p in old[1:])


def test_bad_return_type_gives_500(serve):
    app = Catzilla()

    @app.get("/int")
    def r_int(request):
        return 42

    addr = serve(app)
    assert get(addr, "/int").status == 500


# --------------------------------------------------------------------------
# response splitting: header values with CR/LF never reach the wire

INJECT = "a\r\nSet-Cookie: injected=1\r\n\r\nINJECTED-BODY"


def make_injection_app():
    app = Catzilla()

    @app.get("/ctor")
    def ctor(request):
        return Response("x", headers={"X-Evil": INJECT})

    @app.get("/setitem")
    def setitem(request):
        resp = Response("x")
        resp.headers["X-Evil"] = INJECT
        return resp

    @app.get("/name")
    def name(request):
        resp = Response("x")
        resp.headers.append("X-Evil\r\nInjected", "1")
        return resp

    @app.get("/lf-only")
    def lf_only(request):
        return Response("x", headers={"X-Evil": "a\nInjected: 1"})

    @app.get("/nul")
    def nul(request):
        return Response("x", headers={"X-Evil": "a\x00b"})

    @app.get("/content-type")
    def content_type(request):
        return Response("x", content_type="text/plain\r\nInjected: 1")

    @app.get("/async")
    async def async_ctor(request):
        return Response("x", headers={"X-Evil": INJECT})

    @app.get("/redirect")
    def redirect(request):
        return RedirectResponse("/x\r\nSet-Cookie: injected=1")

    @app.get("/cookie")
    def cookie(request):
        resp = Response("x")
        resp.set_cookie("c", "v\r\nInjected: 1")
        return resp

    @app.get("/http-exception")
    def http_exception(request):
        raise HTTPException(401, headers={"WWW-Authenticate": INJECT})

    @app.get("/http-exception-async")
    async def http_exception_async(request):
        raise HTTPException(401, headers={"WWW-Authenticate": INJECT})

    return app


@pytest.mark.parametrize("path", ["/ctor", "/setitem", "/name", "/lf-only", "/nul", "/content-type", "/async"])
def test_header_injection_gives_500_and_nothing_injected(serve, path):
    addr = serve(make_injection_app())
    with RawClient(addr) as c:
        c.send(build_request("GET", path, headers={"Connection": "close"}))
        raw = c.wait_closed(3)
    responses = parse_responses(raw)
    assert len(responses) == 1, raw
    assert responses[0].status == 500
    assert b"Injected" not in raw and b"injected" not in raw and b"INJECTED" not in raw


@pytest.mark.parametrize("path,status,name,value", [
    ("/redirect", 307, "location", "/x%0D%0ASet-Cookie:%20injected=1"),            # percent-encoded
    ("/cookie", 200, "set-cookie", 'c="v\\015\\012Injected: 1"; Path=/; SameSite=lax'),  # quoted, octal escapes
])
def test_redirect_and_cookie_values_are_encoded_not_injected(serve, path, status, name, value):
    addr = serve(make_injection_app())
    with RawClient(addr) as c:
        c.send(build_request("GET", path, headers={"Connection": "close"}))
        raw = c.wait_closed(3)
    responses = parse_responses(raw)
    assert len(responses) == 1
    head = responses[0].raw_head
    assert b"\r\nSet-Cookie: injected" not in head and b"\r\nInjected" not in head
    assert not any(k.lower() == "injected" for k, _ in responses[0].header_list)
    assert (responses[0].status, responses[0].headers_all(name)) == (status, [value])


@pytest.mark.parametrize("path", ["/http-exception", "/http-exception-async"])
def test_http_exception_with_crlf_header_gives_500(serve, path):
    # The handler's error is answered (500), not turned into a dropped connection.
    addr = serve(make_injection_app())
    with RawClient(addr, timeout=3) as c:
        c.send(build_request("GET", path, headers={"Connection": "close"}))
        raw = c.wait_closed(3)
    assert b"injected" not in raw.lower()
    responses = parse_responses(raw)
    assert [r.status for r in responses] == [500]


# --------------------------------------------------------------------------
# the Request API

def make_request_app(stored=None):
    app = Catzilla()

    @app.route("/inspect", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def inspect(request):
        return {
            "method": request.method,
            "path": request.path,
            "query_string": request.query_string,
            "a": request.query_params.getlist("a"),
            "b": request.query_params.get("b"),
            "x_multi": request.headers.getlist("x-multi"),
            "x_case": [request.headers.get("X-CASE"), request.headers.get("x-case"), request.headers["X-Case"] if "x-CASE" in request.headers else None],
            "has_host": "HOST" in request.headers,
            "cookies": request.cookies,
            "body": request.body.decode("latin-1"),
            "content_type": request.content_type,
            "http_version": request.http_version,
            "client": list(request.client),
        }

    @app.post("/json")
    def read_json(request):
        return {"got": request.json()}

    @app.post("/form")
    def read_form(request):
        form = request.form()
        out = {}
        for key in form:
            values = form.getlist(key)
            out[key] = [v if isinstance(v, str) else
                        {"filename": v.filename, "content_type": v.content_type, "data": v.read().decode()}
                        for v in values]
        return out

    @app.get("/items/{item_id:int}")
    def item(request, item_id):
        return {"item_id": item_id, "type": type(item_id).__name__, "params": repr(request.path_params)}

    @app.get("/price/{value:float}")
    def price(request):
        v = request.path_params["value"]
        return {"value": v, "type": type(v).__name__}

    @app.get("/files/{rest:path}")
    def files(request, rest):
        return {"rest": rest}

    @app.get("/u/{user}/posts/{post_id:int}")
    def user_post(request, **params):
        return {k: params[k] for k in sorted(params)}

    if stored is not None:
        @app.route("/store", methods=["GET", "POST", "PUT"])
        def store(request):
            stored.append(request)   # nothing read now: all lazily, later
            return "stored"

        @app.post("/filler")
        def filler(request):
            return str(len(request.body))

        @app.get("/dump")
        def dump(request):
            return [{"method": r.method, "path": r.path, "query": r.query_string,
                     "q": r.query_params.get("q"), "x_tag": r.headers.get("x-tag"),
                     "cookies": r.cookies, "body": r.body.decode("latin-1"),
                     "http_version": r.http_version} for r in stored]

    return app


def test_request_attributes(serve):
    addr = serve(make_request_app())
    with RawClient(addr) as c:
        c.send(b"PUT /inspect?a=1&a=2&b=x%20y&c HTTP/1.1\r\nHost: example\r\nX-Multi: one\r\n"
               b"x-multi: two\r\nX-Case: v\r\nCookie: s=abc; theme=dark\r\nCookie: extra=1\r\n"
               b"Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody")
        r = c.read_response()
        local = c.sock.getsockname()
    assert r.status == 200
    d = r.json()
    assert d["method"] == "PUT"
    assert d["path"] == "/inspect"
    assert d["query_string"] == "a=1&a=2&b=x%20y&c"
    assert d["a"] == ["1", "2"] and d["b"] == "x y"
    assert d["x_multi"] == ["one", "two"]
    assert d["x_case"] == ["v", "v", "v"]
    assert d["has_host"] is True
    assert d["cookies"] == {"s": "abc", "theme": "dark", "extra": "1"}
    assert d["body"] == "body"
    assert d["content_type"] == "text/plain"
    assert d["http_version"] == "1.1"
    assert d["client"] == [local[0], local[1]]


def test_request_http10_version(serve):
    addr = serve(make_request_app())
    with RawClient(addr) as c:
        c.send(b"GET /inspect HTTP/1.0\r\n\r\n")
        r = c.read_response()
    assert r.json()["http_version"] == "1.0"


def test_request_json(serve):
    addr = serve(make_request_app())
    with RawClient(addr) as c:
        r = c.request("POST", "/json", json.dumps({"k": [1, 2, {"z": None}]}).encode(),
                      headers={"Content-Type": "application/json"})
        assert (r.status, r.json()) == (200, {"got": {"k": [1, 2, {"z": None}]}})
        r = c.request("POST", "/json", b"{not json", headers={"Content-Type": "application/json"})
        assert r.status == 400
        r = c.request("POST", "/json", b"")
        assert r.status == 400
        # the 400 is an ordinary response: the connection goes on
        assert c.request("POST", "/json", b"[1]").json() == {"got": [1]}


def test_request_form_urlencoded(serve):
    addr = serve(make_request_app())
    r = get(addr, "/form", method="POST", body=b"a=1&a=2&b=hello+world&c=%C3%A9&d=",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200
    assert r.json() == {"a": ["1", "2"], "b": ["hello world"], "c": ["é"], "d": [""]}


def test_request_form_multipart_with_file(serve):
    boundary = "----catzillaBoundary7MA4YWxk"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="title"\r\n\r\n'
        "My file\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="upload"; filename="notes.txt"\r\n'
        "Content-Type: text/markdown\r\n\r\n"
        "line 1\r\nline 2\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    addr = serve(make_request_app())
    r = get(addr, "/form", method="POST", body=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 200
    assert r.json() == {
        "title": ["My file"],
        "upload": [{"filename": "notes.txt", "content_type": "text/markdown", "data": "line 1\r\nline 2"}],
    }
    # a broken multipart body is the client's error
    r = get(addr, "/form", method="POST", body=b"garbage",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 400


def test_path_params_converters(serve):
    addr = serve(make_request_app())
    with RawClient(addr) as c:
        r = c.request("GET", "/items/42")
        assert r.json()["item_id"] == 42 and r.json()["type"] == "int"
        assert r.json()["params"] == repr({"item_id": 42})
        assert c.request("GET", "/items/abc").status == 404
        r = c.request("GET", "/price/3.5")
        assert r.json() == {"value": 3.5, "type": "float"}
        r = c.request("GET", "/price/7")
        assert r.json() == {"value": 7.0, "type": "float"}
        r = c.request("GET", "/files/a/b/c.txt")
        assert r.json() == {"rest": "a/b/c.txt"}
        r = c.request("GET", "/u/bob/posts/12")
        assert r.json() == {"post_id": 12, "user": "bob"}


def test_stored_request_keeps_its_own_values_after_later_requests(serve):
    stored = []
    addr = serve(make_request_app(stored))
    big = b"F" * 200_000
    with RawClient(addr) as c:
        # three pipelined requests in one send; the handler reads nothing
        c.send(build_request("POST", "/store?q=1", b"first-body", {"X-Tag": "one", "Cookie": "k=1"})
               + build_request("PUT", "/store?q=2", b"second", {"X-Tag": "two"})
               + build_request("GET", "/store?q=3", headers={"X-Tag": "three"}))
        assert [c.read_response().body for _ in range(3)] == [b"stored"] * 3
        # more traffic on the same connection: buffers are reused / grown / moved
        for i in range(3):
            c.send(build_request("POST", "/filler", big[: 100_000 + i]) + build_request("POST", "/filler", b"x" * 10))
            assert c.read_response().body == str(100_000 + i).encode()
            assert c.read_response().body == b"10"
        # a request split over several reads, stored too
        raw = build_request("POST", "/store?q=4", b"fourth" * 5000, {"X-Tag": "four"})
        c.send_slowly(raw, step=4096, pause=0.001)
        assert c.read_response().body == b"stored"
        for i in range(3):
            assert c.request("POST", "/filler", big).body == b"200000"
        d = c.request("GET", "/dump").json()
    assert d == [
        {"method": "POST", "path": "/store", "query": "q=1", "q": "1", "x_tag": "one", "cookies": {"k": "1"},
         "body": "first-body", "http_version": "1.1"},
        {"method": "PUT", "path": "/store", "query": "q=2", "q": "2", "x_tag": "two", "cookies": {},
         "body": "second", "http_version": "1.1"},
        {"method": "GET", "path": "/store", "query": "q=3", "q": "3", "x_tag": "three", "cookies": {},
         "body": "", "http_version": "1.1"},
        {"method": "POST", "path": "/store", "query": "q=4", "q": "4", "x_tag": "four", "cookies": {},
         "body": "fourth" * 5000, "http_version": "1.1"},
    ]


# --------------------------------------------------------------------------
# route groups and route definition errors

def test_route_groups(serve):
    app = Catzilla()
    api = Router(prefix="/api")

    @api.get("/items")
    def items(request):
        return ["a", "b"]

    @api.get("/items/{item_id:int}")
    def one(request, item_id):
        return {"id": item_id}

    @api.post("/items")
    def create(request):
        return JSONResponse(request.json(), 201)

    app.include_router(api)
    admin = Router(prefix="/admin")

    @admin.get("/stats")
    def stats(request):
        return {"path": request.path}

    app.include_router(admin, prefix="/v2")

    addr = serve(app)
    with RawClient(addr) as c:
        assert c.request("GET", "/api/items").json() == ["a", "b"]
        assert c.request("GET", "/api/items/5").json() == {"id": 5}
        r = c.request("POST", "/api/items", b'{"n": 1}')
        assert (r.status, r.json()) == (201, {"n": 1})
        assert c.request("GET", "/v2/admin/stats").json() == {"path": "/v2/admin/stats"}
        assert c.request("GET", "/items").status == 404
        assert c.request("GET", "/admin/stats").status == 404
        assert c.request("DELETE", "/api/items").status == 405


@pytest.mark.parametrize("path", [
    "no-leading-slash", "/a{b}", "/x/{id:nope}", "/a//b", "/{rest:path}/more", "/{a}/{a}",
    "/{1bad}", "/{unclosed", "/closed}", "/{{nested}}",
])
def test_bad_route_definitions_raise_at_definition_time(path):
    app = Catzilla()
    with pytest.raises(RouteError):
        @app.get(path)
        def handler(request):
            return "x"


def test_conflicting_and_bad_method_routes_raise():
    app = Catzilla()

    @app.get("/u/{id}")
    def first(request):
        return "1"

    with pytest.raises(RouteError):
        @app.get("/u/{uid}")
        def second(request):
            return "2"

    with pytest.raises(RouteError):
        app.route("/m", methods=["GE T"])(lambda request: "x")
    with pytest.raises(RouteError):
        app.route("/m", methods=[])(lambda request: "x")


def test_unknown_setting_rejected():
    with pytest.raises(TypeError):
        Catzilla(max_bodyy=1)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_after_request_hooks_also_see_error_responses(serve, kind):
    app = Catzilla()
    seen = []

    if kind == "sync":
        @app.after_request
        def after(request, response):
            seen.append(response.status_code)
            response.headers["x-after"] = "1"
    else:
        @app.after_request
        async def after(request, response):
            seen.append(response.status_code)
            response.headers["x-after"] = "1"

    @app.get("/boom")
    def boom(request):
        raise RuntimeError("boom")

    addr = serve(app)
    r = get(addr, "/boom")
    assert r.status == 500 and r.header("x-after") == "1"
    r = get(addr, "/missing")
    assert r.status == 404 and r.header("x-after") == "1"
    assert seen == [500, 404]


def test_options_asterisk_form(serve):
    app = Catzilla()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\nGET * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        raw = c.wait_closed(3)
    responses = parse_responses(raw)
    assert [r.status for r in responses] == [204, 400]
    assert "GET" in responses[0].header("allow")


def test_json_renders_integers_beyond_64_bits(serve):
    # an {n:int} path parameter has no bound: neither has the encoder
    app = Catzilla()

    @app.get("/n/{n:int}")
    def number(request, n):
        return {"n": n, "next": n + 1}

    addr = serve(app)
    big = "123456789012345678901234567890"
    r = get(addr, f"/n/{big}")
    assert (r.status, r.body) == (200, b'{"n":%s,"next":%d}' % (big.encode(), int(big) + 1))
    assert get(addr, "/n/7").json() == {"n": 7, "next": 8}
