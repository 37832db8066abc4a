"""Type stub for catzilla/_core/connection.pyx: one HTTP/1.1 connection (read, parse,
dispatch, respond, keep alive). Created by the Server for each accepted
socket; reading, parsing and responding are C-level (cdef) and not listed.
"""
import asyncio
from typing import Any

from typing_extensions import Self

from catzilla._core.context import Context
from catzilla._core.transport import Transport

class Connection(Transport):
    def __new__(cls, ctx: Context, fd: int) -> Self:
        """Takes ownership of the connected, non-blocking socket `fd`."""
    def peer(self) -> tuple[Any, ...] | str | None:
        """The peer address (socket.getpeername(): (host, port) for IPv4,
        a 4-tuple for IPv6, a str for AF_UNIX), or None once closed/unknown."""
    def resume(self) -> None:
        """Output drained below the low-water mark: go on with pipelined requests."""
    def on_task_done(self, task: asyncio.Task[Any]) -> None:
        """Done-callback of the task running an async handler."""
    def stream_done(self, ok: bool) -> None:
        """Called by the stream pump when the body ended (ok) or failed (not ok)."""
    def shutdown_idle(self) -> None:
        """Graceful stop: close now if between requests, else after the current response."""
    def cancel_work(self) -> list[asyncio.Task[Any]]:
        """Deadline passed: stop the handler or stream and close. Returns the
        tasks that were cancelled, for the caller to wait on their cleanup."""
    @property
    def busy(self) -> bool:
        """Open and in the middle of a request (reading, handling or sending)."""
