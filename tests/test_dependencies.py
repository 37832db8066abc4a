"""Dependencies (catzilla/dependencies.pyx): Depends with yield teardown when the
response is really over, services, overrides and background tasks, against the
compiled server on 127.0.0.1 (the `serve` fixture) over raw sockets, and the
TestClient.

A real sqlite3 session is the `yield` dependency of the stream tests: commit
on success, rollback on an exception, close in `finally:`; each chunk writes
and reads through it, so a chunk produced after the close would fail. Every
test records what happened, in order, in an `Events` and polls for the
teardown with a bounded deadline (teardown runs after the response is over,
on another task or a worker thread: never synchronously with the client's
read)."""

import asyncio
import logging
import re
import sqlite3
import struct
import threading
import time
import uuid
from contextlib import closing
from typing import Any, Callable, List

import pytest

from catzilla import (BackgroundTask, BackgroundTasks, Catzilla, Depends, FileResponse, Header, HTTPException,
                      Query, Response, Router, StreamingResponse, inject, service)
from catzilla.sse import EventSourceResponse
from catzilla.testing import TestClient, ws_frame
from catzilla.websocket import WebSocket
from wire import RawClient, get, parse_sse

pytestmark = pytest.mark.timeout(30)


# ---------------------------------------------------------------------------
# helpers

class Events:
    """What happened, in order, from any thread."""

    def __init__(self) -> None:
        self._items: List[str] = []
        self._lock = threading.Lock()

    def add(self, item: str) -> None:
        with self._lock:
            self._items.append(item)

    def __call__(self) -> List[str]:
        with self._lock:
            return list(self._items)

    def __contains__(self, item: str) -> bool:
        return item in self()

    def wait_for(self, item: str, timeout: float = 2.0) -> List[str]:
        """Poll (bounded) until `item` happened; the events so far."""
        deadline = time.monotonic() + timeout
        while True:
            items = self()
            if item in items:
                return items
            if time.monotonic() > deadline:
                raise AssertionError(f"{item!r} did not happen within {timeout} s: {items}")
            time.sleep(0.005)

    def wait_count(self, item: str, n: int, timeout: float = 2.0) -> List[str]:
        """Poll (bounded) until `item` happened n times."""
        deadline = time.monotonic() + timeout
        while (items := self()).count(item) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{item!r} did not happen {n} times within {timeout} s: {items}")
            time.sleep(0.005)
        return items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def before(items: List[str], first: str, then: str) -> bool:
    return items.index(first) < items.index(then)


class Database:
    """A temp-file sqlite database and its session dependency (a generator,
    torn down on a worker thread: check_same_thread=False)."""

    def __init__(self, tmp_path: Any, events: Events) -> None:
        self.path = str(tmp_path / f"db-{uuid.uuid4().hex}.sqlite")
        self.events = events
        with closing(sqlite3.connect(self.path)) as c:
            c.execute("create table items (id integer primary key, name text)")
            c.commit()

    def session(self):
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=5)
        self.events.add("open")
        try:
            yield conn
            conn.commit()
            self.events.add("commit")
        except Exception as exc:
            conn.rollback()
            self.events.add(f"rollback:{type(exc).__name__}")
            raise
        finally:
            conn.close()
            self.closed_on = threading.current_thread().name
            self.events.add("close")

    def names(self) -> List[str]:
        """What is committed, read on a connection of its own."""
        with closing(sqlite3.connect(self.path)) as c:
            return [r[0] for r in c.execute("select name from items order by id")]


def write_and_count(db: sqlite3.Connection, name: str) -> int:
    """One insert and a query through the session: fails once it is closed."""
    db.execute("insert into items (name) values (?)", (name,))
    return db.execute("select count(*) from items").fetchone()[0]


def open_stream(addr, path: str) -> RawClient:
    c = RawClient(addr)
    c.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    head = c.read_head()
    assert head.status == 200, head
    assert c.reader.framing == "chunked"
    return c


def read_all_chunks(c: RawClient) -> List[bytes]:
    chunks = []
    while (piece := c.read_chunk()) is not None:
        chunks.append(piece)
    return chunks


def stop(addr) -> None:
    """Stop the server: its shutdown waits for the background work still running
    (teardown and tasks), so what has not happened by now never will."""
    addr.stop()


# ---------------------------------------------------------------------------
# 1. a session open for every chunk of a stream, closed after the last one

LOOP_THREAD = "catzilla-test-"       # conftest's server thread, which runs the loop


def session_stream_app(database: Database, events: Events) -> Catzilla:
    app = Catzilla()

    async def tracker():
        """An async yield dependency entered after the session: resumed first, on the loop."""
        try:
            yield
        except Exception as exc:
            events.add(f"tracker:{type(exc).__name__}:{threading.current_thread().name.startswith(LOOP_THREAD)}")
            raise

    @app.get("/sync")
    def sync_stream(n: int = 3, db: sqlite3.Connection = Depends(database.session)):
        def chunks():
            for i in range(n):
                count = write_and_count(db, f"sync{i}")
                events.add(f"chunk{i}")
                yield f"{i}:{count}\n"
        return StreamingResponse(chunks())

    @app.get("/async")
    async def async_stream(n: int = 3, db: sqlite3.Connection = Depends(database.session)):
        async def chunks():
            for i in range(n):
                await asyncio.sleep(0)
                count = write_and_count(db, f"async{i}")
                events.add(f"chunk{i}")
                yield f"{i}:{count}\n"
        return StreamingResponse(chunks())

    @app.get("/sync-forever")
    def sync_forever(db: sqlite3.Connection = Depends(database.session), _=Depends(tracker)):
        write_and_count(db, "endpoint")

        def chunks():
            try:
                for i in range(1000):
                    count = write_and_count(db, f"sync{i}")
                    yield f"{i}:{count}\n"
                    time.sleep(0.01)
            finally:
                events.add("generator-finally")
        return StreamingResponse(chunks())

    @app.get("/async-forever")
    async def async_forever(db: sqlite3.Connection = Depends(database.session), _=Depends(tracker)):
        write_and_count(db, "endpoint")

        async def chunks():
            try:
                for i in range(1000):
                    count = write_and_count(db, f"async{i}")
                    yield f"{i}:{count}\n"
                    await asyncio.sleep(0.01)
            finally:
                events.add("generator-finally")
        return StreamingResponse(chunks())

    @app.get("/sync-fails")
    def sync_fails(db: sqlite3.Connection = Depends(database.session)):
        write_and_count(db, "endpoint")

        def chunks():
            for i in range(2):
                yield f"{i}:{write_and_count(db, f'sync{i}')}\n"
            raise RuntimeError("the stream broke")
        return StreamingResponse(chunks())

    @app.get("/async-fails")
    async def async_fails(db: sqlite3.Connection = Depends(database.session)):
        write_and_count(db, "endpoint")

        async def chunks():
            for i in range(2):
                yield f"{i}:{write_and_count(db, f'async{i}')}\n"
            raise RuntimeError("the stream broke")
        return StreamingResponse(chunks())

    def probe(db: sqlite3.Connection):
        try:
            db.execute("select count(*) from items").fetchone()
            return "open"
        except sqlite3.ProgrammingError:      # "Cannot operate on a closed database."
            return "closed"

    @app.get("/function-scope")
    def function_scope(db: sqlite3.Connection = Depends(database.session, scope="function")):
        write_and_count(db, "endpoint")

        def chunks():
            for i in range(2):
                events.add(f"chunk{i}")
                yield f"{i}:{probe(db)}\n"
        return StreamingResponse(chunks())

    @app.get("/function-scope-async")
    async def function_scope_async(db: sqlite3.Connection = Depends(database.session, scope="function")):
        write_and_count(db, "endpoint")

        async def chunks():
            for i in range(2):
                events.add(f"chunk{i}")
                yield f"{i}:{probe(db)}\n"
        return StreamingResponse(chunks())

    return app


@pytest.fixture
def session_app(serve, tmp_path):
    events = Events()
    database = Database(tmp_path, events)
    return serve(session_stream_app(database, events)), database, events


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_session_is_open_for_every_chunk_and_closed_after_the_last(session_app, kind):
    addr, database, events = session_app
    c = open_stream(addr, f"/{kind}?n=4")
    chunks = read_all_chunks(c)
    c.close()
    # every chunk wrote and read through the open session (the count grows in it)
    assert chunks == [b"0:1\n", b"1:2\n", b"2:3\n", b"3:4\n"]
    items = events.wait_for("close")
    assert items == ["open", "chunk0", "chunk1", "chunk2", "chunk3", "commit", "close"]
    assert not database.closed_on.startswith(LOOP_THREAD), database.closed_on   # a worker thread
    assert database.names() == [f"{kind}{i}" for i in range(4)]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_client_hang_up_mid_stream_rolls_back_and_closes_the_session(session_app, kind):
    addr, database, events = session_app
    c = open_stream(addr, f"/{kind}-forever")
    assert c.read_chunk() == b"0:2\n"          # the endpoint's row and the first chunk's
    c.close()
    items = events.wait_for("close", timeout=1.0)
    # the stream's generator closed first, then the dependencies, last entered first
    # (the async one on the loop, the sync one on a worker thread)
    assert items == ["open", "generator-finally", "tracker:ClientDisconnect:True", "rollback:ClientDisconnect",
                     "close"]
    assert not database.closed_on.startswith(LOOP_THREAD), database.closed_on
    assert database.names() == []               # nothing the request inserted is visible


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_exception_mid_stream_rolls_back_and_the_response_is_cut(session_app, kind):
    addr, database, events = session_app
    c = open_stream(addr, f"/{kind}-fails")
    body = c.read_cut_body()                     # no terminating 0 chunk: the client sees it is incomplete
    c.close()
    assert body == b"0:2\n1:3\n"
    items = events.wait_for("close")
    assert items == ["open", "rollback:RuntimeError", "close"]
    assert database.names() == []


@pytest.mark.parametrize("path", ["/function-scope", "/function-scope-async"])
def test_function_scope_session_is_closed_before_the_first_chunk(session_app, path):
    addr, database, events = session_app
    c = open_stream(addr, path)
    chunks = read_all_chunks(c)
    c.close()
    assert chunks == [b"0:closed\n", b"1:closed\n"]
    items = events()
    assert items == ["open", "commit", "close", "chunk0", "chunk1"]
    assert database.names() == ["endpoint"]


@pytest.mark.parametrize("blocking", [False, True])
def test_function_scope_async_generator_resumes_when_a_sync_endpoint_returns(serve, blocking):
    events = Events()

    async def resource():
        events.add("open")
        try:
            yield "r"
            events.add("resumed")          # code after the yield runs (not a GeneratorExit at collection)
        finally:
            events.add("close")

    app = Catzilla()

    @app.get("/res", blocking=blocking)
    def endpoint(r=Depends(resource, scope="function")):
        events.add("endpoint")

        def chunks():
            events.add("chunk")
            yield r
        return StreamingResponse(chunks())

    addr = serve(app)
    c = open_stream(addr, "/res")
    assert read_all_chunks(c) == [b"r"]
    c.close()
    assert events.wait_for("chunk") == ["open", "endpoint", "resumed", "close", "chunk"]


def test_hang_up_during_a_blocking_endpoint_tears_down_after_it_returns(serve, tmp_path):
    events = Events()
    database = Database(tmp_path, events)
    release = threading.Event()
    app = Catzilla()

    @app.get("/slow", blocking=True)
    def slow(tasks: BackgroundTasks, db: sqlite3.Connection = Depends(database.session)):
        events.add("endpoint-start")
        release.wait(5)
        try:
            write_and_count(db, "late")      # the session is still open: the endpoint has not returned
        except sqlite3.ProgrammingError:
            events.add("used-after-close")
        tasks.add_task(events.add, "task")   # added after the hang-up: still runs (add_task)
        events.add("endpoint-end")
        return "done"

    addr = serve(app)
    c = RawClient(addr)
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    events.wait_for("endpoint-start")
    c.close()
    # the server sees the hang-up at once; nothing may be torn down while the endpoint runs
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        assert "close" not in events, events()
        time.sleep(0.01)
    release.set()
    items = events.wait_for("task")
    assert items == ["open", "endpoint-start", "endpoint-end", "rollback:ClientDisconnect", "close", "task"]
    assert database.names() == []


def test_hang_up_during_an_async_endpoint_tears_down_after_its_cleanup(serve, tmp_path):
    events = Events()
    database = Database(tmp_path, events)
    app = Catzilla()

    @app.get("/slow")
    async def slow(db: sqlite3.Connection = Depends(database.session)):
        events.add("endpoint-start")
        try:
            await asyncio.sleep(5)           # cancelled when the client leaves
        finally:
            await asyncio.sleep(0.05)        # its cleanup awaits, then still uses the session
            try:
                write_and_count(db, "cleanup")
                events.add("endpoint-cleanup")
            except sqlite3.ProgrammingError:
                events.add("used-after-close")
        return "done"

    addr = serve(app)
    c = RawClient(addr)
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    events.wait_for("endpoint-start")
    c.close()
    items = events.wait_for("close")
    assert items == ["open", "endpoint-start", "endpoint-cleanup", "rollback:ClientDisconnect", "close"]
    assert database.names() == []


# ---------------------------------------------------------------------------
# 5. WebSocket: torn down when the handler returns

TEXT, CLOSE = 0x1, 0x8


class WSClient(RawClient):
    def open(self, path: str) -> None:
        self.send((f"GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = self.read_head()
        assert head.status == 101, head

    def message(self):
        b0, b1 = self._exactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._exactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._exactly(8))[0]
        assert b0 & 0x80
        return b0 & 0x0F, self._exactly(n)


def test_websocket_yield_dependency_lives_until_the_handler_returns(serve, tmp_path):
    events = Events()
    database = Database(tmp_path, events)
    def app_level():
        events.add("app-level")

    async def guard():                       # a route-level yield dependency: entered first, closed last
        events.add("guard-open")
        yield
        events.add("guard-close")

    app = Catzilla(ws_ping_interval=None, dependencies=[Depends(app_level)])

    @app.websocket("/ws", dependencies=[Depends(guard)])
    async def handler(ws: WebSocket, db: sqlite3.Connection = Depends(database.session)):
        await ws.accept()
        for _ in range(3):
            name = await ws.receive_text()
            await ws.send_text(f"{name}:{write_and_count(db, name)}")
        events.add("handler-returned")

    addr = serve(app)
    with WSClient(addr) as c:
        c.open("/ws")
        for i, name in enumerate(["a", "b", "c"]):
            c.send(ws_frame(TEXT, name.encode()))
            assert c.message() == (TEXT, f"{name}:{i + 1}".encode())   # the same open session each time
            assert "close" not in events
        op, payload = c.message()
        assert op == CLOSE and struct.unpack("!H", payload[:2])[0] == 1000
    items = events.wait_for("guard-close")
    assert items == ["app-level", "guard-open", "open", "handler-returned", "commit", "close", "guard-close"]
    assert database.names() == ["a", "b", "c"]


def test_websocket_handler_error_is_thrown_in_at_the_yield(serve, tmp_path):
    events = Events()
    database = Database(tmp_path, events)
    app = Catzilla(ws_ping_interval=None)

    @app.websocket("/ws")
    async def handler(ws: WebSocket, db: sqlite3.Connection = Depends(database.session)):
        await ws.accept()
        write_and_count(db, await ws.receive_text())
        raise ValueError("the handler failed")

    addr = serve(app)
    with WSClient(addr) as c:
        c.open("/ws")
        c.send(ws_frame(TEXT, b"x"))
        op, payload = c.message()
        assert op == CLOSE and struct.unpack("!H", payload[:2])[0] == 1011
    assert events.wait_for("close") == ["open", "rollback:ValueError", "close"]
    assert database.names() == []


def test_websocket_dependency_refusing_the_handshake(serve):
    events = Events()

    async def resource():
        events.add("open")
        try:
            yield
        except Exception as exc:
            events.add(f"teardown:{type(exc).__name__}")
            raise

    def token(t: str = Query(None)):
        if t != "ok":
            raise HTTPException(403, "no token")

    app = Catzilla(ws_ping_interval=None)

    @app.websocket("/ws", dependencies=[Depends(resource), Depends(token)])
    async def handler(ws: WebSocket):
        events.add("handler")
        await ws.accept()

    addr = serve(app)
    with RawClient(addr) as c:
        c.send(b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert c.read_response().status == 403
    assert events.wait_for("teardown:HTTPException") == ["open", "teardown:HTTPException"]


# ---------------------------------------------------------------------------
# 6. app.dependency_overrides

def test_dependency_overrides_in_the_test_client_and_an_included_router():
    events = Events()

    def get_token() -> str:
        events.add("token")
        return "tok"

    def get_user(token: str = Depends(get_token)) -> str:
        return f"user-{token}"

    app = Catzilla()

    @app.get("/me")
    def me(user: str = Depends(get_user)):
        return {"user": user}

    router = Router(prefix="/r")

    @router.get("/me")
    def router_me(user: str = Depends(get_user)):
        return {"user": user}

    app.include_router(router)

    def fake_user():
        events.add("fake-open")
        try:
            yield "fake"
        finally:
            events.add("fake-close")

    with TestClient(app) as client:
        for path in ("/me", "/r/me"):
            assert client.get(path).json() == {"user": "user-tok"}
        assert events() == ["token", "token"]

        app.dependency_overrides[get_user] = fake_user
        for path in ("/me", "/r/me"):
            assert client.get(path).json() == {"user": "fake"}
        assert "token" not in events()[2:]                  # the original's sub-dependency is not called

        app.dependency_overrides.clear()
        app.dependency_overrides[get_token] = lambda: "other"   # a sub-dependency replaced
        for path in ("/me", "/r/me"):
            assert client.get(path).json() == {"user": "user-other"}

        app.dependency_overrides.clear()
        for path in ("/me", "/r/me"):
            assert client.get(path).json() == {"user": "user-tok"}
    # the server's shutdown waited for the teardowns (the TestClient runs the
    # loop only while it talks to the server: one may come after the next request)
    items = events()
    assert items.count("token") == 4
    assert items.count("fake-open") == items.count("fake-close") == 2
    assert items.index("fake-open") < items.index("fake-close")


def test_override_of_a_route_level_dependency(serve):
    events = Events()

    def require_key(x_key: str = Header()):
        if x_key != "secret":
            raise HTTPException(401, "bad key")

    app = Catzilla()

    @app.get("/guarded", dependencies=[Depends(require_key)])
    def guarded():
        return "in"

    addr = serve(app)
    assert get(addr, "/guarded", headers={"x-key": "nope"}).status == 401
    app.dependency_overrides[require_key] = lambda: events.add("overridden")
    r = get(addr, "/guarded")
    assert (r.status, r.body) == (200, b"in")
    assert events() == ["overridden"]


def test_override_of_a_websocket_dependency_that_takes_the_socket():
    def who(ws: WebSocket) -> str:
        return ws.query_params.get("u", "anon")

    app = Catzilla(ws_ping_interval=None)

    @app.websocket("/ws")
    async def hello(ws: WebSocket, user: str = Depends(who)):
        await ws.accept()
        await ws.send_text(user)
        await ws.close()

    def fake(websocket: WebSocket) -> str:
        return "fake-" + websocket.query_params.get("u", "anon")

    with TestClient(app) as client:
        with client.websocket_connect("/ws?u=bob") as session:
            assert session.receive_text() == "bob"
        app.dependency_overrides[who] = fake
        with client.websocket_connect("/ws?u=bob") as session:
            assert session.receive_text() == "fake-bob"


def test_one_override_keeps_each_dependency_scope(serve):
    events = Events()

    def real():
        yield "real"

    def fake():
        events.add("open")
        yield "fake"
        events.add("close")

    app = Catzilla()

    def streamed(value):
        def chunks():
            events.add("chunk")
            yield value
        return StreamingResponse(chunks())

    @app.get("/request")
    def request_scoped(v=Depends(real)):
        return streamed(v)

    @app.get("/function")
    def function_scoped(v=Depends(real, scope="function")):
        return streamed(v)

    app.dependency_overrides[real] = fake
    addr = serve(app)
    for path, expected in (("/request", ["open", "chunk", "close"]), ("/function", ["open", "close", "chunk"])):
        events.clear()
        c = open_stream(addr, path)
        assert read_all_chunks(c) == [b"fake"]
        c.close()
        events.wait_for("close")
        assert events.wait_for("chunk") == expected, path


# ---------------------------------------------------------------------------
# 7. registration errors

def test_dependency_cycle_is_refused_at_registration():
    def a(v=None):
        return v

    def b(v=Depends(a)):
        return v

    a.__defaults__ = (Depends(b),)
    app = Catzilla()
    with pytest.raises(TypeError) as info:
        @app.get("/cycle")
        def cycle(v=Depends(a)):
            return v
    message = str(info.value)
    assert "dependency cycle" in message
    assert re.search(r"<locals>\.a -> \S*<locals>\.b -> \S*<locals>\.a\b", message), message
    with TestClient(app) as client:
        assert client.get("/cycle").status_code == 404          # not registered


def test_service_cycle_and_unknown_service_are_refused_at_registration():
    x, y = f"x-{uuid.uuid4().hex}", f"y-{uuid.uuid4().hex}"

    @service(x, scope="request")
    def make_x(v=Depends(y)):
        return v

    @service(y, scope="request")
    def make_y(v=Depends(x)):
        return v

    app = Catzilla()
    with pytest.raises(TypeError, match=r"dependency cycle: .*make_x -> .*make_y -> .*make_x"):
        @app.get("/x")
        def uses_x(v=Depends(x)):
            return v

    with pytest.raises(TypeError, match="no-such-service"):
        @app.get("/missing")
        def missing(v=Depends("no-such-service")):
            return v

    with pytest.raises(TypeError, match="no-such-service"):
        @app.get("/missing2", dependencies=[Depends("no-such-service")])
        def missing2():
            return "x"


# ---------------------------------------------------------------------------
# 8. background tasks

def test_background_task_runs_after_an_sse_stream_ends(serve):
    events = Events()
    app = Catzilla()

    def after():
        events.add("task")

    @app.get("/events")
    async def stream():
        async def source():
            for i in range(3):
                await asyncio.sleep(0)
                events.add(f"event{i}")
                yield {"data": f"e{i}", "id": str(i)}
            events.add("source-done")
        return EventSourceResponse(source(), ping=None, background=BackgroundTask(after))

    addr = serve(app)
    c = open_stream(addr, "/events")
    body = b"".join(read_all_chunks(c))
    c.close()
    assert [data for _, data, _ in parse_sse(body).events] == ["e0", "e1", "e2"]
    assert events.wait_for("task") == ["event0", "event1", "event2", "source-done", "task"]


def test_background_task_runs_after_a_file_download(serve, tmp_path):
    events = Events()
    path = tmp_path / "report.bin"
    payload = bytes(range(256)) * 4096           # 1 MiB: sent in several writes
    path.write_bytes(payload)
    app = Catzilla()

    def after(name):
        events.add(f"task:{name}")

    @app.get("/download")
    def download():
        return FileResponse(str(path), background=BackgroundTask(after, name="report"))

    addr = serve(app)
    r = get(addr, "/download")
    assert r.status == 200 and r.body == payload
    assert events.wait_for("task:report") == ["task:report"]


def test_parameter_and_response_tasks_both_run_parameter_first(serve):
    events = Events()
    app = Catzilla()

    async def record(what):
        events.add(what)

    def dep(tasks: BackgroundTasks):        # the same BackgroundTasks as the endpoint's
        events.add("dep-open")
        tasks.add_task(events.add, "dep-task")
        yield
        events.add("dep-close")

    @app.get("/both")
    def both(tasks: BackgroundTasks, _=Depends(dep)):
        tasks.add_task(record, "param1")
        tasks.add_task(events.add, "param2")
        return Response("ok", background=BackgroundTask(record, "response"))

    addr = serve(app)
    r = get(addr, "/both")
    assert (r.status, r.body) == (200, b"ok")
    assert events.wait_for("response") == ["dep-open", "dep-close", "dep-task", "param1", "param2", "response"]


def test_tasks_after_a_client_disconnect(serve):
    events = Events()
    app = Catzilla()

    @app.get("/stream")
    def stream(tasks: BackgroundTasks, n: int = 1000):
        tasks.add_task_if_delivered(events.add, "if-delivered")    # first: decided before "always" runs
        tasks.add_task(events.add, "always")

        def chunks():
            try:
                for i in range(n):
                    yield f"{i}\n"
                    time.sleep(0.01)
            finally:
                events.add("generator-finally")
        return StreamingResponse(chunks())

    addr = serve(app)
    c = open_stream(addr, "/stream")
    assert c.read_chunk() == b"0\n"
    c.close()
    assert events.wait_for("always") == ["generator-finally", "always"]

    # delivered whole: both run
    c = open_stream(addr, "/stream?n=2")
    assert read_all_chunks(c) == [b"0\n", b"1\n"]
    c.close()
    events.wait_count("always", 2)
    items = events()
    assert items[2:] == ["generator-finally", "if-delivered", "always"]


def test_a_failing_task_is_logged_with_the_route_and_the_next_runs(serve, caplog):
    caplog.set_level(logging.ERROR, logger="catzilla")
    events = Events()
    app = Catzilla()

    def broken():
        raise ValueError("task exploded")

    def broken_teardown():
        yield "v"
        raise KeyError("teardown exploded")

    @app.get("/tasks/{item}")
    def tasks_route(item: str, tasks: BackgroundTasks, _=Depends(broken_teardown)):
        tasks.add_task(broken)
        tasks.add_task(events.add, f"next:{item}")
        return "ok"

    addr = serve(app)
    assert get(addr, "/tasks/7").status == 200
    events.wait_for("next:7")
    task_logs = [r for r in caplog.records if "background task" in r.getMessage()]
    assert len(task_logs) == 1
    assert "GET /tasks/7" in task_logs[0].getMessage() and "broken" in task_logs[0].getMessage()
    assert isinstance(task_logs[0].exc_info[1], ValueError)
    teardown_logs = [r for r in caplog.records if "teardown" in r.getMessage()]
    assert len(teardown_logs) == 1 and "GET /tasks/7" in teardown_logs[0].getMessage()
    assert isinstance(teardown_logs[0].exc_info[1], KeyError)


def test_parameter_tasks_do_not_run_when_the_endpoint_raised(serve):
    events = Events()
    app = Catzilla()

    def dep():
        try:
            yield
        except Exception as exc:
            events.add(f"teardown:{type(exc).__name__}")
            raise

    @app.get("/raises")
    def raises(tasks: BackgroundTasks, _=Depends(dep)):
        tasks.add_task(events.add, "task")
        raise HTTPException(409, "conflict")

    @app.get("/crashes")
    async def crashes(tasks: BackgroundTasks, _=Depends(dep)):
        tasks.add_task(events.add, "task")
        raise RuntimeError("boom")

    addr = serve(app)
    assert get(addr, "/raises").status == 409
    assert get(addr, "/crashes").status == 500
    events.wait_for("teardown:RuntimeError")
    stop(addr)                                  # the shutdown waits for what is still pending
    assert events() == ["teardown:HTTPException", "teardown:RuntimeError"]


# ---------------------------------------------------------------------------
# 9. services

def test_services_singleton_request_transient_and_inject(serve):
    events = Events()
    names = {k: f"{k}-{uuid.uuid4().hex}" for k in ("single", "req", "trans", "gen")}
    made = {"single": 0, "req": 0, "trans": 0}

    @service(names["single"], scope="singleton")
    class Settings:
        def __init__(self):
            made["single"] += 1

    @service(names["req"], scope="request")
    def request_state():
        made["req"] += 1
        return object()

    @service(names["trans"], scope="transient")
    def fresh():
        made["trans"] += 1
        return object()

    @service(names["gen"], scope="request")
    def connection():
        events.add("gen-open")
        try:
            yield "conn"
        finally:
            events.add("gen-close")

    def first(s=Depends(names["req"]), t=Depends(names["trans"])):
        return s, t

    def second(s=Depends(names["req"]), t=Depends(names["trans"])):
        return s, t

    app = Catzilla()

    @app.get("/svc")
    def svc(a=Depends(first), b=Depends(second), single=Depends(names["single"])):
        return {"same_request": a[0] is b[0], "same_transient": a[1] is b[1],
                "request_id": id(a[0]), "single_id": id(single)}

    @app.get("/stream")
    def stream(conn=Depends(names["gen"])):
        def chunks():
            for i in range(2):
                events.add(f"chunk{i}")
                yield f"{conn}{i}\n"
        return StreamingResponse(chunks())

    @app.get("/inject")
    @inject(names["single"], names["gen"])
    def injected(**services):
        return {"names": sorted(services), "conn": services[names["gen"]]}

    addr = serve(app)
    one, two = get(addr, "/svc").json(), get(addr, "/svc").json()
    assert one["same_request"] and two["same_request"]          # one per request, shared
    assert not one["same_transient"] and not two["same_transient"]
    assert one["single_id"] == two["single_id"] and made["single"] == 1
    assert made["req"] == 2 and made["trans"] == 4

    c = open_stream(addr, "/stream")
    assert read_all_chunks(c) == [b"conn0\n", b"conn1\n"]
    c.close()
    assert events.wait_for("gen-close") == ["gen-open", "chunk0", "chunk1", "gen-close"]

    r = get(addr, "/inject")
    assert r.json() == {"names": sorted([names["single"], names["gen"]]), "conn": "conn"}
    assert made["single"] == 1
    events.wait_count("gen-close", 2)


def test_singleton_service_with_service_dependencies(serve):
    cfg, repo = f"cfg-{uuid.uuid4().hex}", f"repo-{uuid.uuid4().hex}"
    made = []

    @service(cfg)                                   # scope="singleton" is the default
    class Config:
        def __init__(self):
            made.append("config")

    @service(repo, scope="singleton", dependencies=[cfg])
    class Repository:
        def __init__(self, **services):
            made.append("repository")
            self.config = services[cfg]

    app = Catzilla()

    @app.get("/repo")
    def get_repo(r=Depends(repo), c=Depends(cfg)):
        return {"same_config": r.config is c, "repo": id(r)}

    addr = serve(app)
    one, two = get(addr, "/repo").json(), get(addr, "/repo").json()
    assert one["same_config"] and two["same_config"] and one["repo"] == two["repo"]
    assert made == ["config", "repository"]


def test_inject_on_a_named_parameter(serve):
    name = f"greeting-{uuid.uuid4().hex}"

    @service(name, scope="singleton")
    def greeting():
        return "hello"

    app = Catzilla()

    @app.get("/hi")
    @inject(name)
    def hi(**kw):
        return kw[name]

    assert get(serve(app), "/hi").body == b"hello"


# ---------------------------------------------------------------------------
# 10. use_cache

def test_a_shared_sub_dependency_is_called_once_per_request_unless_use_cache_is_false(serve):
    calls = Events()

    def base():
        calls.add("base")
        return object()

    def left(b=Depends(base)):
        return b

    def right(b=Depends(base)):
        return b

    def right_uncached(b=Depends(base, use_cache=False)):
        return b

    app = Catzilla()

    @app.get("/cached")
    def cached(l=Depends(left), r=Depends(right)):
        return {"same": l is r}

    @app.get("/uncached")
    def uncached(l=Depends(left), r=Depends(right_uncached)):
        return {"same": l is r}

    addr = serve(app)
    assert get(addr, "/cached").json() == {"same": True}
    assert calls() == ["base"]
    assert get(addr, "/cached").json() == {"same": True}
    assert calls() == ["base"] * 2                               # once per request, not across requests
    assert get(addr, "/uncached").json() == {"same": False}
    assert calls() == ["base"] * 4


# ---------------------------------------------------------------------------
# 11. async dependencies, classes, validation, HTTPException

def test_async_dependencies_with_a_sync_endpoint(serve):
    events = Events()

    async def coroutine_dep():
        await asyncio.sleep(0)
        return "coro"

    async def agen_dep():
        events.add("agen-open")
        try:
            yield "agen"
            events.add("agen-after-yield")
        finally:
            events.add("agen-close")

    app = Catzilla()

    @app.get("/mixed")
    def mixed(a=Depends(coroutine_dep), b=Depends(agen_dep)):
        events.add("endpoint")
        return {"a": a, "b": b}

    @app.get("/mixed-blocking", blocking=True)
    def mixed_blocking(a=Depends(coroutine_dep), b=Depends(agen_dep)):
        events.add("endpoint")
        return {"a": a, "b": b}

    addr = serve(app)
    for path in ("/mixed", "/mixed-blocking"):
        events.clear()
        assert get(addr, path).json() == {"a": "coro", "b": "agen"}
        assert events.wait_for("agen-close") == ["agen-open", "endpoint", "agen-after-yield", "agen-close"]


def test_class_dependencies(serve):
    class Paging:
        def __init__(self, limit: int = 10, offset: int = 0):
            self.limit = limit
            self.offset = offset

    app = Catzilla()

    @app.get("/implicit")
    def implicit(paging: Paging = Depends()):
        return [paging.limit, paging.offset]

    @app.get("/explicit")
    async def explicit(paging=Depends(Paging)):
        return [paging.limit, paging.offset]

    addr = serve(app)
    assert get(addr, "/implicit?limit=5").json() == [5, 0]
    assert get(addr, "/explicit?offset=3").json() == [10, 3]
    r = get(addr, "/implicit?limit=many")
    assert r.status == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["query", "limit"]]


def test_dependency_parameters_are_validated(serve):
    def paging(limit: int = Query(ge=1, le=100), x_tenant: str = Header()):
        return (limit, x_tenant)

    app = Catzilla()

    @app.get("/items")
    def items(p=Depends(paging)):
        return list(p)

    addr = serve(app)
    ok = get(addr, "/items?limit=5", headers={"x-tenant": "acme"})
    assert ok.status == 200 and ok.json() == [5, "acme"]
    bad = get(addr, "/items?limit=abc")
    assert bad.status == 422
    locs = [e["loc"] for e in bad.json()["detail"]]
    assert ["query", "limit"] in locs and ["header", "x-tenant"] in locs
    too_big = get(addr, "/items?limit=1000", headers={"x-tenant": "acme"})
    assert too_big.status == 422 and [e["loc"] for e in too_big.json()["detail"]] == [["query", "limit"]]


def test_a_dependency_raising_http_exception_answers_with_it(serve):
    events = Events()

    def user(authorization: str = Header(None)):
        if authorization != "Bearer good":
            raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
        return "alice"

    app = Catzilla()

    def audit():
        events.add("audit-open")
        try:
            yield
        except Exception as exc:
            events.add(f"audit:{type(exc).__name__}:{exc.status_code}")
            raise
        events.add("audit-ok")

    @app.get("/private")
    def private(_=Depends(audit), who=Depends(user)):
        events.add("endpoint")
        return {"user": who}

    addr = serve(app)
    r = get(addr, "/private")
    assert r.status == 401
    assert r.json() == {"detail": "not authenticated"} and r.header("www-authenticate") == "Bearer"
    # the dependency entered before the one that refused gets its HTTPException
    assert events.wait_for("audit:HTTPException:401") == ["audit-open", "audit:HTTPException:401"]
    events.clear()
    assert get(addr, "/private", headers={"authorization": "Bearer good"}).json() == {"user": "alice"}
    assert events.wait_for("audit-ok") == ["audit-open", "endpoint", "audit-ok"]


def test_app_router_include_and_route_dependencies_run_in_order(serve):
    events = Events()

    def mark(what: str) -> Callable[[], None]:
        def dep():
            events.add(what)
        dep.__name__ = dep.__qualname__ = f"dep_{what}"
        return dep

    app = Catzilla(dependencies=[Depends(mark("app"))])
    router = Router(prefix="/r", dependencies=[Depends(mark("router"))])

    @router.get("/x", dependencies=[Depends(mark("route"))])
    def x():
        events.add("endpoint")
        return "x"

    app.include_router(router, dependencies=[Depends(mark("include"))])

    @app.get("/plain")
    def plain():
        events.add("endpoint")
        return "plain"

    addr = serve(app)
    assert get(addr, "/r/x").body == b"x"
    assert events() == ["app", "include", "router", "route", "endpoint"]
    events.clear()
    assert get(addr, "/plain").body == b"plain"
    assert events() == ["app", "endpoint"]


def test_app_add_task_runs_now_and_is_tracked(serve):
    """0.2.3's app.add_task: scheduled from a handler, run in the background
    (a def on a worker thread, an async def on the loop), named for the shutdown."""
    events = Events()
    app = Catzilla()
    with pytest.raises(RuntimeError, match="serving"):
        app.add_task(events.add, "too early")

    async def later(item):
        events.add(item)

    @app.get("/enqueue")
    def enqueue():
        task = app.add_task(events.add, "sync")
        app.add_task(later, "async")
        return task.get_name()

    addr = serve(app)
    r = get(addr, "/enqueue")
    assert (r.status, r.text) == (200, "background task Events.add for app.add_task")
    events.wait_for("sync")
    events.wait_for("async")
    assert sorted(events()) == ["async", "sync"]


def test_a_blocking_routes_sync_dependencies_run_on_its_worker_thread(serve):
    """blocking=True: the sync dependencies are solved where the endpoint runs,
    off the loop (setup and teardown), and a 422 still answers from there."""
    threads = Events()
    app = Catzilla()

    def session(limit: int = Query(10, ge=1)):
        threads.add(f"setup {threading.current_thread().name}")
        yield limit
        threads.add(f"teardown {threading.current_thread().name}")

    @app.get("/blocking", blocking=True)
    def blocking(limit: int = Depends(session)):
        threads.add(f"endpoint {threading.current_thread().name}")
        return {"limit": limit}

    addr = serve(app)
    assert get(addr, "/blocking?limit=3").json() == {"limit": 3}
    deadline = time.monotonic() + 2
    while not any(e.startswith("teardown") for e in threads()) and time.monotonic() < deadline:
        time.sleep(0.01)
    setup, endpoint, teardown = threads()
    assert setup.split()[1] == endpoint.split()[1] and "worker" in setup       # the endpoint's worker
    assert "worker" in teardown
    assert get(addr, "/blocking?limit=0").status == 422
