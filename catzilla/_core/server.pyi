"""Type stub for catzilla/_core/server.pyx (private): the loop. One epoll/kqueue
set registered with the running asyncio loop as a single reader; accept, read
and write are handled in C, handlers and async generators run as asyncio tasks.
"""
import asyncio
from typing import Any
import socket
from collections.abc import Iterable

from catzilla.app import Catzilla
from catzilla.settings import Settings

def release_memory() -> bool:
    """Give the heap pages freed since the last call back to the OS (glibc's malloc_trim;
    elsewhere nothing). The worker pool calls it after idle threads exited."""

class Server:
    settings: Settings
    blocked_threads: int
    def __init__(self, app: Catzilla, sockets: Iterable[socket.socket], *,
                 loop: asyncio.AbstractEventLoop | None = None, watchdog: bool = True) -> None:
        """Serve `app` (its settings; its dispatcher compiled now) on bound,
        listening `sockets`. watchdog: warn when the loop is blocked longer than
        the block_warning setting. OSError when the poller cannot be created."""
    @property
    def connections(self) -> int:
        """Number of open connections."""
    @property
    def stream_slots(self) -> int:
        """Stream slots taken: streamed responses and WebSockets running (see Settings.max_streams)."""
    def start(self) -> None:
        """Start watching the listening sockets on the loop (call from the loop's thread)."""
    def resume_accepting(self) -> None: ...
    def adopt(self, fd: int) -> None:
        """Serve an already connected socket fd (the TestClient's socketpair end)."""
    def on_poll(self) -> None: ...
    def tick(self) -> None: ...
    def handling(self) -> str | None:
        """On the watchdog thread while the loop is blocked: "METHOD /route" of
        the request the loop is busy with, or None."""
    def run_task(self, task: Any) -> asyncio.Task[None]:
        """A BackgroundTask run now, tracked like a request's (app.add_task)."""
    def stop_listening(self) -> None: ...
    async def shutdown(self, timeout: float = 10.0) -> None:
        """Graceful stop: in-flight requests and streams, and background tasks,
        get `timeout` seconds, then are closed or cancelled (each task cut is
        logged); the worker threads are joined (bounded)."""
    def close(self) -> None:
        """Close every connection and the poller (no waiting)."""
