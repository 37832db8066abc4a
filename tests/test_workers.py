"""Multi-process serving through the real CLI: `python -m catzilla run mod:app --workers 2`.

A worker killed with SIGKILL is replaced while requests keep succeeding; a
worker that cannot start stops the whole server with exit status 3; workers
do not outlive a supervisor that was killed."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import List, Optional, Set

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]

APP = '''
import os
from catzilla import Catzilla

app = Catzilla()

@app.get("/")
def home(request):
    return f"pid={os.getpid()}"
'''


class CatzillaProcess:
    """`python -m catzilla run <module>:app --port 0 ...` in tmp_path, with its
    output collected by reader threads and the port read from the banner."""

    def __init__(self, tmp_path: Path, source: str, *args: str, module: str = "czapp",
                 target: Optional[str] = None, wait_ready: bool = True) -> None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                   PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "catzilla", "run", target or f"{module}:app", "--port", "0", *args],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: List[str] = []
        self.err: List[str] = []
        self.port = 0
        self._readers = [threading.Thread(target=self._read, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._readers:
            t.start()
        if wait_ready:
            self.wait_banner()

    @staticmethod
    def _read(stream, sink: List[str]) -> None:
        for line in iter(stream.readline, b""):
            sink.append(line.decode("utf-8", "replace"))

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_banner(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.out):
                m = re.search(r"serving on http://[^ ]+:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    return self.port
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no banner (exit {self.proc.poll()}); stderr:\n{self.stderr}")

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 10.0) -> List[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m.group(0) for line in list(self.err) for m in [re.search(pattern, line)] if m]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} x {pattern!r} not logged within {timeout} s; stderr:\n{self.stderr}")

    def workers(self) -> Set[int]:
        try:
            return {c.pid for c in psutil.Process(self.proc.pid).children()
                    if c.status() != psutil.STATUS_ZOMBIE}
        except psutil.NoSuchProcess:
            return set()

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout} s later; stderr:\n{self.stderr}") from None

    def close(self) -> None:
        try:
            family = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        for p in [self.proc, *family]:
            try:
                p.kill()
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
        self.proc.wait(10)
        psutil.wait_procs(family, timeout=10)
        for t in self._readers:
            t.join(5)


def get(port: int, path: str = "/", timeout: float = 5.0) -> tuple:
    """One GET on a fresh connection (Connection: close); (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            data += part
    if not data:
        raise ConnectionError("closed without a response")
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode()


@pytest.fixture
def start(tmp_path):
    procs: List[CatzillaProcess] = []

    def run(source: str, *args: str, wait_ready: bool = True, **kw) -> CatzillaProcess:
        p = CatzillaProcess(tmp_path, source, *args, wait_ready=False, **kw)
        procs.append(p)                   # cleaned up even if it never gets ready
        if wait_ready:
            p.wait_banner()
        return p

    yield run
    for p in procs:
        p.close()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_killed_workers_are_replaced_while_requests_keep_succeeding(start):
    server = start(APP, "--workers", "2")
    server.wait_log(r"worker \d+ serving", count=2)
    original = wait_for(lambda: (lambda w: w if len(w) == 2 else None)(server.workers()), 5, "two workers")

    served_by: Set[int] = set()
    for _ in range(20):
        status, body = get(server.port)
        assert status == 200
        served_by.add(int(body.split("=")[1]))
    assert served_by <= original

    current = set(original)
    for victim in sorted(original):
        os.kill(victim, signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + 8.0
        replacement: Set[int] = set()
        while time.monotonic() < deadline:
            status, body = get(server.port)          # never fails: the other worker serves
            statuses.append(status)
            replacement = server.workers() - current
            if replacement and victim not in server.workers():
                break
        assert statuses and all(s == 200 for s in statuses), statuses
        assert len(replacement) == 1, f"no replacement for {victim}: workers {server.workers()}"
        current = (current - {victim}) | replacement
        assert server.workers() == current
        server.wait_log(rf"worker {next(iter(replacement))} serving")

    # Both original workers are gone: every answer now comes from a replacement.
    for _ in range(10):
        status, body = get(server.port)
        assert status == 200
        pid = int(body.split("=")[1])
        assert pid in current and pid not in original
    assert "killed by SIGKILL" in server.stderr

    server.proc.send_signal(signal.SIGTERM)
    assert server.wait_exit(20) == 0
    for pid in current:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_workers_serve_concurrent_clients_during_a_kill(start):
    """Clients hammering the port from several threads while a worker is killed:
    only requests that were on the killed worker's connections at that instant
    may fail; new connections all succeed."""
    server = start(APP, "--workers", "2")
    server.wait_log(r"worker \d+ serving", count=2)
    stop = threading.Event()
    results: List[tuple] = []

    def client() -> None:
        while not stop.is_set():
            t = time.monotonic()
            try:
                status, _ = get(server.port)
            except Exception as exc:      # recorded, judged below
                status = repr(exc)
            results.append((t, time.monotonic(), status))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        victim = min(server.workers())
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(server.workers() - {victim}) == 2 and victim not in server.workers(), 8,
                 "a replacement worker")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    after = [r for r in results if r[0] > killed_at + 0.05]
    assert len(after) > 20
    assert all(status == 200 for _, _, status in after), [r for r in after if r[2] != 200][:5]
    # Failures, if any, are requests that were in flight at the kill.
    failed = [r for r in results if r[2] != 200]
    assert all(start <= killed_at + 0.05 for start, _, _ in failed), failed


def test_a_worker_that_cannot_start_stops_the_server_with_status_3(start):
    server = start('''
        from catzilla import Catzilla
        app = Catzilla()

        @app.on_startup
        def connect():
            raise RuntimeError("database unreachable")
    ''', "--workers", "2", wait_ready=False)
    assert server.wait_exit(20) == 3
    err = server.stderr
    assert "database unreachable" in err
    assert "failed to start" in err
    assert "the workers failed to start" in err


def test_workers_exit_when_the_supervisor_is_killed(start):
    server = start(APP, "--workers", "2")
    server.wait_log(r"worker \d+ serving", count=2)
    workers = server.workers()
    assert len(workers) == 2
    server.proc.kill()
    server.proc.wait(5)
    gone, alive = psutil.wait_procs([psutil.Process(p) for p in workers if psutil.pid_exists(p)], timeout=8)
    assert not alive, f"workers {[p.pid for p in alive]} outlived their supervisor"
    assert "supervisor" in server.stderr and "is gone" in server.stderr


def test_workers_auto_and_sigint(start):
    server = start(APP, "--workers", "auto")
    n = os.cpu_count() or 1
    if n > 1:
        server.wait_log(r"worker \d+ serving", count=n)
        assert len(server.workers()) == n
    assert get(server.port)[0] == 200
    server.proc.send_signal(signal.SIGINT)
    assert server.wait_exit(20) == 0
