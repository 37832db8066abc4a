"""The request pipeline: responses that send themselves (and can be sent again),
one dispatcher for the server and the TestClient, async exception handlers,
hooks registered at any time, one worker pool for every streamed body, typed
settings."""
import asyncio
import os
import threading

import pytest

from catzilla import (Catzilla, EventSourceResponse, FileResponse, JSONResponse, PlainTextResponse, Response,
                      StreamingResponse)
from catzilla.settings import Settings
from catzilla.testing import TestClient
from wire import RawClient, build_request, get


# -- responses send themselves, and are not changed by sending ----------------------------

def test_one_response_object_answers_many_requests(serve, tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(b"0123456789")
    app = Catzilla()
    shared = {
        "plain": PlainTextResponse("same", 201, {"x-kind": "plain"}),
        "file": FileResponse(path),
        "stream": StreamingResponse(["a", "b"]),
    }

    @app.get("/{kind}")
    def pick(request, kind):
        return shared[kind]

    addr = serve(app)
    for _ in range(2):
        r = get(addr, "/plain")
        assert (r.status, r.body, r.header("x-kind")) == (201, b"same", "plain")
    # a range answer first, then the whole file: the response kept its own status and headers
    with RawClient(addr) as c:
        c.send(build_request("GET", "/file", headers={"Range": "bytes=2-4"}))
        r = c.read_response()
        assert (r.status, r.body, r.header("content-range")) == (206, b"234", "bytes 2-4/10")
        c.send(build_request("GET", "/file"))
        r = c.read_response()
        assert (r.status, r.body, r.header("content-range")) == (200, b"0123456789", None)
    assert shared["file"].status_code == 200 and "content-range" not in shared["file"].headers
    assert get(addr, "/stream").body == b"ab"


def test_a_response_that_fails_to_send_becomes_a_500_and_the_connection_lives(serve, tmp_path):
    app = Catzilla()

    @app.get("/missing")
    def missing(request):
        return FileResponse(tmp_path / "nope.bin")    # raises while sending: nothing written yet

    @app.get("/bad-body")
    def bad_body(request):
        resp = Response("fine")
        resp.body = 123                               # a public attribute, set to nonsense
        return resp

    @app.get("/ok")
    def ok(request):
        return "ok"

    with RawClient(serve(app)) as c:
        c.send(build_request("GET", "/missing") + build_request("GET", "/bad-body") + build_request("GET", "/ok"))
        first, second, third = c.read_response(), c.read_response(), c.read_response()
    assert first.status == 404
    assert (second.status, second.body) == (500, b"Internal Server Error")
    assert (third.status, third.body) == (200, b"ok")


# -- the dispatcher ------------------------------------------------------------------------

def test_async_exception_handler(serve):
    app = Catzilla()

    class Teapot(Exception):
        pass

    @app.exception_handler(Teapot)
    async def teapot(request, exc):
        await asyncio.sleep(0)
        return JSONResponse({"brewed": str(exc), "path": request.path}, 418)

    @app.get("/sync")
    def sync(request):
        raise Teapot("sync")

    @app.get("/async")
    async def async_(request):
        await asyncio.sleep(0)
        raise Teapot("async")

    @app.before_request
    def nothing(request):          # the with-hooks variant too
        return None

    addr = serve(app)
    for path in ("/sync", "/async"):
        r = get(addr, path)
        assert r.status == 418 and r.json() == {"brewed": path[1:], "path": path}


def test_hooks_registered_after_start_take_effect():
    app = Catzilla()

    @app.get("/")
    def home(request):
        return "home"

    with TestClient(app) as client:
        assert client.get("/").text == "home"

        @app.before_request
        def deny(request):
            return PlainTextResponse("denied", 403)

        assert client.get("/").status_code == 403

        @app.before_request
        async def never(request):                 # an async hook switches to the async variant
            raise AssertionError("deny answered first")

        assert client.get("/").status_code == 403


def test_testclient_starts_like_the_server_startup_hooks_before_the_dispatcher():
    app = Catzilla()
    seen = []

    @app.on_startup
    def register():
        @app.after_request
        def stamp(request, response):
            response.headers["x-started"] = "yes"

    @app.on_shutdown
    def bye():
        seen.append("shutdown")

    @app.get("/")
    def home(request):
        return "home"

    with TestClient(app) as client:
        assert client.get("/").headers["x-started"] == "yes"
    assert seen == ["shutdown"]


def test_not_found_and_method_not_allowed_from_the_one_dispatcher():
    app = Catzilla()

    @app.get("/only-get")
    def only_get(request):
        return "x"

    with TestClient(app) as client:
        assert client.get("/nope").status_code == 404
        r = client.post("/only-get")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


# -- one stream engine ---------------------------------------------------------------------

def test_sse_sync_sources_run_on_the_servers_one_pool_which_is_joined_at_shutdown():
    app = Catzilla(worker_threads=2)
    names = []

    @app.get("/events")
    def events(request):
        def gen():
            names.append(threading.current_thread().name)
            yield {"data": "one"}
        return EventSourceResponse(gen())

    @app.get("/plain")
    def plain(request):
        def gen():
            names.append(threading.current_thread().name)
            yield "x"
        return StreamingResponse(gen())

    client = TestClient(app)
    assert client.get("/events").text == "data: one\n\n"
    assert client.get("/plain").text == "x"
    client.close()
    assert len(names) == 2 and all(n.startswith("catzilla-worker-") for n in names), names
    assert not [t for t in threading.enumerate() if t.name.startswith("catzilla-")]


def test_sse_pings_come_from_the_stream_engine_while_a_sync_source_blocks():
    app = Catzilla()
    release = threading.Event()

    @app.get("/events")
    def events(request):
        def gen():
            yield {"data": "first"}
            release.wait(5)                  # silent: the loop sends pings meanwhile
            yield {"data": "second"}
        return EventSourceResponse(gen(), ping=0.05)

    with TestClient(app) as client:
        with client.stream("GET", "/events") as r:
            pieces = r.iter_bytes()
            assert next(pieces) == b"data: first\n\n"
            assert next(pieces) == b": ping\n\n"
            assert next(pieces) == b": ping\n\n"
            release.set()
            rest = b"".join(pieces)
    assert rest.endswith(b"data: second\n\n") and set(rest[:-len(b"data: second\n\n")].split(b"\n\n")) <= {b": ping", b""}


def test_head_of_an_async_stream_closes_it_in_a_tracked_task():
    app = Catzilla()
    closed = []

    class Body:
        def __aiter__(self):
            return self

        async def __anext__(self):
            raise AssertionError("a HEAD response's body is never pulled")

        async def aclose(self):
            await asyncio.sleep(0.01)        # suspends: runs as a task the server tracks
            closed.append(True)

    @app.get("/s")
    def s(request):
        return StreamingResponse(Body())

    client = TestClient(app)
    r = client.head("/s")
    assert r.status_code == 200 and r.content == b"" and r.headers["transfer-encoding"] == "chunked"
    client.close()                           # shutdown waits for the server's background tasks
    assert closed == [True]


# -- settings ------------------------------------------------------------------------------

def test_settings_are_typed_and_validated():
    assert Catzilla().settings == Settings()
    s = Catzilla(max_body=10, header_timeout=3).settings
    assert (s.max_body, s.header_timeout) == (10, 3.0) and isinstance(s.header_timeout, float)
    with pytest.raises(TypeError, match="max_body must be int"):
        Catzilla(max_body="10")
    with pytest.raises(TypeError, match="debug must be bool"):
        Catzilla(debug=1)
    with pytest.raises(ValueError, match="low_water"):
        Catzilla(high_water=4096, low_water=8192)
    with pytest.raises(ValueError, match="worker_threads"):
        Catzilla(worker_threads=0)
    with pytest.raises(TypeError, match="unknown Catzilla settings: max_bodyy"):
        Catzilla(max_bodyy=1)
