"""`catzilla run --reload`: serve from a child process and restart it when a
source file changes. For development only.

The parent binds the listening socket once and hands it to every child, so
the port never changes and connections made during a restart wait in the
accept queue instead of being refused. Changes are found by polling mtimes
(no dependency); a burst of writes (an editor saving several files, a
checkout) is coalesced into one restart. A child that exits by itself (an
import error, a crash) is restarted on the next change, not in a loop."""
from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import time
from typing import Callable, Dict, Iterable, List, Optional

from catzilla._core.workers import CLOSE_GRACE

log = logging.getLogger("catzilla")

WATCHED_SUFFIXES = (".py", ".pyx", ".pxd")
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist", "site-packages"})


def _skipped(parent: str, name: str) -> bool:
    return (name.startswith(".") or name in SKIPPED_DIRS or name.endswith(".egg-info")
            or os.path.exists(os.path.join(parent, name, "pyvenv.cfg")))   # a virtualenv


def snapshot(dirs: Iterable[str]) -> Dict[str, int]:
    """{path: mtime_ns} of the watched files under `dirs`."""
    files: Dict[str, int] = {}
    for top in dirs:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if not _skipped(dirpath, d)]
            for name in filenames:
                if name.endswith(WATCHED_SUFFIXES):
                    path = os.path.join(dirpath, name)
                    try:
                        files[path] = os.stat(path).st_mtime_ns
                    except OSError:
                        pass              # removed between listing and stat
    return files


def changed(old: Dict[str, int], new: Dict[str, int]) -> List[str]:
    """Paths added, removed or modified between two snapshots."""
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))


class Reloader:
    """Runs `argv_factory()` as a child process with `sock` inherited, and
    restarts it when a watched file under `dirs` changes, until SIGINT/SIGTERM."""

    def __init__(self, argv_factory: Callable[[], List[str]], dirs: List[str], sock: socket.socket, *,
                 shutdown_timeout: float = 10.0, interval: float = 0.5, debounce: float = 0.3,
                 settle_max: float = 2.0) -> None:
        self.argv_factory = argv_factory
        self.dirs = dirs
        self.sock = sock
        self.shutdown_timeout = shutdown_timeout
        self.interval = interval
        self.debounce = debounce
        self.settle_max = settle_max
        self.child: Optional[subprocess.Popen] = None
        self.stopping = False
        self._exit_reported = False
        self._wake_r = self._wake_w = -1

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _wait(self, timeout: float) -> None:
        try:
            readable, _, _ = select.select([self._wake_r], [], [], timeout)
        except InterruptedError:
            readable = []
        if readable:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass

    def start_child(self) -> None:
        self._exit_reported = False
        self.child = subprocess.Popen(self.argv_factory(), pass_fds=(self.sock.fileno(),))

    def stop_child(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(self.shutdown_timeout + CLOSE_GRACE + 2.0)
        except subprocess.TimeoutExpired:
            log.warning("the server (pid %d) did not stop in time; killing it", child.pid)
            child.kill()
            child.wait()

    def _report_exit(self) -> None:
        if self.child is not None and not self._exit_reported and self.child.poll() is not None:
            self._exit_reported = True
            log.error("the server exited (code %d); waiting for a file change to restart it (Ctrl-C to quit)",
                      self.child.returncode)

    def _settle(self, files: Dict[str, int]) -> Dict[str, int]:
        """Wait until the tree stops changing (bounded), so a burst of saves restarts once."""
        deadline = time.monotonic() + self.settle_max
        while not self.stopping and time.monotonic() < deadline:
            self._wait(self.debounce)
            newer = snapshot(self.dirs)
            if newer == files:
                break
            files = newer
        return files

    def run(self) -> int:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)}
        old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        try:
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGCHLD, lambda signum, frame: None)   # wakes the select()
            files = snapshot(self.dirs)
            log.info("reload mode (development only): watching %s for changes to %s files",
                     ", ".join(self.dirs), "/".join(WATCHED_SUFFIXES))
            self.start_child()
            while not self.stopping:
                self._wait(self.interval)
                if self.stopping:
                    break
                self._report_exit()
                current = snapshot(self.dirs)
                if current == files:
                    continue
                current = self._settle(current)
                if self.stopping:
                    break
                paths = changed(files, current)
                files = current
                if not paths:
                    continue
                shown = ", ".join(os.path.relpath(p) for p in paths[:3])
                more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
                log.warning("%s changed%s; restarting the server", shown, more)
                self.stop_child()
                if self.stopping:
                    break
                self.start_child()
            self.stop_child()
            return 0
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
            os.close(self._wake_r)
            os.close(self._wake_w)
