"""Blocking handlers (`blocking=True`, the blocking_handlers setting) run on the
server's worker threads while the loop goes on; the loop-block watchdog names
the route of every stall longer than block_warning."""
from __future__ import annotations

import asyncio
import logging
import re
import socket
import textwrap
import threading
import time
from typing import List, Tuple

import pytest

from catzilla import Catzilla, PlainTextResponse, Route, Router
from catzilla.testing import TestClient
from catzilla._core.watchdog import Watchdog
from wire import RawClient, get, parse_response
import procs
from procs import launcher, wait_until

WORKER = "catzilla-worker-"

APP = '''
import asyncio, threading, time
from catzilla import Catzilla

app = Catzilla()

@app.get("/sleep", blocking=True)
def sleep(request):
    time.sleep(1)
    return "slept on " + threading.current_thread().name

@app.get("/sleep-inline")
def sleep_inline(request):
    time.sleep(1)
    return "slept inline"

@app.get("/async-block/{n:int}")
async def async_block(request, n):
    await asyncio.sleep(0)
    time.sleep(n / 10)               # a blocking call hidden in an async handler
    return "done"

@app.get("/plain")
def plain(request):
    return "plain"

@app.get("/async")
async def run_async(request):
    await asyncio.sleep(0)
    return {"async": True}
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """APP in its own process (its GIL and loop are its own); its stderr is the log."""
    cwd = tmp_path_factory.mktemp("blocking")
    (cwd / "blockapp.py").write_text(textwrap.dedent(APP))
    with launcher(cwd) as run:
        yield run("blockapp:app")


class Pending:
    """One request whose response is read on a thread, recording when it came."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sent = time.monotonic()
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        self.data = b""
        self.done_at = 0.0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with self.sock:
            while True:
                part = self.sock.recv(65536)
                if not part:
                    break
                self.data += part
        self.done_at = time.monotonic()

    def result(self, timeout: float = 10) -> Tuple[int, bytes]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "no response in time"
        r = parse_response(self.data)
        return r.status, r.body


def timed_get(port: int, path: str) -> Tuple[float, float, bytes]:
    """(start, end, body) of one request on a fresh connection."""
    start = time.monotonic()
    data = procs.fetch(port, path)
    end = time.monotonic()
    return start, end, parse_response(data).body


# -- over real sockets, server in its own process ------------------------------------------------

@pytest.mark.serial
def test_a_blocking_sleep_leaves_other_requests_answered_in_under_50_ms(server):
    slow = Pending(server.port, "/sleep")
    time.sleep(0.05)                           # the handler is asleep on a worker thread now
    answered: List[Tuple[str, float, float]] = []
    while time.monotonic() - slow.sent < 0.8:
        for path, body in (("/plain", b"plain"), ("/async", b'{"async":true}')):
            start, end, got = timed_get(server.port, path)
            assert got == body
            answered.append((path, start, end))
    status, body = slow.result()
    assert (status, body) == (200, f"slept on {WORKER}0".encode())
    assert slow.done_at - slow.sent >= 1.0
    assert all(end < slow.done_at for _, _, end in answered), "the requests must run during the sleep"
    assert len(answered) >= 10
    slowest = max(answered, key=lambda a: a[2] - a[1])
    assert slowest[2] - slowest[1] < 0.050, f"{slowest[0]} took {(slowest[2] - slowest[1]) * 1000:.1f} ms"
    assert "blocked" not in server.stderr, server.stderr


@pytest.mark.serial
def test_without_the_option_the_sleep_blocks_the_loop_and_the_watchdog_names_the_route(server):
    slow = Pending(server.port, "/sleep-inline")
    time.sleep(0.1)
    start, end, got = timed_get(server.port, "/plain")
    assert got == b"plain" and end - start > 0.5, "the loop was not blocked: this test proves nothing"
    assert slow.result() == (200, b"slept inline")
    m = server.wait_output(r"WARNING catzilla: the event loop was blocked for (\d+\.\d+) s in "
                           r"GET /sleep-inline \(at blockapp\.py:\d+ in sleep_inline\)")
    assert 0.9 <= float(m.group(1)) <= 1.5, m.group(0)
    assert len(re.findall(r"blocked for .* GET /sleep-inline", server.stderr)) == 1, "one warning per stall"


def test_a_blocking_step_inside_an_async_handler_is_named_by_its_route(server):
    start, end, got = timed_get(server.port, "/async-block/4")
    assert got == b"done"
    m = server.wait_output(r"the event loop was blocked for (\d+\.\d+) s in GET /async-block/\{n:int\} "
                           r"\(at blockapp\.py:\d+ in async_block\)")
    assert 0.3 <= float(m.group(1)) <= 0.9, m.group(0)


def test_a_busy_loop_answering_many_fast_requests_logs_no_stall(server):
    before = server.stderr.count("blocked for")
    with RawClient(("127.0.0.1", server.port)) as c:
        for i in range(2000):
            c.send(b"GET /plain HTTP/1.1\r\nHost: t\r\n\r\n" * 5)
            for _ in range(5):
                assert c.read_response().body == b"plain"
    time.sleep(0.3)                            # a late warning would be in by now
    assert server.stderr.count("blocked for") == before, server.stderr


# -- the watchdog on its own ------------------------------------------------------------------

def run_loop_with(work, threshold: float = 0.1, describe=lambda: "GET /x"):
    """Run `work(loop)` (a coroutine function) under a Watchdog; its warnings."""
    records: List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.WARNING)
    log = logging.getLogger("catzilla")
    log.addHandler(handler)
    loop = asyncio.new_event_loop()
    dog = Watchdog(loop, threshold, describe)
    try:
        async def main() -> None:
            dog.start()
            await work(loop)
        loop.run_until_complete(main())
    finally:
        dog.stop()
        loop.close()
        log.removeHandler(handler)
    assert not dog.thread.is_alive(), "the watchdog thread must stop with its server"
    return [r.getMessage() for r in records]


def test_the_watchdog_is_silent_on_a_busy_loop_that_never_blocks_long():
    async def busy(loop) -> None:
        done = loop.create_future()
        end = time.monotonic() + 1.5

        def step() -> None:                    # ~5 ms of CPU, then yield to the loop
            t = time.monotonic()
            while time.monotonic() - t < 0.005:
                pass
            if time.monotonic() < end:
                loop.call_soon(step)
            elif not done.done():
                done.set_result(None)
        for _ in range(4):                     # several callbacks in every loop iteration
            loop.call_soon(step)
        await done
    assert run_loop_with(busy) == []


def test_the_watchdog_reports_a_stall_once_with_its_duration_and_the_request():
    async def stall(loop) -> None:
        await asyncio.sleep(0.1)
        time.sleep(0.35)
        await asyncio.sleep(0.2)
    [message] = run_loop_with(stall, describe=lambda: "POST /orders/{id}")
    m = re.match(r"the event loop was blocked for (\d+\.\d+) s in POST /orders/\{id\} "
                 r"\(at test_blocking\.py:\d+ in main > test_blocking\.py:\d+ in stall\)", message)
    assert m and 0.3 <= float(m.group(1)) <= 0.36, message


def test_a_stall_that_goes_on_is_also_reported_while_it_lasts(monkeypatch):
    from catzilla._core import watchdog
    monkeypatch.setattr(watchdog, "STILL_BLOCKED", 0.3)

    async def stall(loop) -> None:
        await asyncio.sleep(0.1)
        time.sleep(0.6)
        await asyncio.sleep(0.1)
    lasting, final = run_loop_with(stall)
    assert re.match(r"the event loop has been blocked for 0\.\d s in GET /x \(at .* in stall\), and still is",
                    lasting), lasting
    m = re.match(r"the event loop was blocked for (\d\.\d+) s in GET /x", final)
    assert m and 0.5 <= float(m.group(1)) <= 0.61, final


def test_a_server_stops_its_watchdog_thread(serve):
    addr = serve(Catzilla())
    assert [t for t in threading.enumerate() if t.name == "catzilla-watchdog"]
    addr.stop()
    assert not [t for t in threading.enumerate() if t.name == "catzilla-watchdog"]
    serve(Catzilla(block_warning=None)).stop()
    assert not [t for t in threading.enumerate() if t.name == "catzilla-watchdog"]


# -- behaviour, server in a thread of this process ------------------------------------------------

def where(request) -> str:
    return "worker" if threading.current_thread().name.startswith(WORKER) else "loop"


def test_blocking_routes_on_every_registration_form(serve):
    app = Catzilla()
    router = Router("/r")
    app.route("/route", ["GET", "POST"], blocking=True)(where)
    app.post("/post", blocking=True)(where)
    app.put("/put", blocking=True)(where)
    router.get("/get", blocking=True)(where)
    router.add_route(Route("/route", where, blocking=True))
    router.add("/plain", where)
    app.include_router(router, "/sub")

    @app.get("/items/{item_id:int}", blocking=True)
    def item(request, item_id):
        return {"id": item_id, "on": where(request)}

    addr = serve(app)
    with RawClient(addr) as c:
        for method, path in [("GET", "/route"), ("POST", "/route"), ("POST", "/post"), ("PUT", "/put"),
                             ("GET", "/sub/r/get"), ("GET", "/sub/r/route")]:
            assert c.request(method, path).text == "worker", (method, path)
        assert c.request("GET", "/sub/r/plain").text == "loop"
        assert c.request("GET", "/items/7").json() == {"id": 7, "on": "worker"}
        head = c.request("HEAD", "/route")
        assert head.status == 200 and head.header("content-length") == "6"


def test_the_app_wide_setting_and_the_per_route_override(serve):
    app = Catzilla(blocking_handlers=True)
    app.get("/default")(where)
    app.get("/inline", blocking=False)(where)

    @app.get("/async")
    async def run_async(request):
        return where(request)

    app.static("/files", ".")                 # served inline whatever the setting
    assert [r.blocking for r in app.router.routes if r.path.startswith("/files")] == [False] * 3
    addr = serve(app)
    assert get(addr, "/default").text == "worker"
    assert get(addr, "/inline").text == "loop"
    assert get(addr, "/async").text == "loop"


def test_exceptions_reach_the_exception_handlers_and_middleware_sees_the_response(serve):
    app = Catzilla()
    seen = []

    class Tag:
        def on_request(self, request):
            seen.append(("request", request.path))

        def on_response(self, request, response):
            response.headers["x-tag"] = where(request)
            seen.append(("response", response.status_code))

    app.add_middleware(Tag)

    @app.after_request
    def after(request, response):
        response.headers["x-after"] = "yes"

    class Teapot(Exception):
        pass

    @app.exception_handler(Teapot)
    def teapot(request, exc):
        return PlainTextResponse("teapot: " + str(exc), 418)

    @app.get("/teapot", blocking=True)
    def raise_teapot(request):
        raise Teapot(where(request))

    @app.get("/boom", blocking=True)
    def boom(request):
        raise ValueError("boom")

    @app.get("/stop", blocking=True)
    def stop(request):
        raise StopIteration

    @app.get("/ok", blocking=True)
    def ok(request):
        return {"on": where(request)}

    addr = serve(app)
    r = get(addr, "/teapot")
    assert (r.status, r.text, r.header("x-tag"), r.header("x-after")) == (418, "teapot: worker", "loop", "yes")
    r = get(addr, "/boom")
    assert (r.status, r.header("x-tag"), r.header("x-after")) == (500, "loop", "yes")
    assert get(addr, "/stop").status == 500
    r = get(addr, "/ok")
    assert (r.json(), r.header("x-tag")) == ({"on": "worker"}, "loop")
    assert ("request", "/ok") in seen and seen[-1] == ("response", 200)


def test_a_client_that_hangs_up_breaks_nothing_and_a_queued_call_is_skipped(serve, caplog):
    caplog.set_level(logging.WARNING)
    app = Catzilla(worker_threads=1)
    started = []
    finished = threading.Event()

    @app.get("/slow/{n:int}", blocking=True)
    def slow(request, n):
        started.append(n)
        time.sleep(0.3)
        finished.set()
        return "late"

    addr = serve(app)
    first = RawClient(addr)
    first.send(b"GET /slow/1 HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_until(lambda: started, 5, "the first call to start")
    second = RawClient(addr)                   # queued behind the first: the pool has one thread
    second.send(b"GET /slow/2 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.05)
    second.reset()
    first.reset()                              # gone while its handler runs
    assert finished.wait(5)
    time.sleep(0.2)
    assert started == [1], "a call whose client left before it started must not run"
    assert get(addr, "/slow/3").text == "late"  # the pool and the loop are fine
    assert started == [1, 3]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


@pytest.mark.slow
def test_graceful_shutdown_waits_for_an_in_flight_blocking_handler(serve):
    app = Catzilla()
    running = threading.Event()

    @app.get("/work", blocking=True)
    def work(request):
        running.set()
        time.sleep(0.5)
        return "finished"

    addr = serve(app, shutdown_timeout=5.0)
    with RawClient(addr) as c:
        c.send(b"GET /work HTTP/1.1\r\nHost: t\r\n\r\n")
        assert running.wait(5)
        stopper = threading.Thread(target=addr.stop)
        stopper.start()
        r = c.read_response()
        assert (r.status, r.text) == (200, "finished")
        stopper.join(10)
        assert not stopper.is_alive()


def test_the_test_client_runs_blocking_routes():
    app = Catzilla(blocking_handlers=True)
    app.get("/default")(where)
    app.get("/inline", blocking=False)(where)

    @app.post("/echo/{name}", blocking=True)
    def echo(request, name):
        return {"name": name, "body": request.json(), "on": where(request)}

    @app.get("/boom")
    def boom(request):
        raise KeyError("x")

    with TestClient(app) as client:
        assert client.get("/default").text == "worker"
        assert client.get("/inline").text == "loop"
        assert client.post("/echo/cat", json={"a": 1}).json() == {"name": "cat", "body": {"a": 1}, "on": "worker"}
        assert client.get("/boom").status_code == 500


# -- definitions ----------------------------------------------------------------------------------

def test_definition_errors():
    app = Catzilla()

    async def handler(request):
        return "x"

    for define in (lambda: app.get("/a", blocking=True)(handler),
                   lambda: app.route("/a", ["POST"], blocking=True)(handler),
                   lambda: Router().get("/a", blocking=True)(handler),
                   lambda: Route("/a", handler, blocking=True)):
        with pytest.raises(TypeError, match=r"blocking=True is for def endpoints, and handler is async def"):
            define()
    with pytest.raises(TypeError, match="blocking must be True, False or None"):
        app.get("/b", blocking=1)(where)
    app.get("/async", blocking=False)(handler)      # explicit False is fine for any endpoint
    assert [r.blocking for r in app.router.routes] == [False]
    assert Route("/c", where, blocking=True).blocking is True and Route("/c", where).blocking is None
    with pytest.raises(ValueError, match="worker_threads"):
        Catzilla(worker_threads=0)
    with pytest.raises(ValueError, match="block_warning"):
        Catzilla(block_warning=0)
    with pytest.raises(TypeError, match="unknown Catzilla settings: stream_threads"):
        Catzilla(stream_threads=4)
    assert Catzilla().settings.block_warning == 0.1 and Catzilla(block_warning=None).settings.block_warning is None
