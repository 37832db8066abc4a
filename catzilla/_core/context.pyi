"""Type stub for catzilla/_core/context.pyx: server-wide state shared by every
connection of one event loop (limits, timeouts, router, app, stream threads).

C-level fields (parser scratch, the wake-up fd machinery, the executor) are
not visible from Python and are not listed.
"""
import asyncio
import logging
from typing import TypedDict

from catzilla.app import Catzilla
from catzilla._core.connection import Connection
from catzilla.router import Router

# Not a runtime name: the keyword settings Context (and Server, through
# **config) accepts besides router/app/loop.
class _ServerConfig(TypedDict, total=False):
    max_request_line: int
    max_head_bytes: int
    max_headers: int
    max_body: int
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    write_timeout: float
    high_water: int
    low_water: int
    stream_threads: int
    debug: bool
    access_log: logging.Logger | None
    slow: bool

class Context:
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    write_timeout: float
    high_water: int
    low_water: int
    router: Router
    app: Catzilla
    slow: bool
    loop: asyncio.AbstractEventLoop
    log: logging.Logger
    access_log: logging.Logger | None
    debug: bool
    conns: dict[int, Connection]
    stream_threads: int
    draining: bool

    def __init__(
        self,
        *,
        router: Router,
        app: Catzilla,
        loop: asyncio.AbstractEventLoop,
        max_request_line: int = 8192,
        max_head_bytes: int = 65536,
        max_headers: int = 100,
        max_body: int = 1048576,
        header_timeout: float = 10.0,
        body_timeout: float = 30.0,
        keepalive_timeout: float = 5.0,
        write_timeout: float = 60.0,
        high_water: int = 262144,
        low_water: int = 65536,
        stream_threads: int = 64,
        debug: bool = False,
        access_log: logging.Logger | None = None,
        slow: bool = False,
    ) -> None:
        """ValueError when a limit is too small or the watermarks are inconsistent;
        OSError when the wake-up fd cannot be created."""
    @property
    def wakeup_fd(self) -> int:
        """The fd stream worker threads signal to wake the loop."""
    def shutdown_executor(self) -> None:
        """Stop the stream worker threads (no wait; queued work is cancelled)."""
