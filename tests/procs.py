"""Running Catzilla (or any program) as a subprocess, for the tests whose
server runs in its own process: test_cli, test_shutdown, test_workers,
test_nginx, test_streaming, test_files, test_fd_limit and test_locust. A plain
module, imported by those tests (pytest puts tests/ on sys.path).

    with launcher(tmp_path) as run:
        server = run("czapp:app", "--workers", "2")    # `python -m catzilla run`; waits for the banner
        other = run.start([sys.executable, "app.py"])  # any command; waits for the banner
        status, head, body = get(server.port, "/")
        assert server.stop() == 0                       # SIGTERM, then the exit status

Every wait has a deadline and fails with the process's output; close() kills
the process and its children and joins the reader threads (bounded).
wait_until() is the one polling loop for the conditions these tests wait for.
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
from typing import Any, Callable, Iterator, List, Optional, Set, Tuple

import psutil

from wire import parse_response

ROOT = Path(__file__).resolve().parents[1]

#: The first line Catzilla prints (on stdout) once it listens; group 1 is the port.
BANNER = r"serving on http://[^ ]+:(\d+)"


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll predicate() until it returns something true, and return that; fails
    after `timeout` seconds, naming `what` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A loopback TCP port nobody listens on now (for programs that cannot be given port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    def _wait(self, predicate: Callable[[], Any], timeout: float, what: str, until_exit: bool = False) -> Any:
        """wait_until(), failing with this process's output; with until_exit, also
        as soon as the process has exited (after a last look, once the readers
        took in its last lines)."""
        def check() -> Any:
            if until_exit and self.proc.poll() is not None:
                for t in self.readers:
                    t.join(1.0)
                value = predicate()
                if not value:
                    raise AssertionError(f"exited before {what}")
                return value
            return predicate()
        try:
            return wait_until(check, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc} {self._report()}") from None

    def wait_banner(self, timeout: float = 15.0) -> int:
        """The port from the banner; fails as soon as the process has exited without one."""
        m = self._wait(lambda: next((m for line in list(self.out) for m in [re.search(BANNER, line)] if m), None),
                       timeout, "the banner", until_exit=True)
        self.port = int(m.group(1))
        return self.port

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

        def found() -> Optional["re.Match"]:
            matches = [m for line in list(sink) for m in [re.search(pattern, line)] if m]
            return matches[-1] if len(matches) >= count else None
        return self._wait(found, timeout, f"{pattern!r} x{count}")

    def wait_port(self, port: int, timeout: float = 10.0) -> None:
        """Wait until something accepts connections on `port` (for a program
        without a banner); fails as soon as the process has exited."""
        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        self._wait(listening, timeout, f"a listener on port {port}", until_exit=True)

    def workers(self) -> Set[int]:
        """The pids of the live (not zombie) children."""
        try:
            return {c.pid for c in psutil.Process(self.proc.pid).children()
                    if c.status() != psutil.STATUS_ZOMBIE}
        except psutil.NoSuchProcess:
            return set()

    # -- ending -----------------------------------------------------------------------

    def wait_exit(self, timeout: float) -> int:
        """The exit status, which must come within `timeout`; then the output
        is complete (the readers are joined, bounded, as long as no child
        that outlived the process holds the pipes)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout} s later; stderr:\n{self.stderr}") from None
        for t in self.readers:
            t.join(5)
        return code

    def send(self, sig: int, timeout: float = 5.0) -> None:
        """Send `sig` and wait until the process has taken it (it is no longer
        pending in /proc/PID/status), so a signal sent next is not merged with it."""
        self.proc.send_signal(sig)
        bit = 1 << (sig - 1)

        def taken() -> bool:
            try:
                with open(f"/proc/{self.proc.pid}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if ":" in line)
            except FileNotFoundError:
                return True                   # gone: nothing is pending any more
            return not (int(fields["ShdPnd"], 16) | int(fields["SigPnd"], 16)) & bit
        wait_until(taken, timeout, f"pid {self.proc.pid} to take signal {sig}")

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


class Launcher:
    """Starts processes in `cwd` and closes them all (last started first) at the end:

    run(target, *options, ready=True, workers=1, **env): Proc.catzilla(cwd, ...),
        with ready, once wait_ready(workers) saw the banner (and the workers);
    run.start(argv, ready=True, **env): any command, `env` added to catzilla_env(),
        with ready, once wait_banner() saw the banner (a Catzilla server that is
        not started through the command line prints it too)."""

    def __init__(self, cwd: Path, grace: float = 0.0) -> None:
        self.cwd = cwd
        self.grace = grace
        self.procs: List[Proc] = []

    def __call__(self, target: str, *options: str, ready: bool = True, workers: int = 1, **env: str) -> Proc:
        p = self._add(Proc.catzilla(self.cwd, target, *options, **env))
        if ready:
            p.wait_ready(workers)
        return p

    def start(self, argv: List[str], ready: bool = True, **env: str) -> Proc:
        p = self._add(Proc(argv, self.cwd, catzilla_env(**env)))
        if ready:
            p.wait_banner()
        return p

    def _add(self, p: Proc) -> Proc:
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in reversed(self.procs):
            p.close(self.grace)


@contextlib.contextmanager
def launcher(cwd: Path, grace: float = 0.0) -> Iterator[Launcher]:
    """For a fixture: a Launcher in `cwd`; every process it started is closed at
    the end (see Proc.close for `grace`), even one that never got ready."""
    run = Launcher(cwd, grace)
    try:
        yield run
    finally:
        run.close()


def fetch(port: int, path: str, *, method: str = "GET", body: bytes = b"", host: str = "t", headers: str = "",
          timeout: float = 5.0, sock: Optional[socket.socket] = None) -> bytes:
    """The raw response to one request on a fresh connection (Connection: close),
    read until the server closes; `headers` are extra "Name: value\\r\\n" lines.
    `sock`: a connection already made (another source address, TLS), used and closed."""
    if body or method not in ("GET", "HEAD"):
        headers += f"Content-Length: {len(body)}\r\n"
    with sock or socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n".encode()
                  + body)
        return read_to_eof(s)


def read_to_eof(sock: socket.socket) -> bytes:
    """Everything until the peer closes (its timeout applies to each recv; a reset
    raises ConnectionResetError)."""
    data = b""
    while True:
        part = sock.recv(65536)
        if not part:
            return data
        data += part


def get(port: int, path: str, **kw: Any) -> Tuple[int, bytes, bytes]:
    """fetch(), read by the one response reader: (status, head without its blank
    line, decoded body); ConnectionError when the server closed without answering."""
    data = fetch(port, path, **kw)
    if not data:
        raise ConnectionError(f"{kw.get('method', 'GET')} {path}: closed without a response")
    r = parse_response(data, head_only=kw.get("method") == "HEAD")
    return r.status, r.raw_head[:-4], r.body
