"""The worker pool sizes itself to need: threads start for a burst of sync streams and
exit once idle, without ever dropping a job submitted while a thread decides to exit."""
from __future__ import annotations

import queue
import random
import socket
import textwrap
import threading
import time
from typing import List

import psutil
import pytest

from catzilla._core.workers import IDLE_TIMEOUT, WorkerPool
from procs import launcher, wait_until
from wire import parse_response

APP = '''
import time
from catzilla import Catzilla, StreamingResponse

app = Catzilla()

def lines():
    for i in range(30):
        time.sleep(0.01)            # blocking: each stream holds a worker thread ~0.3 s
        yield f"line {i}\\n"

@app.get("/stream")
def stream(request):
    return StreamingResponse(lines())
'''

EXPECTED = "".join(f"line {i}\n" for i in range(30))


def read_stream(port: int, out: List[str]) -> None:
    """GET /stream with Connection: close; appends the de-chunked body to out."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while part := s.recv(65536):
            data += part
    r = parse_response(data)
    assert (r.version, r.status, r.chunked) == ("HTTP/1.1", 200, True), r
    out.append(r.body.decode())


@pytest.mark.slow
def test_the_pool_shrinks_back_after_a_burst_of_sync_streams(tmp_path):
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    with launcher(tmp_path) as launch:
        server = launch("czapp:app")
        proc = psutil.Process(server.proc.pid)
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as s:   # serving now:
            s.sendall(b"GET /nothing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")   # its threads
            assert s.recv(100).startswith(b"HTTP/1.1 404")                               # (watchdog) started
        idle = proc.num_threads()

        def burst() -> int:
            """24 concurrent streams; returns the most threads the server had meanwhile."""
            bodies: List[str] = []
            clients = [threading.Thread(target=read_stream, args=(server.port, bodies)) for _ in range(24)]
            for c in clients:
                c.start()
            peak = idle
            while any(c.is_alive() for c in clients):
                peak = max(peak, proc.num_threads())
                time.sleep(0.01)
            for c in clients:
                c.join()
            assert bodies == [EXPECTED] * 24
            return peak

        for _ in range(2):      # threads come back for a second burst after the first exited
            assert burst() > idle + 1
            wait_until(lambda: proc.num_threads() == idle, IDLE_TIMEOUT + 15,
                       f"the server's threads to go back to {idle}")


class GatedQueue:
    """A job queue that, when a get() times out, waits for the test to act before it reports
    the timeout: the moment a worker has given up waiting but not yet decided to exit."""

    def __init__(self) -> None:
        self.q: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self.timed_out = threading.Event()
        self.go = threading.Event()

    def put(self, item: object) -> None:
        self.q.put(item)

    def get(self, timeout: float) -> object:
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            self.timed_out.set()
            assert self.go.wait(10)
            raise


def test_a_job_submitted_while_an_idle_thread_times_out_still_runs():
    pool = WorkerPool(4, idle_timeout=0.05)
    gate = GatedQueue()
    pool._jobs = gate                     # type: ignore[assignment]
    ran = threading.Event()
    pool.submit(lambda: None)
    assert gate.timed_out.wait(10)        # the one thread timed out: it counts as idle, so
    pool.submit(ran.set)                  # this submit starts no new thread and queues the job
    assert pool.threads() == 1
    gate.go.set()                         # now it decides: stay for the job
    assert ran.wait(10)
    wait_until(lambda: pool.threads() == 0, 10, "the idle thread to exit")
    assert pool.shutdown(5) == 0


def test_racing_submits_and_idle_exits_lose_no_job():
    shrinks = []
    pool = WorkerPool(4, idle_timeout=0.002, on_shrink=lambda: shrinks.append(1))
    lock = threading.Lock()
    done: List[int] = []

    def job(i: int) -> None:
        with lock:
            done.append(i)

    rng = random.Random(12)
    submitters = []
    for s in range(3):                    # several submitting threads, pauses around the timeout
        def submit_many(s: int = s) -> None:
            for i in range(s * 1000, s * 1000 + 1000):
                pool.submit(lambda i=i: job(i))
                time.sleep(rng.choice((0, 0, 0.001, 0.002, 0.003)))
        submitters.append(threading.Thread(target=submit_many))
    for t in submitters:
        t.start()
    for t in submitters:
        t.join(60)
    wait_until(lambda: len(done) == 3000, 20, f"3000 jobs to run ({len(done)} ran)")
    assert sorted(done) == list(range(3000))
    wait_until(lambda: pool.threads() == 0, 10, "the idle threads to exit")
    assert shrinks                        # threads did exit (and on_shrink ran) along the way
    assert pool.shutdown(5) == 0


def test_on_shrink_runs_once_the_pool_is_empty_and_shutdown_still_works():
    shrunk = threading.Event()
    pool = WorkerPool(8, idle_timeout=0.1, on_shrink=shrunk.set)
    release = threading.Event()
    started = threading.Semaphore(0)

    def blocked() -> None:
        started.release()
        release.wait(10)

    for _ in range(8):
        pool.submit(blocked)
    for _ in range(8):
        assert started.acquire(timeout=10)
    assert pool.threads() == 8
    release.set()
    assert shrunk.wait(10)
    wait_until(lambda: pool.threads() == 0, 10, "the pool to empty")
    ran = threading.Event()
    pool.submit(ran.set)                  # an emptied pool starts a thread again
    assert ran.wait(10)
    assert pool.shutdown(5) == 0
    with pytest.raises(RuntimeError):
        pool.submit(ran.set)
