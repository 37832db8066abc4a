"""TestClient: drive an app through the real compiled server in-process.

Each request goes over a socketpair into the same Connection, parser, router
and response code that serve real clients; the test client runs the event
loop itself, so tests need no threads, ports or sleeps."""
from __future__ import annotations

import asyncio
import json as _json
import socket
from typing import Any, AsyncIterator, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode

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


class StreamingTestResponse:
    """client.stream(...): the head is read; the body is read as you iterate."""
    __test__ = False

    def __init__(self, client: "TestClient", sock: socket.socket, reader: _Reader,
                 head: Tuple[int, str, List[Tuple[str, str]], str]) -> None:
        self._client = client
        self._sock = sock
        self._reader = reader
        self.status_code, self.reason, self.raw_headers, self.http_version = head
        self.headers = {k.lower(): v for k, v in self.raw_headers}

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


class TestClient:
    """client = TestClient(app); r = client.get("/"); assert r.status_code == 200"""
    __test__ = False

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        # the same lifecycle as app.serve(): startup hooks, then the server
        self.server = self._run(app._start_server([], self.loop))
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
