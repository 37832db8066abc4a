"""Type stub for catzilla/_core/streams.pyx: the pumps that pull a StreamingResponse's
iterable and frame each item into the connection, with back-pressure.

The pumps are created by the connection (make_pump and frame are C-level);
only their Python-callable callbacks are listed here.
"""
import asyncio
from typing import Any

class Pump:
    """Base pump: start, cancel and finish are C-level."""
    def running_task(self) -> asyncio.Task[Any] | None:
        """The asyncio task pulling this stream, if it runs as one (AsyncPump)."""

class InlinePump(Pump):
    """Lists and tuples: pulled inline on the loop."""
    def resume(self) -> None:
        """Pull and write until the body ends or output reaches the high-water mark."""

class ThreadPump(Pump):
    """Other sync iterables (generators): pulled on a stream worker thread."""
    def work(self) -> None:
        """Runs on a worker thread: pull, frame, hand over to the loop."""
    def on_worker(self) -> None:
        """On the loop: write what the worker framed; release it when drained."""
    def release(self) -> None:
        """Let a worker blocked at the high-water mark go on."""

class AsyncPump(Pump):
    """Async iterables: pulled by a task on the loop."""
    def running_task(self) -> asyncio.Task[Any] | None: ...
    def flush_now(self) -> None: ...
    def on_drain(self) -> None: ...
    async def run(self) -> None:
        """The task body: pull, frame and flush until the iterable ends or the client goes."""
