"""Type stub for catzilla/_core/server.pyx: the loop. One epoll/kqueue set registered
with the running asyncio loop as a single reader; accept, read and write are
handled in C, handlers and async generators run as asyncio tasks.
"""
import asyncio
import socket
from collections.abc import Iterable

from typing_extensions import Unpack

from catzilla.app import Catzilla
from catzilla._core.context import Context, _ServerConfig
from catzilla.router import Router

class Server:
    def __init__(
        self,
        app: Catzilla,
        router: Router,
        sockets: Iterable[socket.socket],
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        **config: Unpack[_ServerConfig],
    ) -> None:
        """`sockets`: bound, listening sockets (made non-blocking); `config`: the
        Context settings (see Catzilla.server_config()). OSError when the poller
        cannot be created; ValueError for bad limits."""
    @property
    def context(self) -> Context: ...
    @property
    def connections(self) -> int:
        """Number of open connections."""
    def start(self) -> None:
        """Start watching the listening sockets on the loop (call from the loop's thread)."""
    def resume_accepting(self) -> None: ...
    def adopt(self, fd: int) -> None:
        """Serve an already connected socket fd (the TestClient's socketpair end).
        The server owns and closes it."""
    def on_poll(self) -> None:
        """The loop's reader callback: handle every ready socket in one batch."""
    def tick(self) -> None:
        """Once a second: refresh the Date header, enforce timeouts."""
    def stop_listening(self) -> None:
        """Stop accepting and close the listening sockets."""
    async def shutdown(self, timeout: float = 10.0) -> None:
        """Graceful stop: no new connections, idle ones closed, in-flight
        requests and streams get `timeout` seconds to finish, then are closed
        (their generators' finally: blocks run)."""
    def close(self) -> None:
        """Close every connection, the poller, and stop the stream threads."""
