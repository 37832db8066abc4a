"""Shared fixtures: run a Catzilla app on a real socket, talk to it over raw sockets.

    def test_x(serve):
        app = Catzilla()
        ...
        host, port = addr = serve(app)
        with RawClient(addr) as c:
            c.send(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            r = c.read_response()

The server runs in a background thread with its own event loop (asyncio by
default; CATZILLA_TEST_LOOP=uvloop to use uvloop), through the public
``app.serve([sock], stop=event)``. Every socket operation has a timeout, and
the fixture's teardown stops the server and joins its thread (bounded).
"""
from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# CATZILLA_TEST_INSTALLED=1: test the installed package (a wheel), not the source tree.
if ROOT not in sys.path and os.environ.get("CATZILLA_TEST_INSTALLED") != "1":
    sys.path.insert(0, ROOT)

from catzilla.runner import bind_socket  # noqa: E402

DEFAULT_TIMEOUT = 5.0
TEST_TIMEOUT = 60   # seconds, for tests without their own timeout marker


_OUR_FILES = {"test_http.py", "test_app.py", "test_smuggling.py", "test_limits.py", "test_testclient.py"}


def pytest_collection_modifyitems(config, items):
    # A tighter bound than the project-wide one, for the socket tests only.
    for item in items:
        if item.path.name in _OUR_FILES and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


# --------------------------------------------------------------------------
# the server fixture

class ServerAddress(tuple):
    """(host, port), plus .stop() to stop the server early (e.g. to test shutdown hooks)."""

    _handle: "_ServerThread"

    def __new__(cls, host: str, port: int, handle: "_ServerThread") -> "ServerAddress":
        self = super().__new__(cls, (host, port))
        self._handle = handle
        return self

    @property
    def host(self) -> str:
        return self[0]

    @property
    def port(self) -> int:
        return self[1]

    def stop(self, timeout: float = 10.0) -> None:
        self._handle.stop(timeout)


class _ServerThread:
    def __init__(self, app: Any, shutdown_timeout: float, loop_kind: str) -> None:
        self.app = app
        self.shutdown_timeout = shutdown_timeout
        self.sock = bind_socket("127.0.0.1", 0)
        self.host, self.port = self.sock.getsockname()[:2]
        if loop_kind == "uvloop":
            import uvloop
            self.loop = uvloop.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop_event: Optional[asyncio.Event] = None
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, name=f"catzilla-test-{self.port}", daemon=True)
        self.stopped = False

    def _run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self.stop_event = asyncio.Event()
            await self.app.serve([self.sock], stop=self.stop_event, ready=self.ready.set,
                                 shutdown_timeout=self.shutdown_timeout)

        try:
            loop.run_until_complete(main())
        except BaseException as exc:   # reported by start()/stop()
            self.error = exc
        finally:
            self.ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self.sock.close()

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the server did not start within 10 s")
        if self.error is not None:
            raise RuntimeError(f"the server failed to start: {self.error!r}") from self.error

    def stop(self, timeout: float = 10.0) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.thread.is_alive() and self.stop_event is not None:
            try:
                self.loop.call_soon_threadsafe(self.stop_event.set)
            except RuntimeError:
                pass   # the loop is already closed
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"the server thread did not stop within {timeout} s")
        if self.error is not None:
            raise RuntimeError(f"the server thread failed: {self.error!r}") from self.error


@pytest.fixture
def serve():
    """Factory: serve(app, shutdown_timeout=1.0) -> ServerAddress (host, port)."""
    started: List[_ServerThread] = []

    def start(app: Any, *, shutdown_timeout: float = 1.0) -> ServerAddress:
        handle = _ServerThread(app, shutdown_timeout, os.environ.get("CATZILLA_TEST_LOOP", "asyncio"))
        started.append(handle)
        handle.start()
        return ServerAddress(handle.host, handle.port, handle)

    yield start
    errors = []
    for handle in started:
        try:
            handle.stop(handle.shutdown_timeout + 10.0)
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


# --------------------------------------------------------------------------
# raw-socket helpers

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


class Closed(Exception):
    """The peer closed the connection before a complete response."""


class RawClient:
    """A blocking TCP client with a read buffer (so pipelined responses that
    arrive in one segment are split correctly). Every read has a timeout."""

    def __init__(self, addr: Tuple[str, int], timeout: float = DEFAULT_TIMEOUT) -> None:
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

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
        import struct
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
    def _fill(self, deadline: Optional[float] = None) -> bool:
        """Read more into the buffer; False at EOF (or reset)."""
        if self.eof:
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
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise Closed(f"connection closed inside a line; buffered {self.buf!r}")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise Closed(f"connection closed with {n - len(self.buf)} of {n} bytes missing")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self) -> Response:
        """Read one status line + header section (interim 1xx responses included)."""
        status_line = self._line()
        raw = [status_line]
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise AssertionError(f"bad status line {status_line!r}")
        headers = []
        while True:
            line = self._line()
            raw.append(line)
            if not line:
                break
            if b":" not in line:
                raise AssertionError(f"bad header line {line!r}")
            name, _, value = line.decode("latin-1").partition(":")
            if name != name.strip() or not name:
                raise AssertionError(f"bad header name in {line!r}")
            headers.append((name, value.strip(" \t")))
        return Response(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers, b"",
                        b"\r\n".join(raw) + b"\r\n")

    def read_response(self, head_only: bool = False, skip_interim: bool = True) -> Response:
        """One complete response. head_only: the request was HEAD (no body
        follows). Body framing: chunked, Content-Length, else until close."""
        while True:
            resp = self.read_head()
            if not (skip_interim and 100 <= resp.status < 200 and resp.status != 101):
                break
        if head_only or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = resp.header("transfer-encoding")
        cl = resp.headers_all("content-length")
        if te is not None:
            assert te.lower() == "chunked", f"unexpected transfer-encoding {te!r}"
            assert not cl, "response has both Transfer-Encoding and Content-Length"
            resp.chunked = True
            parts = []
            while True:
                size_line = self._line()
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        t = self._line()
                        if not t:
                            break
                        n, _, v = t.decode("latin-1").partition(":")
                        resp.trailers.append((n, v.strip()))
                    break
                parts.append(self._exactly(size))
                crlf = self._exactly(2)
                assert crlf == b"\r\n", f"chunk not followed by CRLF: {crlf!r}"
            resp.body = b"".join(parts)
        elif cl:
            assert len(cl) == 1, f"several Content-Length headers: {cl!r}"
            resp.body = self._exactly(int(cl[0]))
        else:
            resp.body = self.read_until_close()
        return resp

    def read_until_close(self, timeout: Optional[float] = None) -> bytes:
        """Everything until the peer closes (raises socket.timeout if it does not)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while self._fill(deadline):
            pass
        out, self.buf = self.buf, b""
        return out

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Wait for EOF (or reset) and return any bytes that came before it.
        Raises AssertionError if the connection is still open after timeout."""
        try:
            return self.read_until_close(timeout)
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout} s (buffered {self.buf!r})")

    def is_open(self, wait: float = 0.2) -> bool:
        """True when nothing (no EOF, no data) arrives within `wait` seconds."""
        if self.eof:
            return False
        if self.buf:
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


def parse_responses(data: bytes) -> List[Response]:
    """Split everything a server sent (until close) into responses. Raises
    AssertionError when the bytes are not a sequence of well-formed responses."""
    out = []
    reader = _BytesReader(data)
    while reader.buf:
        out.append(reader.read_response())
    return out


class _BytesReader(RawClient):
    def __init__(self, data: bytes) -> None:    # no socket: reads from data only
        self.buf = data
        self.eof = True
        self.timeout = 0

    def _fill(self, deadline: Optional[float] = None) -> bool:
        return False

    def close(self) -> None:
        pass


def chunked(*parts: bytes, trailers: bytes = b"", ext: bytes = b"") -> bytes:
    """A chunked body of the given parts (each non-empty)."""
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(p), ext, p) for p in parts)
    return out + b"0\r\n" + trailers + b"\r\n"


def get(addr: Tuple[str, int], path: str, **kw: Any) -> Response:
    """One request on a new connection."""
    with RawClient(addr) as c:
        return c.request(kw.pop("method", "GET"), path, **kw)
