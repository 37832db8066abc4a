"""`catzilla run --reload`: serve from a child process and restart it when a
source file changes. For development only.

The parent binds the listening socket once and hands it to every child, so
the port never changes and connections made during a restart wait in the
accept queue instead of being refused. Changes are found by `watchfiles`
(inotify on Linux: no scanning; the `reload` extra) when it is
installed, else by polling mtimes every half second (no dependency; also
chosen by CATZILLA_RELOAD_POLL=1, for file systems without inotify events
such as some network or container mounts). Either way a burst of writes (an
editor saving several files, a checkout) is coalesced into one restart. A
child that exits by itself (an import error, a crash) is restarted on the
next change, not in a loop."""
from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import time
from typing import Callable, Dict, Iterable, Iterator, List, Optional

from catzilla.settings import CLOSE_GRACE

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


def watched(path: str, dirs: Iterable[str]) -> bool:
    """Whether a change to `path` restarts the server: what snapshot() would list."""
    if not path.endswith(WATCHED_SUFFIXES):
        return False
    for top in dirs:
        if path.startswith(top.rstrip(os.sep) + os.sep):
            parent = top
            for part in os.path.relpath(os.path.dirname(path), top).split(os.sep):
                if part == ".":
                    break
                if _skipped(parent, part):
                    return False
                parent = os.path.join(parent, part)
            return True
    return False


def use_watchfiles() -> bool:
    """watchfiles when installed, unless CATZILLA_RELOAD_POLL is set (to anything but '' or '0')."""
    if os.environ.get("CATZILLA_RELOAD_POLL", "") not in ("", "0"):
        return False
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return False
    return True


def changed(old: Dict[str, int], new: Dict[str, int]) -> List[str]:
    """Paths added, removed or modified between two snapshots."""
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))


class Reloader:
    """Runs `argv_factory()` as a child process with `sock` inherited, and
    restarts it when a watched file under `dirs` changes, until SIGINT/SIGTERM.
    `poll`: True for mtime polling, False for watchfiles, None: use_watchfiles()."""

    def __init__(self, argv_factory: Callable[[], List[str]], dirs: List[str], sock: socket.socket, *,
                 shutdown_timeout: float = 10.0, interval: float = 0.5, debounce: float = 0.3,
                 settle_max: float = 2.0, poll: Optional[bool] = None) -> None:
        self.poll = not use_watchfiles() if poll is None else poll
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

    def _polled_changes(self, files: Dict[str, int]) -> Iterator[List[str]]:
        """The changed paths of each burst of changes since `files`; [] every `interval` without one."""
        while not self.stopping:
            self._wait(self.interval)
            if self.stopping:
                return
            current = snapshot(self.dirs)
            if current != files:
                current = self._settle(current)
                yield changed(files, current)
                files = current
            else:
                yield []

    def is_set(self) -> bool:
        """watchfiles' stop_event: it returns once this is true."""
        return self.stopping

    def _watched_changes(self) -> Iterator[List[str]]:
        """_polled_changes() from inotify events (watchfiles groups a burst: it
        yields once no event came for `debounce` s, or after `settle_max` s)."""
        import watchfiles

        for batch in watchfiles.watch(*self.dirs, watch_filter=lambda change, path: watched(path, self.dirs),
                                      debounce=int(self.settle_max * 1000), step=int(self.debounce * 1000),
                                      stop_event=self, rust_timeout=int(self.interval * 1000),
                                      yield_on_timeout=True, raise_interrupt=False):
            yield sorted({path for _, path in batch})

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
            changes = self._polled_changes(snapshot(self.dirs)) if self.poll else self._watched_changes()
            log.info("reload mode (development only): watching %s for changes to %s files (%s)",
                     ", ".join(self.dirs), "/".join(WATCHED_SUFFIXES),
                     f"polling every {self.interval:g} s" if self.poll else "watchfiles")
            self.start_child()
            for paths in changes:
                if self.stopping:
                    break
                self._report_exit()
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
