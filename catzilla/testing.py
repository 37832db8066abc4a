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
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union
from urllib.parse import urlencode

from catzilla.exceptions import WebSocketDisconnect

HeadersArg = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]
_T = TypeVar("_T")


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


class NeedData(Exception):
    """ResponseReader: the bytes fed so far do not hold the next complete element."""


class ResponseClosed(ConnectionError):
    """The peer closed the connection before the element being read was complete."""


class MalformedResponse(ValueError):
    """The bytes are not a well-formed HTTP/1.1 response."""


_HEX = frozenset(b"0123456789abcdefABCDEF")


class ResponseReader:
    """The one HTTP/1.1 response reader: status line and header section, then a
    body framed by chunked encoding, Content-Length or the end of the
    connection. It does no I/O, so the TestClient drives it from its loop and
    the project's raw-socket tests from blocking or non-blocking sockets: feed()
    what arrived (b"" at EOF), then ask for the next element; each either
    returns it whole (and consumes it) or raises NeedData and consumes nothing.
    Strict about what it reads: a malformed head, chunk size (extensions
    included: the server sends none), chunk terminator or framing raises
    MalformedResponse; a close before the element is complete, ResponseClosed."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.pos = 0              # bytes of buf already consumed
        self.eof = False
        self.framing: Optional[str] = None     # "chunked", "length", "close"; None: no body (left)
        self.remaining = 0        # "length": body bytes still to come
        self.trailers: List[Tuple[str, str]] = []

    def feed(self, data: bytes) -> None:
        if not data:
            self.eof = True
            return
        if self.pos > 65536:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    @property
    def buffered(self) -> int:
        return len(self.buf) - self.pos

    def take_buffered(self) -> bytes:
        """Everything fed and not consumed yet."""
        return self._take(len(self.buf) - self.pos)

    def _take(self, n: int) -> bytes:
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += len(out)
        return out

    def _short(self, what: str) -> Exception:
        if self.eof:
            return ResponseClosed(f"connection closed inside {what}; buffered {bytes(self.buf[self.pos:])[:200]!r}")
        return NeedData()

    def line(self) -> bytes:
        """The next CRLF-terminated line, without its CRLF."""
        end = self.buf.find(b"\r\n", self.pos)
        if end < 0:
            raise self._short("a line")
        line = self._take(end - self.pos)
        self.pos += 2
        return line

    def exactly(self, n: int) -> bytes:
        """The next n bytes."""
        if len(self.buf) - self.pos < n:
            raise self._short(f"{n} bytes ({len(self.buf) - self.pos} there)")
        return self._take(n)

    def head(self, head_only: bool = False) -> Tuple[str, int, str, List[Tuple[str, str]], bytes]:
        """The next status line and header section: (version, status, reason,
        headers, raw head with its blank line). Sets the framing of the body
        that follows; head_only: the request was HEAD, so none does."""
        end = self.buf.find(b"\r\n\r\n", self.pos)
        if end < 0:
            raise self._short("a response head")
        raw = self._take(end + 4 - self.pos)
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not (len(parts[1]) == 3 and parts[1].isdigit()):
            raise MalformedResponse(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        headers: List[Tuple[str, str]] = []
        for line in lines[1:]:
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon or not name or name != name.strip():
                raise MalformedResponse(f"bad header line {line!r}")
            headers.append((name, value.strip(" \t")))
        self.trailers = []
        self.framing, self.remaining = None, 0
        if not (head_only or status in (204, 304) or status < 200):
            te = [v for k, v in headers if k.lower() == "transfer-encoding"]
            cl = [v for k, v in headers if k.lower() == "content-length"]
            if te:
                if [v.lower() for v in te] != ["chunked"]:
                    raise MalformedResponse(f"unexpected transfer-encoding {te!r}")
                if cl:
                    raise MalformedResponse("response has both Transfer-Encoding and Content-Length")
                self.framing = "chunked"
            elif cl:
                if len(cl) != 1 or not cl[0].isdigit():
                    raise MalformedResponse(f"bad Content-Length {cl!r}")
                self.framing, self.remaining = "length", int(cl[0])
            else:
                self.framing = "close"
        return parts[0], status, parts[2] if len(parts) > 2 else "", headers, raw

    def piece(self) -> Optional[bytes]:
        """The next piece of the body: one whole chunk (chunked), what has arrived
        (Content-Length, close-delimited); None at the body's end (after the last
        chunk and trailers, the declared length, or EOF)."""
        if self.framing == "chunked":
            start = self.pos
            end = self.buf.find(b"\r\n", start)
            if end < 0:
                raise self._short("a chunk size line")
            size_line = bytes(self.buf[start:end])
            if not size_line or not _HEX.issuperset(size_line):
                raise MalformedResponse(f"bad chunk size line {size_line!r}")
            size = int(size_line, 16)
            if size == 0:
                trailers: List[Tuple[str, str]] = []
                pos = end + 2
                while True:
                    t_end = self.buf.find(b"\r\n", pos)
                    if t_end < 0:
                        raise self._short("the trailer section")
                    t = bytes(self.buf[pos:t_end])
                    pos = t_end + 2
                    if not t:
                        break
                    name, colon, value = t.decode("latin-1").partition(":")
                    if not colon or not name:
                        raise MalformedResponse(f"bad trailer line {t!r}")
                    trailers.append((name, value.strip(" \t")))
                self.pos, self.trailers, self.framing = pos, trailers, None
                return None
            data_end = end + 2 + size
            if len(self.buf) < data_end + 2:
                raise self._short(f"a chunk of {size} bytes")
            if self.buf[data_end:data_end + 2] != b"\r\n":
                raise MalformedResponse(f"chunk not followed by CRLF: {bytes(self.buf[data_end:data_end + 2])!r}")
            self.pos = end + 2
            data = self._take(size)
            self.pos += 2
            return data
        if self.framing == "length":
            if self.remaining == 0:
                self.framing = None
                return None
            if self.pos == len(self.buf):
                raise self._short(f"the body ({self.remaining} bytes missing)")
            data = self._take(self.remaining)
            self.remaining -= len(data)
            return data
        if self.framing == "close":
            if self.pos < len(self.buf):
                return self.take_buffered()
            if not self.eof:
                raise NeedData()
            self.framing = None
        return None

    def body(self) -> bytes:
        """The rest of the body at once (NeedData until all of it is there)."""
        start, framing, remaining = self.pos, self.framing, self.remaining
        parts: List[bytes] = []
        try:
            while (part := self.piece()) is not None:
                parts.append(part)
        except NeedData:
            self.pos, self.framing, self.remaining = start, framing, remaining
            raise
        return b"".join(parts)


class _Reader:
    """A ResponseReader fed from a non-blocking socket, on the test loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, head_only: bool) -> None:
        self.loop = loop
        self.sock = sock
        self.head_only = head_only
        self.reader = ResponseReader()

    async def _pull(self, step: Callable[[], _T]) -> _T:
        while True:
            try:
                return step()
            except NeedData:
                self.reader.feed(await self.loop.sock_recv(self.sock, 262144))

    async def exactly(self, n: int) -> bytes:
        return await self._pull(lambda: self.reader.exactly(n))

    async def head(self) -> Tuple[int, str, List[Tuple[str, str]], str]:
        while True:     # interim 100 (Continue) responses are skipped
            version, status, reason, headers, _ = await self._pull(lambda: self.reader.head(self.head_only))
            if status != 100:
                return status, reason, headers, version.split("/")[-1]

    async def chunk(self) -> Optional[bytes]:
        """The next piece of body as it arrives, or None at its end."""
        return await self._pull(self.reader.piece)


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
