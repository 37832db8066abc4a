"""The middleware API (app.add_middleware): declared order, early answers,
replaced responses, body filters chunk by chunk, sync and async phases, and
exceptions reaching the exception handlers -- over real sockets."""
import asyncio

import pytest

from catzilla import Catzilla, JSONResponse, PlainTextResponse, Response, StreamingResponse
from catzilla.exceptions import HTTPException
from wire import RawClient, get


class Tag:
    """Records its phases and tags the response."""

    def __init__(self, name, log, asynchronous=False):
        self.name, self.log = name, log
        if asynchronous:
            self.on_request, self.on_response = self._areq, self._aresp

    def on_request(self, request):
        self.log.append(("req", self.name))

    def on_response(self, request, response):
        self.log.append(("resp", self.name))
        response.headers.append("x-layers", self.name)

    async def _areq(self, request):
        await asyncio.sleep(0)
        self.log.append(("req", self.name))

    async def _aresp(self, request, response):
        await asyncio.sleep(0)
        self.log.append(("resp", self.name))
        response.headers.append("x-layers", self.name)


class Upper:
    """A body filter: upper-cases every chunk, adds a marker at the end."""

    def __init__(self):
        self.fed = 0

    def feed(self, data):
        self.fed += 1
        return data.upper()

    def flush(self):
        return b""

    def close(self, data=b""):
        return data.upper() + b"|END"


class UpperMiddleware:
    def __init__(self, seen):
        self.seen = seen

    def on_response(self, request, response):
        f = Upper()
        self.seen.append(f)
        if response.wrap_body(f):
            response.headers["x-upper"] = "1"


@pytest.mark.parametrize("kinds", [("sync", "sync"), ("async", "sync"), ("sync", "async"), ("async", "async")])
@pytest.mark.parametrize("endpoint", ["sync", "async"])
def test_layers_run_in_declared_order_around_the_endpoint(serve, kinds, endpoint):
    app = Catzilla()
    log = []
    app.add_middleware(Tag, name="outer", log=log, asynchronous=kinds[0] == "async")
    app.add_middleware(Tag, name="inner", log=log, asynchronous=kinds[1] == "async")

    if endpoint == "sync":
        @app.get("/")
        def home(request):
            log.append("endpoint")
            return "hi"
    else:
        @app.get("/")
        async def home(request):
            await asyncio.sleep(0)
            log.append("endpoint")
            return "hi"

    addr = serve(app)
    r = get(addr, "/")
    assert (r.status, r.body) == (200, b"hi")
    assert r.headers_all("x-layers") == ["inner", "outer"]
    assert log == [("req", "outer"), ("req", "inner"), "endpoint", ("resp", "inner"), ("resp", "outer")]


def test_an_early_answer_skips_the_route_and_inner_layers(serve):
    app = Catzilla()
    log = []

    class Gate:
        def on_request(self, request):
            if request.headers.get("x-key") != "ok":
                return PlainTextResponse("no key", 401)

        def on_response(self, request, response):
            response.headers["x-gate"] = "seen"

    app.add_middleware(Tag, name="outer", log=log)
    app.add_middleware(Gate)
    app.add_middleware(Tag, name="inner", log=log)

    @app.get("/")
    def home(request):
        log.append("endpoint")
        return "in"

    addr = serve(app)
    r = get(addr, "/")
    assert (r.status, r.body, r.header("x-gate")) == (401, b"no key", "seen")
    assert r.headers_all("x-layers") == ["outer"]
    assert log == [("req", "outer"), ("resp", "outer")]
    log.clear()
    r = get(addr, "/", headers={"x-key": "ok"})
    assert (r.status, r.body) == (200, b"in")
    assert log == [("req", "outer"), ("req", "inner"), "endpoint", ("resp", "inner"), ("resp", "outer")]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_exceptions_in_middleware_reach_the_exception_handlers(serve, asynchronous):
    app = Catzilla()

    class Teapot(Exception):
        pass

    @app.exception_handler(Teapot)
    def teapot(request, exc):
        return JSONResponse({"where": str(exc)}, 418)

    class Raising:
        def on_request(self, request):
            if request.path == "/in-request":
                raise Teapot("request")
            if request.path == "/http":
                raise HTTPException(403, "forbidden here")

        def on_response(self, request, response):
            if request.path == "/in-response":
                raise Teapot("response")

    class AsyncRaising(Raising):
        async def on_request(self, request):
            await asyncio.sleep(0)
            return Raising.on_request(self, request)

        async def on_response(self, request, response):
            await asyncio.sleep(0)
            return Raising.on_response(self, request, response)

    log = []
    app.add_middleware(Tag, name="outer", log=log)
    app.add_middleware(AsyncRaising if asynchronous else Raising)

    @app.get("/{name}")
    def any_path(request, name):
        return name

    addr = serve(app)
    for path, status, body in [("/in-request", 418, b'{"where":"request"}'),
                               ("/in-response", 418, b'{"where":"response"}'),
                               ("/http", 403, b'{"detail":"forbidden here"}'),
                               ("/fine", 200, b"fine")]:
        r = get(addr, path)
        assert (r.status, r.body) == (status, body), path
        assert r.header("x-layers") == "outer"    # the outer layer saw the handled answer


def test_a_layer_can_replace_the_response_and_results_are_converted(serve):
    app = Catzilla()

    class Replace:
        def on_response(self, request, response):
            if response.status_code == 404:
                return {"missing": request.path}

    app.add_middleware(Replace)
    addr = serve(app)
    r = get(addr, "/nope")
    assert (r.status, r.json()) == (200, {"missing": "/nope"})


def test_a_bad_result_from_middleware_is_a_500_not_a_crash(serve):
    app = Catzilla()

    class Bad:
        def on_request(self, request):
            return object()

    app.add_middleware(Bad)
    addr = serve(app)
    assert get(addr, "/").status == 500
    assert get(addr, "/").status == 500


def test_not_a_middleware_is_refused_at_definition_time():
    app = Catzilla()

    class Nothing:
        pass

    with pytest.raises(TypeError, match="not a middleware"):
        app.add_middleware(Nothing)
    with pytest.raises(TypeError):
        app.add_middleware(Tag, unknown_option=1)


def test_hooks_are_the_innermost_layer(serve):
    app = Catzilla()
    log = []
    app.add_middleware(Tag, name="mw", log=log)

    @app.before_request
    def before(request):
        log.append("before")

    @app.after_request
    def after(request, response):
        log.append("after")

    @app.get("/")
    def home(request):
        log.append("endpoint")
        return "x"

    addr = serve(app)
    assert get(addr, "/").status == 200
    assert log == [("req", "mw"), "before", "endpoint", "after", ("resp", "mw")]


@pytest.mark.parametrize("source", ["list", "sync", "async"])
def test_body_filters_wrap_streams_chunk_by_chunk(serve, source):
    app = Catzilla()
    seen = []
    app.add_middleware(UpperMiddleware, seen=seen)
    items = [b"one ", "two ", memoryview(b"three")]

    @app.get("/s")
    def stream(request):
        if source == "list":
            return StreamingResponse(list(items))

        if source == "sync":
            def gen():
                yield from items
            return StreamingResponse(gen())

        async def agen():
            for item in items:
                await asyncio.sleep(0)
                yield item
        return StreamingResponse(agen())

    @app.get("/whole")
    def whole(request):
        return "whole body"

    addr = serve(app)
    r = get(addr, "/s")
    assert (r.status, r.body, r.header("x-upper")) == (200, b"ONE TWO THREE|END", "1")
    assert r.header("transfer-encoding") == "chunked"
    assert seen[-1].fed == 3
    r = get(addr, "/whole")
    assert (r.body, r.header("content-length")) == (b"WHOLE BODY|END", str(len(b"WHOLE BODY|END")))
    r = get(addr, "/s", version="1.0")                   # raw body until close
    assert r.body == b"ONE TWO THREE|END"


def test_body_filters_chain_in_the_order_wrapped(serve):
    app = Catzilla()

    class Bracket:
        def __init__(self, mark):
            self.mark = mark

        def feed(self, data):
            return self.mark + data + self.mark

        def flush(self):
            return b""

        def close(self, data=b""):
            return self.mark + data + b"!" + self.mark

    class Wrap:
        def __init__(self, mark):
            self.mark = mark

        def on_response(self, request, response):
            response.wrap_body(Bracket(self.mark))

    app.add_middleware(Wrap, mark=b"<")      # outer: its on_response runs last, its filter applies last
    app.add_middleware(Wrap, mark=b"[")

    @app.get("/")
    def home(request):
        return StreamingResponse([b"a"])

    addr = serve(app)
    # inner filter first: "[a[" then outer "<[a[<"; at the end inner closes "[!["
    # which the outer closes with: "<[![!<"
    assert get(addr, "/").body == b"<[a[<<[![!<"


def test_wrap_body_refuses_a_filter_without_its_methods():
    class NoFlush:
        def feed(self, data):
            return data

        def close(self, data=b""):
            return data

    with pytest.raises(TypeError, match="flush"):
        Response(b"x").wrap_body(NoFlush())
    with pytest.raises(TypeError, match="feed"):
        Response(b"x").wrap_body(object())


def test_a_filter_that_raises_mid_stream_cuts_the_stream(serve):
    app = Catzilla()

    class Breaks:
        def __init__(self):
            self.n = 0

        def feed(self, data):
            self.n += 1
            if self.n == 2:
                raise RuntimeError("filter broke")
            return data

        def flush(self):
            return b""

        def close(self, data=b""):
            return data

    class M:
        def on_response(self, request, response):
            response.wrap_body(Breaks())

    app.add_middleware(M)

    @app.get("/")
    async def home(request):
        async def agen():
            yield b"first"
            yield b"second"
        return StreamingResponse(agen())

    addr = serve(app)
    with RawClient(addr) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        c.read_head()
        body = c.read_cut_body()                      # closed without the last chunk
    assert b"first" in body and b"second" not in body
