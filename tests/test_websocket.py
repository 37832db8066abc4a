"""WebSockets (RFC 6455): the handshake, framing, control frames, the close
handshake, limits, timers and back-pressure, over real sockets (a raw client
written here and the `websockets` library as an independent client) and
through the TestClient."""
from __future__ import annotations

import asyncio
import base64
import os
import resource
import socket
import struct
import threading
import time
from typing import Any, List, Optional, Tuple

import pytest

from wire import RawClient
from catzilla import Catzilla
from catzilla.settings import Settings
from catzilla.testing import TestClient, WebSocketRejected, ws_frame
from catzilla.websocket import WebSocket, WebSocketDisconnect, WebSocketState

pytestmark = pytest.mark.timeout(120)

TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def handshake(path: str = "/ws", extra: str = "", key: Optional[str] = None, version: str = "13") -> bytes:
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n").encode()


class WSClient(RawClient):
    """A raw-socket WebSocket client: sends exactly the bytes a test asks for."""

    def open(self, path: str = "/ws", extra: str = "") -> Any:
        self.send(handshake(path, extra))
        resp = self.read_head()
        assert resp.status == 101, resp
        return resp

    def frame(self) -> Tuple[bool, int, bytes]:
        b0, b1 = self._exactly(2)
        assert not b1 & 0x80, "server frames are never masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._exactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._exactly(8))[0]
        return bool(b0 & 0x80), b0 & 0x7F, self._exactly(n)

    def message(self) -> Tuple[int, bytes]:
        fin, op, payload = self.frame()
        assert fin
        return op, payload

    def expect_close(self, code: int) -> bytes:
        """The next frame is a close with `code`; then the server closes the TCP connection."""
        op, payload = self.message()
        assert op == CLOSE, (op, payload)
        assert struct.unpack("!H", payload[:2])[0] == code, payload
        self.expect_eof()
        return payload[2:]

    def expect_eof(self) -> None:
        deadline = time.monotonic() + 5
        while self._fill(deadline):
            pass
        assert self.buf == b"", self.buf


def echo_app(**settings: Any) -> Catzilla:
    app = Catzilla(**settings)

    @app.websocket("/ws")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws:
            await ws.send(message)
    return app


@pytest.fixture
def echo(serve):
    return serve(echo_app(ws_ping_interval=None))


# -- echo and framing --------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_echo_text_and_binary(echo, size):
    with WSClient(echo) as c:
        resp = c.open()
        assert resp.header("connection").lower() == "upgrade"
        text = ("é" * size)[:size]
        c.send(ws_frame(TEXT, text.encode()))
        assert c.message() == (TEXT, text.encode())
        blob = os.urandom(size)
        c.send(ws_frame(BINARY, blob))
        assert c.message() == (BINARY, blob)


def test_accept_key(echo):
    with WSClient(echo) as c:
        c.send(handshake(key="dGhlIHNhbXBsZSBub25jZQ=="))      # RFC 6455 §1.3's example
        resp = c.read_head()
        assert resp.status == 101
        assert resp.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        assert resp.header("upgrade").lower() == "websocket"


def test_byte_at_a_time_and_frames_behind_the_handshake(echo):
    with WSClient(echo) as c:
        # frames sent in the same segment as the handshake are not lost
        c.send(handshake() + ws_frame(TEXT, b"early"))
        assert c.read_head().status == 101
        assert c.message() == (TEXT, b"early")
        c.send_slowly(ws_frame(TEXT, b"slow" * 40) + ws_frame(BINARY, b"\x00" * 70000)[:40], step=1)
        assert c.message() == (TEXT, b"slow" * 40)


def test_fragmented_message_with_ping_in_between(echo):
    with WSClient(echo) as c:
        c.open()
        c.send(ws_frame(TEXT, "hé".encode()[:2], fin=False))
        c.send(ws_frame(PING, b"are you there"))
        assert c.message() == (PONG, b"are you there")        # answered mid-message
        c.send(ws_frame(CONT, "hé".encode()[2:], fin=False))
        c.send(ws_frame(CONT, b"llo"))
        assert c.message() == (TEXT, "héllo".encode())
        c.send(ws_frame(BINARY, b"", fin=False) + ws_frame(CONT, b"") + ws_frame(CONT, b"", fin=True)[:0])
        assert c.message() == (BINARY, b"")


def test_ping_pong_same_payload_and_unsolicited_pong(echo):
    with WSClient(echo) as c:
        c.open()
        c.send(ws_frame(PONG, b"nobody asked"))           # ignored
        for payload in (b"", b"x", os.urandom(125)):
            c.send(ws_frame(PING, payload))
            assert c.message() == (PONG, payload)


# -- the close handshake -------------------------------------------------------------

def test_close_echoes_code_then_closes_tcp(serve):
    app = Catzilla(ws_ping_interval=None)
    seen: List[Any] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive()
        except WebSocketDisconnect as exc:
            seen.append((exc.code, exc.reason, ws.client_state))

    addr = serve(app)
    with WSClient(addr) as c:
        c.open()
        c.send(ws_frame(CLOSE, struct.pack("!H", 4321) + "bye ✓".encode()))
        c.expect_close(4321)
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen[0][:2] == (4321, "bye ✓")
    with WSClient(addr) as c:
        c.open()
        c.send(ws_frame(CLOSE, b""))                      # no status code: an empty close back
        assert c.message() == (CLOSE, b"")
        c.expect_eof()


def test_async_for_ends_on_normal_close(serve):
    app = Catzilla(ws_ping_interval=None)
    done = threading.Event()

    @app.websocket("/ws")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for _ in ws:
            pass
        done.set()                                         # no exception for 1000/1001

    addr = serve(app)
    for code in (1000, 1001):
        done.clear()
        with WSClient(addr) as c:
            c.open()
            c.send(ws_frame(TEXT, b"a") + ws_frame(CLOSE, struct.pack("!H", code)))
            c.expect_close(code)
        assert done.wait(5)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_invalid_close_codes_are_protocol_errors(echo, code):
    with WSClient(echo) as c:
        c.open()
        c.send(ws_frame(CLOSE, struct.pack("!H", code)))
        c.expect_close(1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1014, 3000, 3999,
                                  4000, 4999])
def test_valid_close_codes_are_echoed(echo, code):
    with WSClient(echo) as c:
        c.open()
        c.send(ws_frame(CLOSE, struct.pack("!H", code)))
        c.expect_close(code)


def test_bad_close_payloads(echo):
    for payload in (b"\x03", struct.pack("!H", 1000) + b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"):
        with WSClient(echo) as c:
            c.open()
            c.send(ws_frame(CLOSE, payload))
            c.expect_close(1002)


def test_data_after_close_is_not_processed(echo):
    with WSClient(echo) as c:
        c.open()
        c.send(ws_frame(CLOSE, struct.pack("!H", 1000)) + ws_frame(TEXT, b"ignored") + ws_frame(PING, b"x"))
        c.expect_close(1000)


# -- protocol errors: 1002 -------------------------------------------------------------

@pytest.mark.parametrize("frames", [
    ws_frame(TEXT, b"unmasked", mask=False),
    ws_frame(0x3, b"reserved opcode"),
    ws_frame(0xB, b""),
    ws_frame(TEXT, b"rsv1", rsv=0x40),              # no extension negotiated
    ws_frame(TEXT, b"rsv2", rsv=0x20),
    ws_frame(BINARY, b"rsv3", rsv=0x10),
    ws_frame(CONT, b"no message open"),
    ws_frame(PING, b"fragmented", fin=False),
    ws_frame(PING, b"x" * 126),
    ws_frame(TEXT, b"a", fin=False) + ws_frame(TEXT, b"b"),   # new message inside a fragmented one
    bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]),          # 64-bit length with the top bit set
], ids=["unmasked", "opcode3", "opcode11", "rsv1", "rsv2", "rsv3", "orphan-cont", "frag-ping", "big-ping",
        "nested", "len-msb"])
def test_protocol_errors_close_1002(echo, frames):
    with WSClient(echo) as c:
        c.open()
        c.send(frames)
        c.expect_close(1002)


def test_error_after_valid_messages_keeps_order(echo):
    with WSClient(echo) as c:
        c.open()
        c.send(ws_frame(TEXT, b"first") + ws_frame(0x5, b""))
        assert c.message() == (TEXT, b"first")
        c.expect_close(1002)


# -- UTF-8: 1007, as soon as the bad byte arrives ------------------------------------------

@pytest.mark.parametrize("bad", [
    b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf", b"\xed\xa0\x80",
    b"\xed\xbf\xbf", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xfe",
    b"\xce\xba\xe1\xbd", b"a\xe2\x82",
], ids=lambda b: b.hex())
def test_invalid_utf8_closes_1007(echo, bad):
    with WSClient(echo) as c:
        c.open()
        c.send(ws_frame(TEXT, bad))
        c.expect_close(1007)


def test_valid_utf8_edges(echo):
    with WSClient(echo) as c:
        c.open()
        for text in ("\x7f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "\U00010000",
                     "\U0010ffff", "κόσμε"):
            c.send(ws_frame(TEXT, text.encode()))
            assert c.message() == (TEXT, text.encode())


def test_invalid_utf8_fails_fast_mid_frame(echo):
    """The frame announces 1000 bytes; only the first 10 (with a bad byte) are
    sent: the server does not wait for the rest."""
    with WSClient(echo) as c:
        c.open()
        frame = ws_frame(TEXT, b"abc\xf4\x90" + b"x" * 995)
        c.send(frame[:8 + 10])                  # 2 + 2 (length) + 4 (mask) header bytes, 10 payload bytes
        c.expect_close(1007)


def test_invalid_utf8_fails_fast_in_fragmented_message(echo):
    with WSClient(echo) as c:
        c.open()
        c.send(ws_frame(TEXT, "κόσμε".encode(), fin=False) + ws_frame(CONT, b"\xed\xa0\x80", fin=False))
        c.expect_close(1007)                    # before the message's last fragment


def test_utf8_sequence_split_across_fragments(echo):
    with WSClient(echo) as c:
        c.open()
        data = "a€𝄞".encode()
        c.send(b"".join(ws_frame(TEXT if i == 0 else CONT, data[i:i + 1], fin=i == len(data) - 1)
                        for i in range(len(data))))
        assert c.message() == (TEXT, data)
        c.send(ws_frame(TEXT, "€".encode()[:2], fin=False) + ws_frame(CONT, b""))   # ends mid-character
        c.expect_close(1007)


# -- limits: 1009 -------------------------------------------------------------------

def test_message_too_big(serve):
    addr = serve(echo_app(ws_ping_interval=None, ws_max_message_size=1000))
    with WSClient(addr) as c:
        c.open()
        c.send(ws_frame(BINARY, b"x" * 1000))
        assert c.message() == (BINARY, b"x" * 1000)
        c.send(ws_frame(BINARY, b"x" * 100_000)[:10])        # the header alone is enough
        c.expect_close(1009)
    with WSClient(addr) as c:
        c.open()
        c.send(ws_frame(TEXT, b"x" * 600, fin=False) + ws_frame(CONT, b"x" * 401))
        c.expect_close(1009)


# -- the handshake ----------------------------------------------------------------------

def test_handshake_errors(serve):
    app = echo_app(ws_ping_interval=None)

    @app.get("/plain")
    def plain(request: Any) -> str:
        return "http"

    addr = serve(app)

    def answer(raw: bytes) -> Any:
        with RawClient(addr) as c:
            c.send(raw)
            return c.read_response()

    r = answer(handshake(version="8"))
    assert r.status == 426 and r.header("sec-websocket-version") == "13"
    assert answer(handshake(key="")).status == 400
    assert answer(handshake(key=base64.b64encode(b"x" * 15).decode())).status == 400
    assert answer(handshake(key="not base64!!!!!!!!!!!!==")).status == 400
    assert answer(handshake(extra="Content-Length: 3\r\n") + b"abc").status == 400
    r = answer(b"GET /ws HTTP/1.1\r\nHost: t\r\n\r\n")             # plain HTTP to a WebSocket route
    assert r.status == 426 and r.header("upgrade").lower() == "websocket"
    assert answer(handshake("/nowhere")).status == 404
    assert answer(handshake("/plain")).text == "http"                # upgrade ignored on an HTTP route
    assert answer(handshake().replace(b"GET", b"POST", 1)).status == 405
    r = answer(handshake().replace(b"Upgrade: websocket", b"Upgrade: h2c"))
    assert r.status == 426                                            # not a WebSocket upgrade


def test_handler_refuses_before_accept(serve):
    app = Catzilla(ws_ping_interval=None)

    @app.websocket("/return")
    async def returns(ws: WebSocket) -> None:
        return None

    @app.websocket("/close")
    async def closes(ws: WebSocket) -> None:
        await ws.close()

    @app.websocket("/raise")
    async def raises(ws: WebSocket) -> None:
        raise RuntimeError("boom")

    addr = serve(app)
    for path in ("/return", "/close", "/raise"):
        with RawClient(addr) as c:
            c.send(handshake(path))
            assert c.read_response().status == 403


def test_handler_end_after_accept(serve):
    app = Catzilla(ws_ping_interval=None)

    @app.websocket("/return")
    async def returns(ws: WebSocket) -> None:
        await ws.accept()

    @app.websocket("/raise")
    async def raises(ws: WebSocket) -> None:
        await ws.accept()
        raise RuntimeError("boom (expected in this test)")

    @app.websocket("/close")
    async def closes(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send("bye")
        await ws.close(4001, "done")

    addr = serve(app)
    for path, code in (("/return", 1000), ("/raise", 1011)):
        with WSClient(addr) as c:
            c.open(path)
            op, payload = c.message()
            assert op == CLOSE and struct.unpack("!H", payload[:2])[0] == code
            c.send(ws_frame(CLOSE, payload[:2]))
            c.expect_eof()
    with WSClient(addr) as c:
        c.open("/close")
        assert c.message() == (TEXT, b"bye")
        assert c.message() == (CLOSE, struct.pack("!H", 4001) + b"done")
        c.send(ws_frame(CLOSE, struct.pack("!H", 4001)))
        c.expect_eof()


def test_subprotocols_params_and_request_data(serve):
    app = Catzilla(ws_ping_interval=None)

    @app.websocket("/feed/{topic}")
    async def feed(ws: WebSocket, topic: str) -> None:
        assert ws.subprotocols == ["chat.v1", "chat.v2"]
        with pytest.raises(ValueError):
            await ws.accept(subprotocol="chat.v9")
        await ws.accept(subprotocol="chat.v2", headers={"x-topic": topic})
        await ws.send_json({"topic": topic, "q": ws.query_params.get("q"), "h": ws.headers.get("x-h"),
                            "url": ws.url, "params": ws.path_params,
                            "client": isinstance(ws.client, tuple)})

    addr = serve(app)
    with WSClient(addr) as c:
        resp = c.open("/feed/news?q=1", "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\nX-H: v\r\n")
        assert resp.header("sec-websocket-protocol") == "chat.v2"
        assert resp.header("x-topic") == "news"
        op, payload = c.message()
        import json
        assert json.loads(payload) == {"topic": "news", "q": "1", "h": "v", "url": "ws://t/feed/news?q=1",
                                       "params": {"topic": "news"}, "client": True}


def test_websocket_route_must_be_async() -> None:
    app = Catzilla()
    with pytest.raises(TypeError, match="async"):
        @app.websocket("/ws")
        def sync_handler(ws: Any) -> None:
            pass
    with pytest.raises(TypeError, match="async"):
        app.add_websocket_route("/ws2", lambda ws: None)


def test_settings_validation() -> None:
    s = Settings()
    assert s.ws_max_message_size == 16 * 1024 * 1024 and s.ws_ping_interval == 20.0
    assert s.ws_close_timeout == 5.0 and s.ws_per_message_deflate is True
    assert Settings(ws_ping_interval=None).ws_ping_interval is None
    assert Settings(ws_ping_interval=1).ws_ping_interval == 1.0
    for bad in ({"ws_max_message_size": 0}, {"ws_ping_interval": -1}, {"ws_ping_timeout": 0},
                {"ws_close_timeout": 0}):
        with pytest.raises(ValueError):
            Settings(**bad)
    with pytest.raises(TypeError):
        Settings(ws_ping_interval="1")
    with pytest.raises(TypeError):
        Settings(ws_max_message_size=None)


# -- timers -----------------------------------------------------------------------------

@pytest.mark.slow
def test_server_pings_and_times_out_a_silent_peer(serve):
    addr = serve(echo_app(ws_ping_interval=1, ws_ping_timeout=1))
    with WSClient(addr, timeout=10) as c:
        c.open()
        op, payload = c.message()
        assert op == PING and len(payload) == 8
        c.send(ws_frame(PONG, payload))                 # answered: the connection stays
        op, payload2 = c.message()
        assert op == PING
        c.expect_close(1011)                            # not answered: closed


def test_close_timeout_drops_a_peer_that_never_answers(serve):
    app = Catzilla(ws_ping_interval=None, ws_close_timeout=1)

    @app.websocket("/ws")
    async def closes(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(1000)

    addr = serve(app)
    with WSClient(addr, timeout=10) as c:
        c.open()
        assert c.message()[0] == CLOSE
        start = time.monotonic()
        c.expect_eof()                                  # we never send our close
        assert time.monotonic() - start < 8


def test_graceful_shutdown_closes_with_1001(serve):
    addr = serve(echo_app(ws_ping_interval=None), shutdown_timeout=5)
    with WSClient(addr) as c:
        c.open()
        stopper = threading.Thread(target=addr.stop)
        stopper.start()
        op, payload = c.message()
        assert op == CLOSE and struct.unpack("!H", payload[:2])[0] == 1001
        c.send(ws_frame(CLOSE, payload[:2]))
        c.expect_eof()
        stopper.join(10)
        assert not stopper.is_alive()


# -- disconnects and back-pressure ----------------------------------------------------------

def test_reset_raises_disconnect_in_handler_within_a_second(serve):
    app = Catzilla(ws_ping_interval=None)
    waiting = threading.Event()
    result: List[Any] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        waiting.set()
        try:
            await ws.receive()
        except WebSocketDisconnect as exc:
            result.append((exc.code, time.monotonic()))
            with pytest.raises(WebSocketDisconnect):
                await ws.send("too late")

    addr = serve(app)
    c = WSClient(addr)
    c.open()
    assert waiting.wait(5)
    reset_at = time.monotonic()
    c.reset()
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        time.sleep(0.01)
    assert result and result[0][0] == 1006
    assert result[0][1] - reset_at < 1.0


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_send_waits_for_a_non_reading_peer_with_flat_memory(serve):
    app = Catzilla(ws_ping_interval=None)
    sent = [0]
    ended: List[str] = []
    chunk = os.urandom(1024 * 1024)

    @app.websocket("/ws")
    async def flood(ws: WebSocket) -> None:
        await ws.accept()
        try:
            for _ in range(2000):                       # 2 GiB if nothing held it back
                await ws.send(chunk)
                sent[0] += len(chunk)
        except WebSocketDisconnect:
            ended.append("disconnect")

    addr = serve(app)
    c = WSClient(addr)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.open()
    time.sleep(0.5)
    before = _rss_bytes()
    time.sleep(2.0)
    after = _rss_bytes()
    assert sent[0] < 64 * 1024 * 1024, sent[0]          # send waited: the socket is full
    assert after - before < 32 * 1024 * 1024, (before, after)
    # the client reads a little: the sender goes on
    progress = sent[0]
    for _ in range(20):
        c.frame()
    deadline = time.monotonic() + 5
    while sent[0] == progress and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent[0] > progress
    c.reset()
    deadline = time.monotonic() + 5
    while not ended and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ended == ["disconnect"]                      # the waiting send raised


@pytest.mark.slow
def test_slow_consumer_pauses_reading(serve):
    """Messages the handler has not taken are bounded: the server stops reading
    and TCP pushes back on the client."""
    app = Catzilla(ws_ping_interval=None)
    go = threading.Event()
    got: List[int] = []

    @app.websocket("/ws")
    async def slow(ws: WebSocket) -> None:
        await ws.accept()
        while not go.is_set():
            await asyncio.sleep(0.01)
        async for message in ws:
            got.append(len(message))

    addr = serve(app)
    with WSClient(addr) as c:
        c.open()
        c.sock.setblocking(False)
        frame = ws_frame(BINARY, b"x" * 65536)
        sent = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                n = c.sock.send(frame[sent % len(frame):])
                sent += n
            except BlockingIOError:
                time.sleep(0.05)
        c.sock.setblocking(True)
        assert sent < 400 * 1024 * 1024                 # pushed back, not buffered without bound
        go.set()
        c.sock.sendall(frame[sent % len(frame):])
        c.send(ws_frame(CLOSE, struct.pack("!H", 1000)))
        c.expect_close(1000)
    assert len(got) == sent // len(frame) + 1


def test_thousand_concurrent_echo_connections(serve):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2500:
            pytest.skip("needs ~2100 file descriptors")
    addr = serve(echo_app(ws_ping_interval=None))

    import websockets

    async def one(i: int) -> bool:
        async with websockets.connect(f"ws://{addr[0]}:{addr[1]}/ws", compression=None,
                                      open_timeout=60, close_timeout=30, ping_interval=None) as c:
            await c.send(f"hello {i}")
            ok = await c.recv() == f"hello {i}"
            await c.send(bytes([i % 256]) * 100)
            return ok and await c.recv() == bytes([i % 256]) * 100

    async def main() -> List[Any]:
        sem = asyncio.Semaphore(250)                     # connect in waves (listen backlog)

        async def limited(i: int) -> bool:
            async with sem:
                return await one(i)

        conns: List[Any] = []
        # hold all 1000 open at once, then echo on each
        async def hold(i: int) -> Any:
            async with sem:
                return await websockets.connect(f"ws://{addr[0]}:{addr[1]}/ws", compression=None,
                                                open_timeout=60, ping_interval=None)
        conns = await asyncio.gather(*(hold(i) for i in range(1000)))

        async def echo_on(c: Any, i: int) -> bool:
            await c.send(f"msg {i}")
            return await c.recv() == f"msg {i}"
        results = await asyncio.gather(*(echo_on(c, i) for i, c in enumerate(conns)))
        await asyncio.gather(*(c.close() for c in conns))
        results += await asyncio.gather(*(limited(i) for i in range(20)))
        return results

    start = time.monotonic()
    results = asyncio.run(asyncio.wait_for(main(), 100))
    assert all(results) and len(results) == 1020
    assert time.monotonic() - start < 100


# -- the `websockets` library as an independent client ----------------------------------------

def test_websockets_library_client(serve):
    import websockets
    from websockets.exceptions import ConnectionClosedError

    addr = serve(echo_app(ws_ping_interval=None, ws_max_message_size=100_000))

    async def main() -> None:
        uri = f"ws://{addr[0]}:{addr[1]}/ws"
        async with websockets.connect(uri, compression=None) as c:
            await c.send("κόσμε")
            assert await c.recv() == "κόσμε"
            await c.send([b"frag", b"men", b"ted"])     # one message in three frames
            assert await c.recv() == b"fragmented"
            pong = await c.ping(b"p")
            await asyncio.wait_for(pong, 5)
            await c.close(4000, "bye")
        assert c.close_code == 4000
        async with websockets.connect(uri, compression=None, max_size=None) as c:
            await c.send(b"x" * 100_001)
            with pytest.raises(ConnectionClosedError):
                await c.recv()
        assert c.close_code == 1009

    asyncio.run(asyncio.wait_for(main(), 30))


# -- TestClient ---------------------------------------------------------------------------------

def test_testclient_websocket() -> None:
    app = echo_app(ws_ping_interval=None)

    @app.websocket("/json")
    async def json_echo(ws: WebSocket) -> None:
        await ws.accept(subprotocol="v1" if "v1" in ws.subprotocols else None)
        data = await ws.receive_json()
        await ws.send_json({"got": data})
        await ws.close(4000)

    @app.websocket("/deny")
    async def deny(ws: WebSocket) -> None:
        await ws.close()

    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "hi"
            ws.send_bytes(b"\x00\xff")
            assert ws.receive_bytes() == b"\x00\xff"
            ws.send_frame(TEXT, b"\xff")
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
            assert info.value.code == 1007
        with client.websocket_connect("/json", subprotocols=["v1"]) as ws:
            assert ws.subprotocol == "v1"
            ws.send_json({"a": [1, 2]})
            assert ws.receive_json() == {"got": {"a": [1, 2]}}
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
            assert info.value.code == 4000
        with pytest.raises(WebSocketRejected) as rejected:
            client.websocket_connect("/deny")
        assert rejected.value.status_code == 403
        assert client.get("/ws").status_code == 426


def test_public_api_shape() -> None:
    assert WebSocketState.CONNECTED == 1
    exc = WebSocketDisconnect(1001, "away")
    assert (exc.code, exc.reason) == (1001, "away")
    import catzilla
    assert catzilla.WebSocket is WebSocket and catzilla.WebSocketDisconnect is WebSocketDisconnect


# -- permessage-deflate (RFC 7692) ---------------------------------------------------------------

def deflate(data: bytes) -> bytes:
    import zlib
    c = zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data: bytes) -> bytes:
    import zlib
    return zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff")


PMD_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; " \
            "server_no_context_takeover\r\n"


def test_permessage_deflate_raw(serve):
    addr = serve(echo_app(ws_ping_interval=None, ws_max_message_size=100_000))
    with WSClient(addr) as c:
        resp = c.open(extra=PMD_OFFER)
        assert resp.header("sec-websocket-extensions").startswith("permessage-deflate")
        text = "κόσμε " * 1000
        c.send(ws_frame(TEXT, deflate(text.encode()), rsv=0x40))
        fin, op, payload = c.frame()
        assert op == TEXT | 0x40 and inflate(payload) == text.encode()     # RSV1: compressed reply
        packed = deflate(b"\x01" * 5000)                                     # fragmented, compressed
        c.send(ws_frame(BINARY, packed[:3], rsv=0x40, fin=False) + ws_frame(CONT, packed[3:]))
        fin, op, payload = c.frame()
        assert inflate(payload) == b"\x01" * 5000
        c.send(ws_frame(TEXT, b"plain too"))                                  # RSV1 unset: not compressed
        assert inflate(c.frame()[2]) == b"plain too"

    cases = [
        (ws_frame(TEXT, deflate(b"ab")[:1], rsv=0x40, fin=False) + ws_frame(CONT, b"x", rsv=0x40), 1002),
        (ws_frame(PING, b"", rsv=0x40), 1002),
        (ws_frame(BINARY, b"\xff\xff\xff\xff", rsv=0x40), 1007),               # not deflate data
        (ws_frame(TEXT, deflate(b"ok \xed\xa0\x80"), rsv=0x40), 1007),          # UTF-8 checked after inflating
        (ws_frame(BINARY, deflate(b"\x00" * 200_000), rsv=0x40), 1009),        # small on the wire, too big
    ]
    for frames, code in cases:
        with WSClient(addr) as c:
            c.open(extra=PMD_OFFER)
            c.send(frames)
            c.expect_close(code)


def test_permessage_deflate_off_and_not_offered(serve):
    addr = serve(echo_app(ws_ping_interval=None, ws_per_message_deflate=False))
    with WSClient(addr) as c:
        resp = c.open(extra=PMD_OFFER)
        assert resp.header("sec-websocket-extensions") is None
        c.send(ws_frame(TEXT, deflate(b"x"), rsv=0x40))                       # not agreed: RSV1 is an error
        c.expect_close(1002)


def test_permessage_deflate_with_websockets_library(serve):
    import websockets

    addr = serve(echo_app(ws_ping_interval=None))

    async def main() -> None:
        async with websockets.connect(f"ws://{addr[0]}:{addr[1]}/ws") as c:      # offers deflate by default
            assert "permessage-deflate" in c.response.headers["sec-websocket-extensions"]
            for i in range(50):                                                # context carried over
                message = f"message {i} " + "repetitive text " * 100
                await c.send(message)
                assert await c.recv() == message
            await c.send([b"a" * 1000, b"b" * 1000])
            assert await c.recv() == b"a" * 1000 + b"b" * 1000

    asyncio.run(asyncio.wait_for(main(), 30))


def test_example_echo_and_chat() -> None:
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "app.py")
    spec = importlib.util.spec_from_file_location("catzilla_example_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with TestClient(module.app) as client:
        with client.websocket_connect("/ws/echo") as ws:
            ws.send_text("ping")
            assert ws.receive_text() == "ping"
            ws.send_bytes(b"\x00")
            assert ws.receive_bytes() == b"\x00"
        with client.websocket_connect("/ws/chat") as alice, client.websocket_connect("/ws/chat") as bob:
            bob.send_text("warm-up")                       # both are members once this went round
            assert bob.receive_text() == "warm-up"
            assert alice.receive_text() == "warm-up"
            alice.send_text("hi all")
            assert bob.receive_text() == "hi all"
            assert alice.receive_text() == "hi all"
        assert module.hub.metrics()["topics"]["chat"]["subscribers"] == 0


def test_hangup_while_reading_is_paused_does_not_spin(serve):
    """A peer that sends a flood and half-closes while the handler is not
    reading: the server neither spins on the hang-up nor loses the messages."""
    app = Catzilla(ws_ping_interval=None)
    go = threading.Event()
    got: List[Any] = []

    @app.websocket("/ws")
    async def slow(ws: WebSocket) -> None:
        await ws.accept()
        while not go.is_set():
            await asyncio.sleep(0.01)
        try:
            async for message in ws:
                got.append(len(message))
        except WebSocketDisconnect as exc:
            got.append(("disconnect", exc.code))

    addr = serve(app)
    with WSClient(addr) as c:
        c.open()
        frames = ws_frame(BINARY, b"y" * 1000) * 200          # more than the queue holds
        c.send(frames)
        c.shutdown_write()
        time.sleep(0.3)
        cpu = time.process_time()
        time.sleep(1.5)
        assert time.process_time() - cpu < 0.75                # no busy loop on the hang-up
        go.set()
        deadline = time.monotonic() + 10
        while (not got or got[-1] != ("disconnect", 1006)) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert got[:-1] == [1000] * 200 and got[-1] == ("disconnect", 1006)
