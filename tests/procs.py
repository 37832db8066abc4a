"""Running Catzilla (or any program) as a subprocess in the tests that go
through the real command line: test_cli, test_shutdown, test_workers and
test_nginx. A plain module, imported by those tests (pytest puts tests/ on
sys.path).

    with launcher(tmp_path) as run:
        server = run("czapp:app", "--workers", "2")    # waits for the banner
        status = fetch(server.port, "/")
        assert server.stop() == 0                       # SIGTERM, then the exit status

Every wait has a deadline and fails with the process's output; close() kills
the process and its children and joins the reader threads (bounded).
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Set

import psutil

ROOT = Path(__file__).resolve().parents[1]

#: The first line Catzilla prints (on stdout) once it listens; group 1 is the port.
BANNER = r"serving on http://[^ ]+:(\d+)"


def catzilla_env(**extra: str) -> dict:
    """os.environ with the source tree on PYTHONPATH and unbuffered output."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                PYTHONUNBUFFERED="1", **extra)


class Proc:
    """A background process whose stdout/stderr lines are collected by threads
    (in `out` and `err`)."""

    def __init__(self, argv: List[str], cwd: Path, env: dict) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: List[str] = []
        self.err: List[str] = []
        self.port = 0
        self.readers = [threading.Thread(target=self._read, args=(s, b), daemon=True)
                        for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self.readers:
            t.start()

    @classmethod
    def catzilla(cls, cwd: Path, target: str, *options: str, **env: str) -> "Proc":
        """`python -m catzilla run TARGET --port 0 OPTIONS...` in cwd; `env` is
        added to catzilla_env(). Does not wait: see wait_banner()."""
        return cls([sys.executable, "-m", "catzilla", "run", target, "--port", "0", *options], cwd, catzilla_env(**env))

    @staticmethod
    def _read(stream, sink: List[str]) -> None:
        for line in iter(stream.readline, b""):
            sink.append(line.decode("utf-8", "replace"))

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def text(self) -> str:
        """All the output so far: stdout, then stderr."""
        return "".join(self.out) + self.stderr

    def _report(self) -> str:
        return f"(exit {self.proc.poll()});\nstdout:\n{''.join(self.out)}\nstderr:\n{self.stderr}"

    # -- waiting --------------------------------------------------------------------

    def wait_banner(self, timeout: float = 15.0) -> int:
        """The port from the banner; fails as soon as the process has exited without one."""
        deadline = time.monotonic() + timeout
        while True:
            exited = self.proc.poll() is not None
            if exited:                    # let the readers take in its last lines
                for t in self.readers:
                    t.join(max(0.0, min(1.0, deadline - time.monotonic())))
            m = next((m for line in list(self.out) for m in [re.search(BANNER, line)] if m), None)
            if m:
                self.port = int(m.group(1))
                return self.port
            if exited or time.monotonic() >= deadline:
                raise AssertionError(f"no banner{'' if exited else f' within {timeout} s'} {self._report()}")
            time.sleep(0.02)

    def wait_ready(self, workers: int = 1, timeout: float = 15.0) -> int:
        """The banner, and with workers > 1 a "worker N serving" line from each
        worker, all within one timeout."""
        deadline = time.monotonic() + timeout
        port = self.wait_banner(timeout)
        if workers > 1:
            self.wait_output(r"worker \d+ serving", count=workers, timeout=deadline - time.monotonic())
        return port

    def wait_output(self, pattern: str, count: int = 1, timeout: float = 15.0,
                    stream: Optional[List[str]] = None) -> "re.Match":
        """Wait for `count` lines matching pattern (in stderr unless `stream` is
        given); the last match."""
        sink = self.err if stream is None else stream
        deadline = time.monotonic() + timeout
        while True:
            found = [m for line in list(sink) for m in [re.search(pattern, line)] if m]
            if len(found) >= count:
                return found[-1]
            if time.monotonic() >= deadline:
                raise AssertionError(f"{pattern!r} x{count} not seen in {timeout:.3g} s {self._report()}")
            time.sleep(0.02)

    def workers(self) -> Set[int]:
        """The pids of the live (not zombie) children."""
        try:
            return {c.pid for c in psutil.Process(self.proc.pid).children()
                    if c.status() != psutil.STATUS_ZOMBIE}
        except psutil.NoSuchProcess:
            return set()

    # -- ending -----------------------------------------------------------------------

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout} s later; stderr:\n{self.stderr}") from None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM; the exit status, which must come within `timeout`."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def close(self, grace: float = 0.0) -> None:
        """Teardown: with `grace`, SIGTERM first and up to `grace` seconds to exit;
        then SIGKILL to the process and all its descendants, and join the readers."""
        try:
            family = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        if grace and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        for p in [self.proc, *family]:
            try:
                p.kill()
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
        self.proc.wait(10)
        psutil.wait_procs(family, timeout=10)
        for t in self.readers:
            t.join(5)


@contextlib.contextmanager
def launcher(cwd: Path) -> Iterator[Callable[..., Proc]]:
    """For a fixture: `run(target, *options, ready=True, workers=1, **env)` starts
    Proc.catzilla(cwd, ...) and (with ready) waits for wait_ready(workers); every
    process started is closed at the end, even one that never got ready."""
    procs: List[Proc] = []

    def run(target: str, *options: str, ready: bool = True, workers: int = 1, **env: str) -> Proc:
        p = Proc.catzilla(cwd, target, *options, **env)
        procs.append(p)
        if ready:
            p.wait_ready(workers)
        return p

    try:
        yield run
    finally:
        for p in procs:
            p.close()


def fetch(port: int, path: str, *, host: str = "t", headers: str = "", timeout: float = 5.0) -> bytes:
    """The raw response to one GET on a fresh connection (Connection: close),
    read until the server closes; `headers` are extra "Name: value\\r\\n" lines."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            data += part
    return data
