"""Server-sent events (catzilla/sse.pyx): the wire format checked with an
event-stream parser written from the WHATWG HTML spec, keep-alive pings,
sync and async sources, and client disconnects over real sockets."""
import asyncio
import socket
import threading
import time

import pytest

from catzilla import Catzilla
from catzilla.runner import bind_socket
from catzilla.sse import EventSourceResponse, ServerSentEvent, encode_item
from catzilla.testing import TestClient
from wire import BytesReader
from wire import parse_sse as parse


# -- ServerSentEvent ----------------------------------------------------------------

def test_encode_fields():
    ev = ServerSentEvent("hello", event="greeting", id="42", retry=1500, comment="a comment")
    raw = ev.encode()
    assert raw == b": a comment\nevent: greeting\nid: 42\nretry: 1500\ndata: hello\n\n"
    assert bytes(ev) == raw
    p = parse(raw)
    assert p.events == [("greeting", "hello", "42")]
    assert p.retry == 1500
    assert p.comments == [" a comment"]


@pytest.mark.parametrize("data", [
    "line one\nline two",
    "crlf\r\nlines\r\n here",
    "lone\rcarriage\rreturns",
    "mixed\r\n\n\r\rbreaks",
    "trailing newline\n",
    "\nleading newline",
    "\n",
    " leading space",
    "  two leading spaces",
    "data: looks like a field",
    ": looks like a comment",
    "id: 7\n\nevent: evil",          # an injected blank line and fields stay data
    "colons: a:b:c",
    "unicode \u00e9\u00e8 \u65e5\u672c \U0001F600",
    "not line breaks: \u2028 \u2029 \x85 \x0b \x0c \x1c",
    "tab\tseparated",
    "x" * 100000,
])
def test_data_round_trips_through_a_spec_parser(data):
    raw = ServerSentEvent(data, id="1").encode()
    assert raw.endswith(b"\n\n")
    lines = raw[:-2].split(b"\n")
    # one blank line, the terminator; no CR anywhere; nothing but id and data fields
    assert b"\r" not in raw
    assert all(ln.startswith((b"id: ", b"data: ")) for ln in lines)
    p = parse(raw)
    normalised = data.replace("\r\n", "\n").replace("\r", "\n")
    assert p.events == [("message", normalised, "1")]


def test_multiline_data_becomes_several_data_lines():
    assert ServerSentEvent("a\r\nb\rc\nd").encode() == b"data: a\ndata: b\ndata: c\ndata: d\n\n"


def test_data_types():
    assert ServerSentEvent({"a": [1, 2], "b": "é"}).encode() == 'data: {"a":[1,2],"b":"é"}\n\n'.encode()
    assert ServerSentEvent([1, "two"]).encode() == b'data: [1,"two"]\n\n'
    assert ServerSentEvent(True).encode() == b"data: true\n\n"
    assert ServerSentEvent(3.5).encode() == b"data: 3.5\n\n"
    assert ServerSentEvent("caf\u00e9".encode()).encode() == "data: caf\u00e9\n\n".encode()
    assert ServerSentEvent("").encode() == b"data: \n\n"
    assert ServerSentEvent().encode() == b"\n"
    with pytest.raises(UnicodeDecodeError):
        ServerSentEvent(b"\xff\xfe")
    # the one JSON encoder (catzilla.models.encode_json, msgspec): NaN/Infinity, which no
    # browser's JSON.parse takes, are sent as null
    assert ServerSentEvent({"nan": float("nan")}).encode() == b'data: {"nan":null}\n\n'
    with pytest.raises(TypeError):
        ServerSentEvent(object())


def test_json_data_parses_back():
    import json
    obj = {"text": "multi\nline", "n": 3}
    p = parse(ServerSentEvent(obj).encode())
    assert json.loads(p.events[0][1]) == obj


@pytest.mark.parametrize("kwargs", [
    {"event": "a\nb"}, {"event": "a\rb"}, {"id": "1\n2"}, {"id": "1\r"}, {"id": "a\0b"},
    {"retry": -1},
])
def test_invalid_fields_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        ServerSentEvent("x", **kwargs)


@pytest.mark.parametrize("kwargs", [{"retry": "100"}, {"retry": 1.5}, {"retry": True}, {"event": ["x"]}])
def test_wrongly_typed_fields_raise_type_error(kwargs):
    with pytest.raises(TypeError):
        ServerSentEvent("x", **kwargs)


def test_retry_only_and_empty_id():
    p = parse(ServerSentEvent(retry=0).encode() + ServerSentEvent("x", id="").encode())
    assert p.retry == 0
    assert p.events == [("message", "x", "")]


def test_multiline_comment():
    raw = ServerSentEvent(comment="one\r\ntwo\nthree").encode()
    assert raw == b": one\n: two\n: three\n\n"
    p = parse(raw)
    assert p.comments == [" one", " two", " three"] and p.events == []


def test_encode_item_forms():
    assert encode_item("plain") == b"data: plain\n\n"
    assert encode_item(b"bytes") == b"data: bytes\n\n"
    assert encode_item({"data": "x", "event": "e", "id": "9", "retry": 5, "comment": "c"}) == \
        ServerSentEvent("x", event="e", id="9", retry=5, comment="c").encode()
    with pytest.raises(ValueError):
        encode_item({"dta": "typo"})
    with pytest.raises(TypeError):
        encode_item(42)


def test_event_equality_and_repr():
    assert ServerSentEvent("a", id="1") == ServerSentEvent("a", id="1")
    assert ServerSentEvent("a", id="1") != ServerSentEvent("a", id="2")
    assert "data='a'" in repr(ServerSentEvent("a"))


# -- EventSourceResponse through the in-process TestClient -----------------------------------

state = {}


def make_app():
    app = Catzilla()

    @app.get("/sync")
    def sync_source(request):
        def gen():
            yield "first"
            yield {"event": "update", "id": "1", "data": {"n": 1}}
            yield ServerSentEvent("multi\nline", id="2", retry=3000)
            yield b"raw bytes are data"
        return EventSourceResponse(gen())

    @app.get("/async")
    async def async_source(request):
        async def gen():
            for i in range(3):
                await asyncio.sleep(0)
                yield ServerSentEvent(f"event {i}", event="tick", id=str(i))
        return EventSourceResponse(gen())

    @app.get("/list")
    def list_source(request):
        return EventSourceResponse(["a", {"data": "b", "event": "x"}], ping=0.05)

    @app.get("/single")
    def single(request):
        return EventSourceResponse({"data": "only", "id": "s"})

    @app.get("/headers")
    def headers(request):
        return EventSourceResponse(iter(["x"]), headers={"X-Extra": "1", "Cache-Control": "no-store"},
                                   status=201)

    @app.get("/idle-async")
    async def idle_async(request):
        state["async_cancelled"] = False
        state["async_finally"] = 0

        async def gen():
            try:
                yield "start"
                try:
                    await asyncio.sleep(0.7)     # silent longer than several pings
                except asyncio.CancelledError:
                    state["async_cancelled"] = True
                    raise
                yield "after the pause"
            finally:
                state["async_finally"] += 1
        return EventSourceResponse(gen(), ping=0.2)

    @app.get("/idle-sync")
    def idle_sync(request):
        def gen():
            yield "start"
            time.sleep(0.7)
            yield "after the pause"
        return EventSourceResponse(gen(), ping=0.2, ping_message=": keep-alive")

    @app.get("/no-ping")
    async def no_ping(request):
        async def gen():
            yield "a"
            await asyncio.sleep(0.5)
            yield "b"
        return EventSourceResponse(gen(), ping=None)

    @app.get("/bad-item")
    def bad_item(request):
        state["bad_finally"] = threading.Event()

        def gen():
            try:
                yield "ok"
                yield 12345            # not an event
                yield "never"
            finally:
                state["bad_finally"].set()
        return EventSourceResponse(gen())

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(make_app()) as c:
        yield c


def check_sse_headers(headers):
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert headers["x-accel-buffering"] == "no"
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers


def test_sync_source(client):
    r = client.get("/sync")
    assert r.status_code == 200
    check_sse_headers(r.headers)
    assert r.headers["cache-control"] == "no-cache"
    p = parse(r.content)
    assert p.events == [("message", "first", ""), ("update", '{"n":1}', "1"),
                        ("message", "multi\nline", "2"), ("message", "raw bytes are data", "2")]
    assert p.retry == 3000


def test_async_source(client):
    r = client.get("/async")
    check_sse_headers(r.headers)
    assert parse(r.content).events == [("tick", f"event {i}", str(i)) for i in range(3)]


def test_list_and_single_item_sources(client):
    assert parse(client.get("/list").content).events == [("message", "a", ""), ("x", "b", "")]
    assert parse(client.get("/single").content).events == [("message", "only", "s")]


def test_user_headers_and_status(client):
    r = client.get("/headers")
    assert r.status_code == 201
    assert r.headers["x-extra"] == "1"
    assert r.headers["cache-control"] == "no-store"          # the user's value wins
    assert r.header_list("cache-control") == ["no-store"]
    assert r.header_list("x-accel-buffering") == ["no"]


def test_head_request(client):
    r = client.head("/sync")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.content == b""


def read_stream(client, path, timeout=5.0):
    """[(arrival time, bytes)] of a streamed response."""
    out = []
    t0 = time.monotonic()
    with client.stream("GET", path) as s:
        check_sse_headers(s.headers)
        for piece in s.iter_bytes():
            out.append((time.monotonic() - t0, piece))
            assert time.monotonic() - t0 < timeout
    return out


def test_pings_on_an_idle_async_stream_do_not_disturb_the_source(client):
    pieces = read_stream(client, "/idle-async")
    p = parse(b"".join(b for _, b in pieces))
    assert p.events == [("message", "start", ""), ("message", "after the pause", "")]
    assert 2 <= p.comments.count(" ping") <= 4
    # the pings were on the wire during the pause, not bunched at the end
    ping_times = [t for t, b in pieces if b.startswith(b": ping")]
    assert ping_times and ping_times[0] < 0.5
    # a ping timeout never cancelled the source's pending step
    assert state["async_cancelled"] is False
    assert state["async_finally"] == 1


def test_pings_on_an_idle_sync_stream(client):
    pieces = read_stream(client, "/idle-sync")
    p = parse(b"".join(b for _, b in pieces))
    assert p.events == [("message", "start", ""), ("message", "after the pause", "")]
    assert 2 <= p.comments.count(" keep-alive") <= 4
    assert p.comments == [" keep-alive"] * len(p.comments)


def test_no_pings_when_disabled(client):
    p = parse(client.get("/no-ping").content)
    assert p.events == [("message", "a", ""), ("message", "b", "")]
    assert p.comments == []


def test_bad_item_aborts_the_stream_and_closes_the_source(client):
    raw = client.raw(b"GET /bad-item HTTP/1.1\r\nHost: t\r\n\r\n")
    r = BytesReader(raw)
    head = r.read_head()
    assert (head.version, head.status, r.reader.framing) == ("HTTP/1.1", 200, "chunked")
    assert b"data: ok" in r.read_cut_body()          # no last chunk: the client sees it is cut
    assert state["bad_finally"].wait(2)


def test_constructor_checks():
    with pytest.raises(TypeError):
        EventSourceResponse(42)
    with pytest.raises(ValueError):
        EventSourceResponse([], ping_message="no colon")
    with pytest.raises(ValueError):
        EventSourceResponse([], ping_message=": two\nlines")
    with pytest.raises(ValueError):
        EventSourceResponse([], ping=-1)
    r = EventSourceResponse([], ping=None)
    assert r.ping == 0.0
    assert r.headers["cache-control"] == "no-cache"


# -- real sockets: disconnects and a blocking source ---------------------------------------------

class LiveServer:
    """The app served by app.serve() on a background thread's own loop."""

    def __init__(self, app):
        self.sock = bind_socket("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.app = app
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    def run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.stop = asyncio.Event()
        try:
            self.loop.run_until_complete(self.app.serve([self.sock], stop=self.stop, shutdown_timeout=2,
                                                        ready=self.ready.set))
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
        self.sock.close()

    def open(self, path):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        return s


def read_until(s, marker, limit=5.0):
    buf = b""
    deadline = time.monotonic() + limit
    while marker not in buf:
        assert time.monotonic() < deadline, buf
        data = s.recv(65536)
        assert data, buf
        buf += data
    return buf


live_state = {}


@pytest.fixture(scope="module")
def live():
    app = Catzilla()

    def flag(name):
        done = threading.Event()
        live_state.setdefault(name, []).append(done)
        return done

    @app.get("/async-forever")
    async def async_forever(request):
        done = flag("async-forever")

        async def gen():
            try:
                i = 0
                while True:
                    yield ServerSentEvent(str(i), id=str(i))
                    i += 1
                    await asyncio.sleep(0.05)
            finally:
                done.set()
        return EventSourceResponse(gen(), ping=0.2)

    @app.get("/async-silent")
    async def async_silent(request):
        done = flag("async-silent")

        async def gen():
            try:
                yield "hello"
                await asyncio.sleep(60)          # the client leaves during this
                yield "never"
            finally:
                done.set()
        return EventSourceResponse(gen(), ping=0.1)

    @app.get("/sync-forever")
    def sync_forever(request):
        done = flag("sync-forever")

        def gen():
            try:
                i = 0
                while True:
                    yield {"data": str(i)}
                    i += 1
                    time.sleep(0.05)
            finally:
                done.set()
        return EventSourceResponse(gen(), ping=0.2)

    @app.get("/sync-blocking")
    def sync_blocking(request):
        done = flag("sync-blocking")

        def gen():
            try:
                yield "hello"
                while True:
                    time.sleep(0.3)              # blocks its thread; pings keep flowing
                    yield ServerSentEvent(comment="still here")
            finally:
                done.set()
        return EventSourceResponse(gen(), ping=0.1)

    @app.get("/")
    def home(request):
        return "ok"

    server = LiveServer(app)
    yield server
    server.close()


@pytest.mark.parametrize("path, marker", [
    ("/async-forever", b"data: 2\n\n"),
    ("/async-silent", b": ping\n\n"),
    ("/sync-forever", b"data: 2\n\n"),
    ("/sync-blocking", b": ping\n\n"),
])
def test_disconnect_closes_the_source(live, path, marker):
    s = live.open(path)
    buf = read_until(s, marker)
    assert buf.startswith(b"HTTP/1.1 200 ")
    assert b"text/event-stream" in buf
    done = live_state[path[1:]][-1]
    assert not done.is_set()
    s.close()
    assert done.wait(1.0), f"{path}: the source's finally did not run within 1 s"
    # and the server keeps serving
    s = live.open("/")
    assert read_until(s, b"ok").startswith(b"HTTP/1.1 200 ")
    s.close()


def test_blocking_sync_sources_do_not_stall_the_server(live):
    before = len(live_state.get("sync-blocking", []))
    streams = [live.open("/sync-blocking") for _ in range(4)]
    try:
        for s in streams:
            read_until(s, b"data: hello")
        t0 = time.monotonic()
        for _ in range(5):
            s = live.open("/")
            read_until(s, b"ok")
            s.close()
        assert time.monotonic() - t0 < 1.0     # a stalled loop would wait 0.3 s per sleep
        # every stream keeps getting pings while its generator sleeps
        for s in streams:
            read_until(s, b": ping\n\n", limit=2)
    finally:
        for s in streams:
            s.close()
    flags = live_state["sync-blocking"][before:]
    assert len(flags) == 4
    assert all(done.wait(1.0) for done in flags)
