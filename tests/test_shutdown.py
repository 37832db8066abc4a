"""Graceful shutdown through the real CLI, with one process and with workers.

SIGTERM (or SIGINT) mid-stream: the server stops accepting, closes idle
keep-alive connections, lets the running stream finish, runs the shutdown
hooks and exits 0. A stream longer than --shutdown-timeout is cut at the
deadline (no terminating chunk) and its generator's finally: block runs."""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import textwrap
import threading
import time
from typing import List, Optional

import psutil
import pytest

from catzilla.testing import NeedData, ResponseReader
from procs import Proc, launcher, wait_until
from wire import RawClient

APP = '''
import asyncio, os, time
from catzilla import Catzilla, StreamingResponse

HERE = os.path.dirname(os.path.abspath(__file__))
app = Catzilla()

def mark(name):
    with open(os.path.join(HERE, name), "a") as f:
        f.write(f"{os.getpid()}\\n")

@app.on_shutdown
def bye():
    mark("shutdown-hook")

@app.get("/")
def home(request):
    return "ok"

@app.get("/stream")
def stream(request):
    def gen():
        for i in range(4):
            yield f"chunk {i}\\n"
            time.sleep(0.5)
    return StreamingResponse(gen())

@app.get("/astream")
async def astream(request):
    async def gen():
        for i in range(4):
            yield f"chunk {i}\\n"
            await asyncio.sleep(0.5)
    return StreamingResponse(gen())

@app.get("/endless")
def endless(request):
    def gen():
        try:
            for i in range(300):
                yield f"tick {i}\\n"
                time.sleep(0.2)
        finally:
            mark("sync-finally")
    return StreamingResponse(gen())

@app.get("/stuck")
def stuck(request):
    def gen():
        yield "first\\n"
        time.sleep(30)              # blocked inside next(): cannot see the stop
        yield "never\\n"
    return StreamingResponse(gen())

@app.get("/aendless")
async def aendless(request):
    async def gen():
        try:
            for i in range(300):
                yield f"tick {i}\\n"
                await asyncio.sleep(0.2)
        finally:
            await asyncio.sleep(0.05)       # cleanup that awaits, like closing a DB cursor
            mark("async-finally")
    return StreamingResponse(gen())

@app.get("/slow-handler")
async def slow_handler(request):
    mark("handler-started")
    try:
        await asyncio.sleep(30)
        return "late"
    finally:
        await asyncio.sleep(0.05)
        mark("handler-finally")
'''

FULL_BODY = "".join(f"chunk {i}\n" for i in range(4))


@pytest.fixture
def start(tmp_path):
    """start(*options): `python -m catzilla run czapp:app --port 0 ...` in tmp_path,
    ready once the banner and (with --workers N) every worker's "serving" line are seen."""
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    with launcher(tmp_path) as launch:
        def run(*args: str) -> Proc:
            workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
            return launch("czapp:app", *args, workers=workers)
        yield run


class Stream:
    """A raw-socket GET whose chunked body is parsed as it arrives, recording
    when each chunk came, whether the terminating chunk came, and when the
    connection closed."""

    def __init__(self, port: int, path: str, timeout: float = 15.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        self.t0 = time.monotonic()
        self.status = 0
        self.chunks: List[tuple] = []        # (seconds since the request, data)
        self.complete = False
        self.closed_at: Optional[float] = None
        self.first = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        reader = ResponseReader()
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    data = b""
                now = time.monotonic() - self.t0
                if not data:
                    self.closed_at = now
                    return
                reader.feed(data)
                try:
                    if not self.status:
                        _, self.status, _, _, head = reader.head()
                        assert b"transfer-encoding: chunked" in head.lower(), head
                    while not self.complete:
                        piece = reader.piece()
                        if piece is None:          # the last chunk: complete without trailers
                            self.complete = not reader.trailers
                            break
                        self.chunks.append((now, piece))
                        self.first.set()
                except NeedData:
                    pass
        finally:
            self.first.set()
            self.sock.close()

    @property
    def body(self) -> str:
        return b"".join(c for _, c in self.chunks).decode()

    def wait(self, timeout: float) -> "Stream":
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"stream still open after {timeout} s: {self.chunks}"
        return self


def idle_keepalive_connection(port: int) -> socket.socket:
    """A connection that completed one request and now sits idle (keep-alive)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    r = RawClient(None, timeout=5, sock=s).read_response()
    assert (r.version, r.status, r.body) == ("HTTP/1.1", 200, b"ok"), r
    return s


def closed_within(s: socket.socket, timeout: float) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            s.settimeout(2)
            return s.recv(100) == b""           # accepted by nobody, reset when the queue is closed
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    except socket.timeout:
        return False


MODES = [
    pytest.param(("--loop", "asyncio"), id="1-process-asyncio"),
    pytest.param(("--loop", "uvloop"), id="1-process-uvloop",
                 marks=pytest.mark.skipif(not importlib.util.find_spec("uvloop"), reason="uvloop not installed")),
    pytest.param(("--workers", "2"), id="2-workers-auto-loop"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["/stream", "/astream"])
def test_sigterm_mid_stream_lets_the_stream_finish(start, tmp_path, mode, path):
    server = start(*mode)
    idle = idle_keepalive_connection(server.port)
    stream = Stream(server.port, path)
    assert stream.first.wait(5) and stream.chunks, "no first chunk"
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)

    assert closed_within(idle, 1.5), "an idle keep-alive connection was not closed on shutdown"
    wait_until(lambda: refused(server.port), 3, "new connections to be refused while draining")

    stream.wait(10)
    assert stream.status == 200
    assert stream.body == FULL_BODY
    assert stream.complete, "the terminating zero-size chunk is missing"
    assert server.wait_exit(10) == 0
    assert time.monotonic() - sent < 6
    assert (tmp_path / "shutdown-hook").exists(), "on_shutdown hooks did not run"
    assert "Traceback" not in server.stderr, server.stderr


def test_a_connection_accepted_before_the_stop_still_gets_its_first_request_served(start):
    """A client that connected just before the stop and sends its request just after
    gets its answer (with Connection: close), not a reset: it could not retry, unlike
    one reusing an idle keep-alive connection (closed at once). A new connection that
    stays silent is closed after the grace, and the drain ends."""
    server = start("--loop", "asyncio")
    late = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    # accepted in order: once a later connection is answered, these two are the server's
    idle = idle_keepalive_connection(server.port)
    server.send(signal.SIGTERM)
    server.wait_output(r"SIGTERM received", timeout=5)
    assert closed_within(idle, 2), "an idle keep-alive connection was not closed on shutdown"
    late.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    r = RawClient(None, timeout=5, sock=late).read_response()
    assert (r.status, r.body, r.header("connection")) == (200, b"ok", "close"), r
    assert closed_within(late, 2)
    assert closed_within(silent, 5), "a silent new connection held the drain"
    assert server.wait_exit(5) == 0
    assert "Traceback" not in server.stderr, server.stderr


@pytest.mark.parametrize("mode", MODES)
def test_repeated_signals_do_not_cut_the_drain(start, mode):
    server = start(*mode)
    stream = Stream(server.port, "/stream")
    assert stream.first.wait(5)
    server.send(signal.SIGTERM)
    server.wait_output(r"SIGTERM received|stopping \d+ worker", timeout=5)     # draining
    server.send(signal.SIGINT)                  # each taken before the next: none merged
    server.send(signal.SIGTERM)
    stream.wait(10)
    assert stream.complete and stream.body == FULL_BODY
    assert server.wait_exit(10) == 0
    assert "Traceback" not in server.stderr, server.stderr


def test_sigint_on_the_worker_process_group_is_graceful(start):
    """Ctrl-C in a terminal signals the whole process group: supervisor and workers at once."""
    server = start("--workers", "2")
    stream = Stream(server.port, "/stream")
    assert stream.first.wait(5)
    pgid = os.getpgid(server.proc.pid)
    for pid in [server.proc.pid, *(c.pid for c in psutil.Process(server.proc.pid).children())]:
        assert os.getpgid(pid) == pgid
        os.kill(pid, signal.SIGINT)
    stream.wait(10)
    assert stream.complete and stream.body == FULL_BODY
    assert server.wait_exit(10) == 0


@pytest.mark.parametrize("mode", MODES)
def test_streams_past_the_deadline_are_cut_and_their_generators_closed(start, tmp_path, mode):
    server = start("--shutdown-timeout", "1", *mode)
    streams = [Stream(server.port, "/endless"), Stream(server.port, "/aendless")]
    for s in streams:
        assert s.first.wait(5) and s.chunks
    handler = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    handler.sendall(b"GET /slow-handler HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_until((tmp_path / "handler-started").exists, 5, "the handler to start")
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    for s in streams:
        s.wait(8)
        cut = s.t0 + s.closed_at - sent
        assert 0.8 <= cut <= 3.0, f"stream cut {cut:.2f} s after SIGTERM (deadline 1 s)"
        assert not s.complete, "a stream cut at the deadline must not end with the zero-size chunk"
        assert s.chunks[-1][0] >= sent - s.t0 + 0.5, "the stream did not keep flowing during the drain"
    assert server.wait_exit(10) == 0
    assert time.monotonic() - sent < 8
    assert handler.recv(100) == b"", "an async handler still running at the deadline must be cut"
    handler.close()
    assert (tmp_path / "sync-finally").exists(), "the sync generator's finally: did not run"
    assert (tmp_path / "async-finally").exists(), "the async generator's finally: did not complete"
    assert (tmp_path / "handler-finally").exists(), "the async handler's finally: did not complete"
    assert (tmp_path / "shutdown-hook").exists()
    for noise in ("Task was destroyed", "already running", "Traceback"):
        assert noise not in server.stderr, server.stderr


@pytest.mark.slow
def test_a_generator_blocked_past_the_deadline_does_not_hang_the_exit(start):
    server = start("--shutdown-timeout", "0.5", "--loop", "asyncio")
    stream = Stream(server.port, "/stuck")
    assert stream.first.wait(5)
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    stream.wait(5)
    assert not stream.complete and stream.body == "first\n"
    assert stream.t0 + stream.closed_at - sent < 2.0, "the connection was not closed at the deadline"
    assert server.wait_exit(12) == 0
    assert time.monotonic() - sent < 9            # deadline + the 5 s grace for stream threads
    assert "still blocked" in server.stderr


SERVE_DIRECTLY = '''
import logging, signal, sys
from catzilla.runner import bind_socket, new_event_loop
from czapp import app

logging.basicConfig(level=logging.INFO)

sock = bind_socket("127.0.0.1", 0)
before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
loop = new_event_loop(sys.argv[1])
loop.run_until_complete(app.serve([sock], shutdown_timeout=5,
                                  ready=lambda: print("serving on http://127.0.0.1:%d" % sock.getsockname()[1],
                                                      flush=True)))
loop.close()
print("handlers restored:", (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before,
      flush=True)
'''


@pytest.mark.parametrize("loop", [
    "asyncio",
    pytest.param("uvloop", marks=pytest.mark.skipif(not importlib.util.find_spec("uvloop"),
                                                    reason="uvloop not installed"))])
def test_app_serve_without_stop_drains_on_signals_like_the_cli(tmp_path, loop):
    """app.serve() called directly in the main thread, without `stop`: the same
    stop-signal handling as the CLI (runner.StopSignals): SIGTERM drains, a
    second signal does not cut the drain, the previous handlers come back."""
    import sys
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    (tmp_path / "serve_directly.py").write_text(SERVE_DIRECTLY)
    with launcher(tmp_path) as run:
        server = run.start([sys.executable, "serve_directly.py", loop])
        stream = Stream(server.port, "/stream")
        assert stream.first.wait(5)
        server.send(signal.SIGTERM)
        server.wait_output(r"SIGTERM received", timeout=5)
        server.send(signal.SIGINT)
        stream.wait(10)
        assert stream.complete and stream.body == FULL_BODY
        assert server.wait_exit(10) == 0
        assert "handlers restored: True" in server.text()
        assert (tmp_path / "shutdown-hook").exists()
        assert "Traceback" not in server.stderr, server.stderr
