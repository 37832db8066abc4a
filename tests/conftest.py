"""Shared fixtures: run a Catzilla app on a real socket, talk to it over raw sockets.

    def test_x(serve):
        app = Catzilla()
        ...
        host, port = addr = serve(app)
        with RawClient(addr) as c:          # from wire (tests/wire.py)
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
import sys
import threading
from typing import Any, List, Optional

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# CATZILLA_TEST_INSTALLED=1: test the installed package (a wheel), not the source tree.
if ROOT not in sys.path and os.environ.get("CATZILLA_TEST_INSTALLED") != "1":
    sys.path.insert(0, ROOT)

from catzilla.runner import bind_socket  # noqa: E402

#: pytest-timeout's bound for a test marked `slow` (the default, for every other
#: test, is `timeout` in pyproject.toml; a test's own timeout marker and a
#: --timeout on the command line win over both).
SLOW_TIMEOUT = 180


def pytest_collection_modifyitems(config, items):
    if config.getoption("timeout", None) is not None:
        return
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


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
