"""The worker threads: blocking work (a sync generator's next()) runs here, never on the loop.

One pool per server, at most `size` threads, started on demand. A thread that
finds no job for `idle_timeout` seconds exits, so after a burst the pool shrinks
back to nothing: each live thread keeps its stack and its malloc caches (glibc's
per-thread tcache and arena), which is what made a server's memory grow with
every burst of sync streams. After threads exited, `on_shrink` runs once (the
server gives the heap pages they freed back to the OS there). Threads are
joined (bounded) when the server shuts down."""
from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import Callable, List, Optional

log = logging.getLogger("catzilla")

#: Seconds an idle worker thread waits for a job before it exits: long enough that
#: steady traffic keeps its threads, short enough that memory settles soon after a burst.
IDLE_TIMEOUT = 5.0


class WorkerPool:
    def __init__(self, size: int, name: str = "catzilla-worker", idle_timeout: float = IDLE_TIMEOUT,
                 on_shrink: Optional[Callable[[], object]] = None) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        if not idle_timeout > 0:
            raise ValueError("idle_timeout must be > 0")
        self.size = size
        self.name = name
        self.idle_timeout = idle_timeout
        self.on_shrink = on_shrink
        self._jobs: "queue.SimpleQueue[Callable[[], object] | None]" = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        # Both counters change only under _lock, and submit() queues its job under it too, so a
        # thread that timed out sees every job queued so far when it decides whether to exit.
        self._waiting = 0           # jobs queued and not yet taken
        self._idle = 0              # threads waiting for a job
        self._closed = False
        self._shrunk = False        # threads exited since on_shrink last ran

    def submit(self, fn: Callable[[], object]) -> None:
        """Run fn() on a worker thread (exceptions are logged: jobs handle their own).
        Thread-safe; starts a thread when no idle one is left for the job and the pool is below size."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            self._waiting += 1
            if self._waiting > self._idle and len(self._threads) < self.size:
                t = threading.Thread(target=self._work, name=f"{self.name}-{next(self._numbers)}", daemon=True)
                try:
                    t.start()
                except RuntimeError:        # no more threads (ulimit -u, memory)
                    if not self._threads:
                        self._waiting -= 1
                        raise
                    log.warning("cannot start a worker thread: the job waits for one of the %d running",
                                len(self._threads))
                else:
                    self._threads.append(t)
            self._jobs.put(fn)

    def _work(self) -> None:
        me = threading.current_thread()
        with self._lock:
            self._idle += 1
        while True:
            try:
                fn = self._jobs.get(timeout=self.idle_timeout)
            except queue.Empty:
                with self._lock:
                    # Stay while the queued jobs outnumber the other idle threads: one of them
                    # was counted on this thread (submit saw it idle and started no new one).
                    stay = self._waiting >= self._idle and not self._closed
                    if not stay:
                        self._idle -= 1
                        self._threads.remove(me)
                        self._shrunk = True
                    # on_shrink runs once per wave of exits: by the last idle thread to leave or,
                    # when others stay idle, by the next thread to wake up (a job or a timeout).
                    shrink = self._shrunk and (stay or self._idle == 0)
                    if shrink:
                        self._shrunk = False
                if shrink:
                    self._run_on_shrink()
                if stay:
                    continue
                return
            with self._lock:
                self._idle -= 1
                if fn is not None:
                    self._waiting -= 1
                shrink, self._shrunk = self._shrunk, False
            if shrink:
                self._run_on_shrink()
            if fn is None:
                return
            try:
                fn()
            except BaseException:
                log.exception("a worker job failed")
            fn = None                   # drop the job (and what it holds) before waiting idle
            with self._lock:
                self._idle += 1

    def _run_on_shrink(self) -> None:
        if self.on_shrink is not None and not self._closed:
            try:
                self.on_shrink()
            except BaseException:
                log.exception("the worker pool's on_shrink failed")

    def threads(self) -> int:
        """Threads the pool has now (busy or idle)."""
        with self._lock:
            return len(self._threads)

    def shutdown(self, timeout: float) -> int:
        """Stop taking jobs and join the threads for up to `timeout` seconds.
        Returns how many are still running (blocked in a job)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                for _ in self._threads:
                    self._jobs.put(None)
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return sum(t.is_alive() for t in threads)
