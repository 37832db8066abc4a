"""The worker threads: blocking work (a sync generator's next()) runs here, never on the loop.

One pool per server, at most `size` threads, started on demand and joined
(bounded) when the server shuts down."""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, List

log = logging.getLogger("catzilla")

#: After the shutdown deadline, how long cancelled tasks and the worker threads
#: get to run their cleanup: a thread blocked inside a generator's next() can
#: only be reclaimed when that returns.
CLOSE_GRACE = 5.0


class WorkerPool:
    def __init__(self, size: int, name: str = "catzilla-worker") -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        self.size = size
        self.name = name
        self._jobs: "queue.SimpleQueue[Callable[[], object] | None]" = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self._lock = threading.Lock()
        self._waiting = 0           # jobs queued and not yet taken
        self._idle = 0              # threads waiting for a job
        self._closed = False

    def submit(self, fn: Callable[[], object]) -> None:
        """Run fn() on a worker thread (exceptions are logged: jobs handle their own)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            self._waiting += 1
            if self._waiting > self._idle and len(self._threads) < self.size:
                t = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
            self._jobs.put(fn)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            fn = self._jobs.get()
            with self._lock:
                self._idle -= 1
                if fn is not None:
                    self._waiting -= 1
            if fn is None:
                return
            try:
                fn()
            except BaseException:
                log.exception("a worker job failed")

    def alive(self) -> int:
        return sum(t.is_alive() for t in self._threads)

    def shutdown(self, timeout: float) -> int:
        """Stop taking jobs and join the threads for up to `timeout` seconds.
        Returns how many are still running (blocked in a job)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                for _ in self._threads:
                    self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return self.alive()
