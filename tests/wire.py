"""The tests' HTTP/1.1 client side: requests built as bytes, responses read by
catzilla.testing.ResponseReader (the one response reader, which the TestClient
uses too) from blocking sockets (RawClient) or from bytes already received
(parse_response, parse_responses), and server-sent events decoded by the HTML
spec's algorithm (EventStreamParser). No test parses a head, a chunked body or
an event stream by hand.

    with RawClient(addr) as c:
        c.send(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        r = c.read_response()
"""
from __future__ import annotations

import codecs
import re
import socket
import struct
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from catzilla.testing import MalformedResponse, NeedData, ResponseClosed, ResponseReader

DEFAULT_TIMEOUT = 5.0
_LINE_END = re.compile(r"\r\n|\r|\n")
T = TypeVar("T")

#: The peer closed the connection before a complete response (or element).
Closed = ResponseClosed


class Response:
    def __init__(self, version: str, status: int, reason: str, headers: List[Tuple[str, str]],
                 body: bytes, raw_head: bytes) -> None:
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.body = body
        self.raw_head = raw_head
        self.chunked = False
        self.trailers: List[Tuple[str, str]] = []

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        name = name.lower()
        for k, v in self.header_list:
            if k.lower() == name:
                return v
        return default

    def headers_all(self, name: str) -> List[str]:
        name = name.lower()
        return [v for k, v in self.header_list if k.lower() == name]

    def has(self, name: str) -> bool:
        return self.header(name) is not None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        import json
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.header_list!r} {self.body[:200]!r}>"


class RawClient:
    """A blocking TCP client over the one response reader (so pipelined
    responses that arrive in one segment are split correctly). Every read has
    a timeout. `sock`: read and write a connection made elsewhere (addr None)."""

    def __init__(self, addr: Optional[Tuple[str, int]], timeout: float = DEFAULT_TIMEOUT,
                 sock: Optional[socket.socket] = None) -> None:
        self.sock = sock or socket.create_connection(addr, timeout=timeout)
        if sock is None:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.reader = ResponseReader()

    # -- context manager
    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self) -> None:
        """Abortive close (RST) instead of FIN."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    # -- sending
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_slowly(self, data: bytes, step: int = 1, pause: float = 0.0) -> None:
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            if pause:
                time.sleep(pause)

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    # -- reading
    @property
    def eof(self) -> bool:
        return self.reader.eof

    @property
    def buf(self) -> bytes:
        """What was received and not read yet."""
        return bytes(self.reader.buf[self.reader.pos:])

    def take_buffered(self) -> bytes:
        return self.reader.take_buffered()

    def _fill(self, deadline: Optional[float] = None) -> bool:
        """Read more into the reader; False at EOF (or reset)."""
        if self.reader.eof:
            return False
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline passed")
            self.sock.settimeout(min(left, self.timeout))
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            data = b""
        finally:
            if deadline is not None:
                self.sock.settimeout(self.timeout)
        self.reader.feed(data)
        return bool(data)

    def _pull(self, step: Callable[[], T]) -> T:
        while True:
            try:
                return step()
            except NeedData:
                self._fill()

    def _line(self) -> bytes:
        """The next CRLF-terminated line as sent, for tests that check exact framing."""
        return self._pull(self.reader.line)

    def _exactly(self, n: int) -> bytes:
        return self._pull(lambda: self.reader.exactly(n))

    def read_head(self, head_only: bool = False) -> Response:
        """Read one status line + header section (interim 1xx responses included);
        read_chunk() then reads the body it announces."""
        version, status, reason, headers, raw = self._pull(lambda: self.reader.head(head_only))
        return Response(version, status, reason, headers, b"", raw)

    def read_chunk(self) -> Optional[bytes]:
        """The next piece of the body after read_head(): one whole chunk of a
        chunked body, else what has arrived; None at the body's end."""
        return self._pull(self.reader.piece)

    def read_cut_body(self) -> bytes:
        """After read_head(): the body of a response the server cut off, as far
        as it came; AssertionError if it ended properly (with its last chunk,
        or its whole Content-Length) instead."""
        parts = []
        try:
            while (piece := self.read_chunk()) is not None:
                parts.append(piece)
        except Closed:
            return b"".join(parts)
        raise AssertionError(f"the body was not cut: it ended properly after {parts!r}")

    def read_response(self, head_only: bool = False, skip_interim: bool = True) -> Response:
        """One complete response. head_only: the request was HEAD (no body
        follows). Body framing: chunked, Content-Length, else until close."""
        while True:
            resp = self.read_head(head_only)
            if not (skip_interim and 100 <= resp.status < 200 and resp.status != 101):
                break
        resp.chunked = self.reader.framing == "chunked"
        resp.body = self._pull(self.reader.body)
        resp.trailers = self.reader.trailers
        return resp

    def read_until_close(self, timeout: Optional[float] = None) -> bytes:
        """Everything until the peer closes (raises socket.timeout if it does not)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while self._fill(deadline):
            pass
        return self.reader.take_buffered()

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Wait for EOF (or reset) and return any bytes that came before it.
        Raises AssertionError if the connection is still open after timeout."""
        try:
            return self.read_until_close(timeout)
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout} s (buffered {self.buf!r})")

    def is_open(self, wait: float = 0.2) -> bool:
        """True when nothing (no EOF, no data) arrives within `wait` seconds."""
        if self.reader.eof:
            return False
        if self.reader.buffered:
            return True
        try:
            return self._fill(time.monotonic() + wait)
        except socket.timeout:
            return True

    def request(self, method: str, path: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None,
                version: str = "1.1") -> Response:
        self.send(build_request(method, path, body, headers, version))
        return self.read_response(head_only=method == "HEAD")


def build_request(method: str, path: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None,
                  version: str = "1.1") -> bytes:
    hdrs = dict(headers or {})
    lower = {k.lower() for k in hdrs}
    if "host" not in lower and version == "1.1":
        hdrs = {"Host": "test", **hdrs}
    if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in lower \
            and "transfer-encoding" not in lower:
        hdrs["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    return head.encode("latin-1") + body


class BytesReader(RawClient):
    """A RawClient over bytes already received (the whole exchange, until close)."""

    def __init__(self, data: bytes) -> None:    # no socket: reads from data only
        self.timeout = 0
        self.reader = ResponseReader()
        self.reader.feed(data)
        self.reader.feed(b"")

    def _fill(self, deadline: Optional[float] = None) -> bool:
        return False

    def close(self) -> None:
        pass


def parse_responses(data: bytes, head_only: bool = False) -> List[Response]:
    """Split everything a server sent (until close) into responses. Raises
    MalformedResponse or Closed when the bytes are not a sequence of
    well-formed responses."""
    out = []
    reader = BytesReader(data)
    while reader.reader.buffered:
        out.append(reader.read_response(head_only))
    return out


def parse_response(data: bytes, head_only: bool = False) -> Response:
    """The one complete response `data` holds (nothing may follow it)."""
    reader = BytesReader(data)
    resp = reader.read_response(head_only)
    rest = reader.take_buffered()
    if rest:
        raise MalformedResponse(f"{len(rest)} bytes after the response: {rest[:200]!r}")
    return resp


def chunked(*parts: bytes, trailers: bytes = b"", ext: bytes = b"") -> bytes:
    """A chunked body of the given parts (each non-empty)."""
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(p), ext, p) for p in parts)
    return out + b"0\r\n" + trailers + b"\r\n"


def get(addr: Tuple[str, int], path: str, **kw: Any) -> Response:
    """One request on a new connection."""
    with RawClient(addr) as c:
        return c.request(kw.pop("method", "GET"), path, **kw)


class EventStreamParser:
    """The "interpret an event stream" algorithm of the HTML spec (9.2.6), fed
    incrementally. Dispatched events are in `events` as (type, data,
    last_event_id). Comments are kept (the spec ignores them) so tests can see
    keep-alive pings, and so is every blank-line-terminated block as a dict of
    its fields (values of a repeated field joined by "\\n"; comment lines under
    "comment"), for tests that check what was sent block by block."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.buf = ""
        self.first = True
        self.events: List[Tuple[str, str, str]] = []
        self.comments: List[str] = []
        self.blocks: List[Dict[str, str]] = []
        self.block: Dict[str, List[str]] = {}
        self.retry: Optional[int] = None
        self.last_event_id = ""
        self.data = ""
        self.type = ""

    def feed(self, raw: bytes, final: bool = False) -> None:
        text = self.decoder.decode(raw, final)
        if self.first and text:
            if text.startswith("\ufeff"):
                text = text[1:]
            self.first = False
        self.buf += text
        held = ""
        if self.buf.endswith("\r") and not final:
            self.buf, held = self.buf[:-1], "\r"      # maybe the CR of a CRLF split across reads
        lines = _LINE_END.split(self.buf)
        self.buf = lines.pop() + held               # the line still unterminated
        for line in lines:
            self.line(line)

    def line(self, line: str) -> None:
        if line == "":
            if self.block:
                self.blocks.append({k: "\n".join(v) for k, v in self.block.items()})
                self.block = {}
            self.dispatch()
            return
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self.block.setdefault(field or "comment", []).append(value)
        if field == "":
            self.comments.append(line[1:])
        elif field == "event":
            self.type = value
        elif field == "data":
            self.data += value + "\n"
        elif field == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif field == "retry":
            if value and all("0" <= c <= "9" for c in value):
                self.retry = int(value)

    def dispatch(self) -> None:
        if self.data == "":
            self.type = ""
            return
        data = self.data[:-1] if self.data.endswith("\n") else self.data
        self.events.append((self.type or "message", data, self.last_event_id))
        self.data = ""
        self.type = ""


def parse_sse(raw: bytes) -> EventStreamParser:
    p = EventStreamParser()
    p.feed(raw, final=True)
    return p
