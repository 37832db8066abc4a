"""TestClient: drive an app through the real compiled server in-process.

Each request goes over a socketpair into the same Connection, parser, router
and response code that serve real clients; the test client runs the event
loop itself, so tests need no threads, ports or sleeps."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json as _json
import os
import socket
import struct
from typing import Any, AsyncIterator, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode

from catzilla.exceptions import WebSocketDisconnect

HeadersArg = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]


class TestResponse:
    __test__ = False

    def __init__(self, status_code: int, reason: str, headers: List[Tuple[str, str]], content: bytes,
                 http_version: str) -> None:
        self.status_code = status_code
        self.reason = reason
        self.raw_headers = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.content = content
        self.http_version = http_version

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")

    def json(self) -> Any:
        return _json.loads(self.content)

    def header_list(self, name: str) -> List[str]:
        return [v for k, v in self.raw_headers if k.lower() == name.lower()]

    def __repr__(self) -> str:
        return f"<TestResponse {self.status_code} {len(self.content)} bytes>"


class _Reader:
    """An HTTP/1.1 response reader over a non-blocking socket, on the test loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, head_only: bool) -> None:
        self.loop = loop
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0              # bytes of buf already consumed
        self.eof = False
        self.head_only = head_only
        self.chunked = False
        self.length: Optional[int] = None
        self.done = False

    async def fill(self) -> None:
        data = await self.loop.sock_recv(self.sock, 262144)
        if not data:
            self.eof = True
        if self.pos > 65536:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def take(self, n: int) -> bytes:
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += len(out)
        return out

    async def line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.take(end - self.pos)
                self.pos += 2
                return line
            if self.eof:
                raise ConnectionError("connection closed inside a line")
            await self.fill()

    async def exactly(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n:
            if self.eof:
                raise ConnectionError(f"connection closed with {n - len(self.buf) + self.pos} body bytes missing")
            await self.fill()
        return self.take(n)

    async def head(self) -> Tuple[int, str, List[Tuple[str, str]], str]:
        while True:
            status_line = (await self.line()).decode("latin-1")
            version, code, *reason = status_line.split(" ", 2)
            headers = []
            while True:
                line = await self.line()
                if not line:
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers.append((name.strip(), value.strip()))
            status = int(code)
            if status != 100:
                break
        lower = {k.lower(): v for k, v in headers}
        self.chunked = lower.get("transfer-encoding", "").lower() == "chunked"
        if "content-length" in lower:
            self.length = int(lower["content-length"])
        if self.head_only or status in (204, 304) or status < 200:
            self.done = True
        return status, reason[0] if reason else "", headers, version.split("/")[-1]

    async def chunk(self) -> Optional[bytes]:
        """The next piece of body as it arrives, or None at its end."""
        if self.done:
            return None
        if self.chunked:
            size_line = await self.line()
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while await self.line():
                    pass
                self.done = True
                return None
            data = await self.exactly(size)
            if await self.exactly(2) != b"\r\n":
                raise ValueError("chunk not followed by CRLF")
            return data
        if self.length is not None:
            if self.length == 0:
                self.done = True
                return None
            if self.pos == len(self.buf):
                await self.fill()
                if self.eof and self.pos == len(self.buf):
                    raise ConnectionError(f"connection closed with {self.length} body bytes missing")
            data = self.take(self.length)
            self.length -= len(data)
            return data
        if self.pos == len(self.buf):
            await self.fill()
            if self.eof:
                self.done = True
                return None
        return self.take(len(self.buf) - self.pos)


class _OpenExchange:
    """A response whose head is read, on a connection the test goes on reading."""
    __test__ = False

    def __init__(self, client: "TestClient", sock: socket.socket, reader: _Reader,
                 head: Tuple[int, str, List[Tuple[str, str]], str]) -> None:
        self._client = client
        self._sock = sock
        self._reader = reader
        self.status_code, self.reason, self.raw_headers, self.http_version = head
        self.headers = {k.lower(): v for k, v in self.raw_headers}


class StreamingTestResponse(_OpenExchange):
    """client.stream(...): the head is read; the body is read as you iterate."""

    def iter_bytes(self) -> Iterator[bytes]:
        while True:
            piece = self._client._run(self._reader.chunk())
            if piece is None:
                return
            yield piece

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def close(self) -> None:
        """Hang up, as a client that goes away mid-stream."""
        self._sock.close()
        self._client._run(asyncio.sleep(0.01))

    def __enter__(self) -> "StreamingTestResponse":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class WebSocketRejected(WebSocketDisconnect):
    """websocket_connect(): the server answered the handshake with HTTP, not 101."""

    def __init__(self, response: TestResponse) -> None:
        super().__init__(1006, f"handshake refused with HTTP {response.status_code}")
        self.response = response
        self.status_code = response.status_code


def _mask(key: bytes, data: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def ws_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = True) -> bytes:
    """A client frame (masked, as RFC 6455 requires of clients); rsv: bits 0x40/0x20/0x10."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _mask(key, payload)


class WebSocketTestSession(_OpenExchange):
    """client.websocket_connect(path): one WebSocket over the real server. Pings
    are answered; a close frame from the server raises WebSocketDisconnect."""

    def __init__(self, client: "TestClient", sock: socket.socket, reader: _Reader,
                 head: Tuple[int, str, List[Tuple[str, str]], str]) -> None:
        super().__init__(client, sock, reader, head)
        self.subprotocol: Optional[str] = self.headers.get("sec-websocket-protocol")
        self.extensions: Optional[str] = self.headers.get("sec-websocket-extensions")
        self.close_code: Optional[int] = None
        self.close_reason = ""
        self._close_sent = False

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are (frames made with ws_frame, or anything else)."""
        self._client._run(self._client.loop.sock_sendall(self._sock, data))

    def send_frame(self, opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> None:
        self.send_raw(ws_frame(opcode, payload, fin=fin, rsv=rsv))

    def send(self, data: Union[str, bytes]) -> None:
        if isinstance(data, str):
            self.send_frame(0x1, data.encode("utf-8"))
        else:
            self.send_frame(0x2, bytes(data))

    def send_text(self, data: str) -> None:
        self.send_frame(0x1, data.encode("utf-8"))

    def send_bytes(self, data: bytes) -> None:
        self.send_frame(0x2, bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        text = _json.dumps(data, separators=(",", ":"))
        self.send_text(text) if mode == "text" else self.send_bytes(text.encode("utf-8"))

    async def _frame(self) -> Tuple[bool, int, bytes]:
        r = self._reader
        b0, b1 = await r.exactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await r.exactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await r.exactly(8))[0]
        if b1 & 0x80:
            raise ValueError("the server sent a masked frame")
        return bool(b0 & 0x80), b0 & 0x0F, await r.exactly(n)

    async def _message(self) -> Union[str, bytes]:
        parts: List[bytes] = []
        op = 0
        while True:
            try:
                fin, opcode, payload = await self._frame()
            except ConnectionError:
                self.close_code = self.close_code or 1006
                raise WebSocketDisconnect(self.close_code, self.close_reason) from None
            if opcode == 0x9:
                await self._client.loop.sock_sendall(self._sock, ws_frame(0xA, payload))
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close_reason = payload[2:].decode("utf-8")
                if not self._close_sent:
                    self._close_sent = True
                    await self._client.loop.sock_sendall(self._sock, ws_frame(0x8, payload[:2]))
                raise WebSocketDisconnect(self.close_code, self.close_reason)
            if opcode:
                op = opcode
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return data.decode("utf-8") if op == 0x1 else data

    def receive(self, timeout: float = 10.0) -> Union[str, bytes]:
        """The next message (str or bytes); WebSocketDisconnect when the server closed."""
        result: Union[str, bytes] = self._client._run(self._message(), timeout)
        return result

    def receive_text(self) -> str:
        message = self.receive()
        if not isinstance(message, str):
            raise TypeError("expected a text message")
        return message

    def receive_bytes(self) -> bytes:
        message = self.receive()
        if not isinstance(message, bytes):
            raise TypeError("expected a binary message")
        return message

    def receive_json(self) -> Any:
        return _json.loads(self.receive())

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (unless the server closed first) and wait for the
        server's close and the end of the connection."""
        if self._sock.fileno() < 0:
            return
        try:
            if not self._close_sent:
                self._close_sent = True
                self.send_frame(0x8, struct.pack("!H", code) + reason.encode("utf-8"))
            if self.close_code is None:
                try:
                    while True:
                        self.receive(5.0)
                except WebSocketDisconnect:
                    pass
        except (ConnectionError, asyncio.TimeoutError):
            pass
        finally:
            self._sock.close()

    def __enter__(self) -> "WebSocketTestSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class TestClient:
    """client = TestClient(app); r = client.get("/"); assert r.status_code == 200"""
    __test__ = False

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        # the same lifecycle as app.serve(): startup hooks, then the server
        self.server = self._run(app._start_server([], self.loop, watchdog=False))
        self._closed = False

    def _run(self, coro: Any, timeout: float = 30.0) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def _encode(self, method: str, path: str, params: Optional[Mapping[str, Any]], headers: HeadersArg,
                content: Union[bytes, str, None], json: Any, data: Optional[Mapping[str, Any]],
                http_version: str) -> bytes:
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params, doseq=True)
        hdrs: List[Tuple[str, str]] = list(headers.items() if isinstance(headers, Mapping) else headers or [])
        names = {k.lower() for k, _ in hdrs}
        body = b""
        if json is not None:
            body = _json.dumps(json).encode()
            if "content-type" not in names:
                hdrs.append(("content-type", "application/json"))
        elif data is not None:
            body = urlencode(data, doseq=True).encode()
            if "content-type" not in names:
                hdrs.append(("content-type", "application/x-www-form-urlencoded"))
        elif content is not None:
            body = content.encode() if isinstance(content, str) else bytes(content)
        if "host" not in names and http_version == "1.1":
            hdrs.insert(0, ("host", "testserver"))
        if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in names \
                and "transfer-encoding" not in names:
            hdrs.append(("content-length", str(len(body))))
        head = f"{method} {path} HTTP/{http_version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
        return head.encode("latin-1") + body

    def _open(self, raw: bytes) -> socket.socket:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        self.server.adopt(theirs.detach())
        self._run(self.loop.sock_sendall(ours, raw))
        return ours

    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
                headers: HeadersArg = None, content: Union[bytes, str, None] = None, json: Any = None,
                data: Optional[Mapping[str, Any]] = None, http_version: str = "1.1") -> TestResponse:
        method = method.upper()
        sock = self._open(self._encode(method, path, params, headers, content, json, data, http_version))
        try:
            reader = _Reader(self.loop, sock, method == "HEAD")
            status, reason, hdrs, version = self._run(reader.head())

            async def body() -> bytes:
                parts = []
                while (piece := await reader.chunk()) is not None:
                    parts.append(piece)
                return b"".join(parts)

            return TestResponse(status, reason, hdrs, self._run(body()), version)
        finally:
            sock.close()

    def stream(self, method: str, path: str, **kwargs: Any) -> StreamingTestResponse:
        method = method.upper()
        http_version = kwargs.pop("http_version", "1.1")
        raw = self._encode(method, path, kwargs.pop("params", None), kwargs.pop("headers", None),
                           kwargs.pop("content", None), kwargs.pop("json", None), kwargs.pop("data", None),
                           http_version)
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(kwargs)}")
        sock = self._open(raw)
        reader = _Reader(self.loop, sock, method == "HEAD")
        return StreamingTestResponse(self, sock, reader, self._run(reader.head()))

    def raw(self, data: bytes, *, read_timeout: float = 5.0) -> bytes:
        """Send raw bytes on a new connection; everything the server sends until it closes."""
        sock = self._open(data)

        async def read_all() -> bytes:
            out = b""
            while True:
                chunk = await self.loop.sock_recv(sock, 65536)
                if not chunk:
                    return out
                out += chunk
        try:
            return self._run(read_all(), read_timeout)
        finally:
            sock.close()

    def websocket_connect(self, path: str, subprotocols: Optional[Sequence[str]] = None,
                          headers: HeadersArg = None) -> WebSocketTestSession:
        """Open a WebSocket (use as a context manager). WebSocketRejected when the
        server answers the handshake with an HTTP response instead of 101."""
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        hdrs: List[Tuple[str, str]] = [("upgrade", "websocket"), ("connection", "Upgrade"),
                                       ("sec-websocket-key", key), ("sec-websocket-version", "13")]
        if subprotocols:
            hdrs.append(("sec-websocket-protocol", ", ".join(subprotocols)))
        hdrs += list(headers.items() if isinstance(headers, Mapping) else headers or [])
        sock = self._open(self._encode("GET", path, None, hdrs, None, None, None, "1.1"))
        reader = _Reader(self.loop, sock, False)
        try:
            head = self._run(reader.head())
            if head[0] != 101:
                async def body() -> bytes:
                    parts = []
                    while (piece := await reader.chunk()) is not None:
                        parts.append(piece)
                    return b"".join(parts)
                raise WebSocketRejected(TestResponse(head[0], head[1], head[2], self._run(body()), head[3]))
        except BaseException:
            sock.close()
            raise
        session = WebSocketTestSession(self, sock, reader, head)
        expected = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                    .digest()).decode()
        if session.headers.get("sec-websocket-accept") != expected:
            sock.close()
            raise ValueError("wrong Sec-WebSocket-Accept in the 101 response")
        return session

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw: Any) -> TestResponse:
        return self.request("HEAD", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> TestResponse:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> TestResponse:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        return self.request("DELETE", path, **kw)

    def options(self, path: str, **kw: Any) -> TestResponse:
        return self.request("OPTIONS", path, **kw)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._run(self.app._stop_server(self.server, 1.0))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def __enter__(self) -> "TestClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
