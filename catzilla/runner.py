"""Running an app: bind, pick the event loop, serve in this process or in N
forked workers supervised by this one.

Signals
-------
A serving process (the only process with workers=1, each worker otherwise)
stops gracefully on SIGINT or SIGTERM: it stops accepting, closes idle
keep-alive connections, lets in-flight requests and streams finish for up to
`shutdown_timeout` seconds, then closes what is left (so generators' `finally:`
blocks run), runs the on_shutdown hooks and returns. Signals that arrive
during the drain are ignored: the deadline already bounds it.

With workers > 1 this process becomes a supervisor: it forks the workers on
one inherited listening socket (the kernel's accept queue is shared, so a
connection waiting in it is served by whichever worker is alive), replaces a
worker that dies, and on SIGINT/SIGTERM sends SIGTERM to every worker, waits
for them to drain, kills any still alive after the deadline, and returns.
Workers ignore SIGINT (Ctrl-C in a terminal reaches the whole process group;
the supervisor alone decides) and stop by themselves if the supervisor dies.
"""
from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any, Callable, Dict, List, NoReturn, Optional, Set

from catzilla import broadcast
from catzilla._core.workers import CLOSE_GRACE

log = logging.getLogger("catzilla")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Exit status of a worker whose app failed before it started serving.
BOOT_FAILURE = 3


class WorkerBootError(RuntimeError):
    """No worker could start serving (the app failed during startup)."""


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def new_event_loop(kind: str = "auto") -> asyncio.AbstractEventLoop:
    """'auto': uvloop when installed, else asyncio's default loop."""
    if kind not in ("auto", "asyncio", "uvloop"):
        raise ValueError("loop must be 'auto', 'asyncio' or 'uvloop'")
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
            return uvloop.new_event_loop()
        except ImportError:
            if kind == "uvloop":
                raise
    return asyncio.new_event_loop()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class _StopSignals:
    """SIGINT/SIGTERM handling of a serving process.

    Plain `signal.signal` handlers are installed before the loop starts (so a
    signal during startup is not lost) and taken back from the event loop once
    `app.serve()` has installed its own: asyncio and uvloop restore the default
    actions when `app.serve()` removes those, which would let a second signal
    kill the process in the middle of the drain."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event, shutdown_timeout: float,
                 ignore_sigint: bool) -> None:
        self.loop = loop
        self.stop = stop
        self.shutdown_timeout = shutdown_timeout
        self.ignore_sigint = ignore_sigint
        self.received = 0
        self.previous: Dict[int, Any] = {}

    def install(self) -> None:
        for sig in _STOP_SIGNALS:
            self.previous[sig] = signal.getsignal(sig)
        self._set()

    def _set(self) -> None:
        for sig in _STOP_SIGNALS:
            if sig == signal.SIGINT and self.ignore_sigint:
                signal.signal(sig, signal.SIG_IGN)
            else:
                signal.signal(sig, self.handle)

    def reclaim(self) -> None:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            for sig in _STOP_SIGNALS:
                try:
                    self.loop.remove_signal_handler(sig)
                except (ValueError, RuntimeError, NotImplementedError):
                    pass
            self._set()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def handle(self, signum: int, frame: Any) -> None:
        self.received += 1
        try:
            self.loop.call_soon_threadsafe(self._on_signal, signum, self.received)
        except RuntimeError:
            pass                                # the loop is already closed

    def _on_signal(self, signum: int, nth: int) -> None:
        name = signal.Signals(signum).name
        if nth == 1:
            log.info("%s received: finishing in-flight requests (up to %.3g s)", name, self.shutdown_timeout)
            self.stop.set()
        else:
            log.debug("%s received: already shutting down", name)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def hard_exit(code: int) -> NoReturn:
    """Flush stdout and stderr, then end the process at once with `code`
    (os._exit: no atexit handlers, no waiting for threads)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def _finish_tasks(loop: asyncio.AbstractEventLoop, grace: float) -> None:
    """After app.serve(): let the tasks the server cancelled at the deadline
    (handlers, async-generator streams) finish their cleanup -- `finally:`
    blocks and `async with` exits that await -- and cancel any other leftover
    task, as asyncio.run() does; bounded by `grace` seconds."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not pending:
        return
    for t in pending:
        cancelling = getattr(t, "cancelling", None)      # Python 3.11+
        if cancelling is not None and not cancelling():
            t.cancel()
    # (3.10 cannot tell a task being cancelled from one that is not: cancelling
    # again would interrupt its cleanup, so they are all given the grace period.)
    done, still = loop.run_until_complete(asyncio.wait(pending, timeout=grace))
    if still:
        for t in still:
            t.cancel()
        loop.run_until_complete(asyncio.wait(still, timeout=0.5))
        log.warning("%d task(s) still running %.3g s after the shutdown deadline were abandoned",
                    len(still), grace)
    for t in done:
        if not t.cancelled() and t.exception() is not None:
            log.error("a task failed while shutting down", exc_info=t.exception())


def _serve(app: Any, sockets: List[socket.socket], shutdown_timeout: float, loop_kind: str, *,
           worker: bool = False, sigmask: Optional[Set[int]] = None,
           on_ready: Optional[Callable[[], None]] = None) -> None:
    loop = new_event_loop(loop_kind)
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    signals: Optional[_StopSignals] = None
    if _in_main_thread():
        signals = _StopSignals(loop, stop, shutdown_timeout, ignore_sigint=worker)
        signals.install()
    if sigmask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, sigmask)
    parent = os.getppid() if worker else 0

    def watch_parent() -> None:
        if os.getppid() != parent:
            log.warning("worker %d: the supervisor (pid %d) is gone; stopping", os.getpid(), parent)
            stop.set()
        elif not stop.is_set():
            loop.call_later(1.0, watch_parent)

    def ready() -> None:
        if signals is not None:
            signals.reclaim()
        if worker:
            loop.call_later(1.0, watch_parent)
        if on_ready is not None:
            on_ready()

    try:
        loop.run_until_complete(app.serve(sockets, shutdown_timeout=shutdown_timeout, stop=stop, ready=ready))
    finally:
        try:
            _finish_tasks(loop, CLOSE_GRACE)
            loop.run_until_complete(loop.shutdown_asyncgens())
            if hasattr(loop, "shutdown_default_executor"):      # run_in_executor() jobs, bounded
                try:
                    loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(),
                                                             CLOSE_GRACE))
                except asyncio.TimeoutError:
                    log.warning("run_in_executor() jobs still running after %.3g s; not waiting",
                                CLOSE_GRACE)
        finally:
            loop.close()
            asyncio.set_event_loop(None)
            if signals is not None:
                signals.restore()


def serve_here(app: Any, sockets: List[socket.socket], shutdown_timeout: float, loop_kind: str) -> None:
    """Serve in this process until SIGINT/SIGTERM, then drain (see the module docstring)."""
    _serve(app, sockets, shutdown_timeout, loop_kind)


def run(app: Any, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, backlog: int = 2048,
        shutdown_timeout: float = 10.0, loop: str = "auto", banner: bool = True,
        sock: Optional[socket.socket] = None) -> None:
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if shutdown_timeout < 0:
        raise ValueError("shutdown_timeout must be >= 0")
    if workers > 1 and not hasattr(os, "fork"):
        raise RuntimeError("workers > 1 needs os.fork()")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sock = sock or bind_socket(host, port, backlog)
    try:
        if banner:
            bound = sock.getsockname()
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            print(f"Catzilla serving on http://{shown}:{bound[1]} "
                  f"({workers} worker{'s' if workers > 1 else ''}, pid {os.getpid()}); Ctrl-C to stop",
                  flush=True)
        if workers > 1 and broadcast.in_process_hubs():
            log.warning("%d workers with an in-process Broadcast: an event published in one worker "
                        "reaches only that worker's subscribers; give Broadcast a redis:// url to "
                        "share topics between workers", workers)
        if workers == 1:
            serve_here(app, [sock], shutdown_timeout, loop)
        else:
            Supervisor(app, sock, workers, shutdown_timeout, loop).run()
    finally:
        sock.close()


def _describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _set_nonblocking(*fds: int) -> None:
    for fd in fds:
        os.set_blocking(fd, False)


class Supervisor:
    """Forks `workers` processes that accept on one inherited listening socket.
    A worker that dies is replaced; SIGTERM/SIGINT are forwarded (as SIGTERM)
    and every worker drains for up to shutdown_timeout before it is killed.

    Workers report that they serve through a pipe. A worker that dies before
    that failed to boot: if none has ever booted, the supervisor stops and
    raises WorkerBootError; otherwise it retries with an exponential back-off."""

    READY = struct.Struct("=i")

    def __init__(self, app: Any, sock: socket.socket, workers: int, shutdown_timeout: float,
                 loop_kind: str) -> None:
        self.app = app
        self.sock = sock
        self.workers = workers
        self.shutdown_timeout = shutdown_timeout
        self.loop_kind = loop_kind
        self.children: Dict[int, int] = {}   # pid -> slot
        self.ready_pids: Set[int] = set()
        self.ever_ready = False
        self.boot_failed = False
        self.failures = [0] * workers        # consecutive boot failures per slot
        self.respawn_at: Dict[int, float] = {}   # slot -> monotonic time
        self.stopping = False
        self.signals_received = 0
        self._wake_r = self._wake_w = self._ready_r = self._ready_w = -1
        self._ready_buf = b""

    # -- signals (called by Python between bytecodes of the main loop) -------

    def stop(self, signum: int, frame: Any) -> None:
        self.signals_received += 1
        self.stopping = True

    def _on_sigchld(self, signum: int, frame: Any) -> None:
        pass      # the wake-up fd byte is what matters: it ends the select()

    # -- workers ---------------------------------------------------------------

    def spawn(self, slot: int) -> None:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD})
        try:
            pid = os.fork()
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            log.error("cannot fork a worker: %s; retrying in 1 s", exc)
            self.respawn_at[slot] = time.monotonic() + 1.0
            return
        if pid == 0:
            self._worker_main(blocked)       # never returns
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self.children[pid] = slot

    def _worker_main(self, sigmask: Set[int]) -> None:
        code = 0
        booted = False
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (self._wake_r, self._wake_w, self._ready_r):
                os.close(fd)
            ready_w = self._ready_w

            def on_ready() -> None:
                nonlocal booted
                booted = True
                try:
                    os.write(ready_w, self.READY.pack(os.getpid()))
                except OSError:
                    pass

            _serve(self.app, [self.sock], self.shutdown_timeout, self.loop_kind, worker=True,
                   sigmask=sigmask, on_ready=on_ready)
        except BaseException:
            if booted:
                log.exception("worker %d failed", os.getpid())
                code = 1
            else:
                log.exception("worker %d failed to start", os.getpid())
                code = BOOT_FAILURE
        finally:
            hard_exit(code)

    def signal(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def _wait(self, timeout: float) -> None:
        """Sleep until a signal (SIGCHLD, SIGTERM...) or a ready report, or the timeout."""
        try:
            readable, _, _ = select.select([self._wake_r, self._ready_r], [], [], max(0.0, timeout))
        except InterruptedError:
            readable = []
        if self._wake_r in readable:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        if self._ready_r in readable:
            self._read_ready()

    def _read_ready(self) -> None:
        try:
            while True:
                data = os.read(self._ready_r, 4096)
                if not data:
                    break
                self._ready_buf += data
        except BlockingIOError:
            pass
        size = self.READY.size
        while len(self._ready_buf) >= size:
            (pid,) = self.READY.unpack(self._ready_buf[:size])
            self._ready_buf = self._ready_buf[size:]
            if pid in self.children:
                self.ready_pids.add(pid)
                self.ever_ready = True
                self.failures[self.children[pid]] = 0
                log.info("worker %d serving", pid)

    def reap(self, replace: bool) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = self.children.pop(pid, None)
            if slot is None:
                continue
            was_ready = pid in self.ready_pids
            self.ready_pids.discard(pid)
            how = _describe(status)
            if not replace or self.stopping:
                log.info("worker %d stopped (%s)", pid, how)
                continue
            if was_ready:
                log.warning("worker %d exited (%s); starting a new one", pid, how)
                self.spawn(slot)
            elif not self.ever_ready:
                log.error("worker %d failed to start (%s); stopping", pid, how)
                self.boot_failed = True
                self.stopping = True
            else:
                self.failures[slot] += 1
                delay = min(30.0, 0.5 * 2 ** (self.failures[slot] - 1))
                log.error("worker %d failed to start (%s); retrying in %.1f s", pid, how, delay)
                self.respawn_at[slot] = time.monotonic() + delay

    def _respawn_due(self) -> float:
        """Start the workers whose back-off expired; seconds until the next one."""
        now = time.monotonic()
        wait = 1.0
        for slot, when in list(self.respawn_at.items()):
            if when <= now:
                del self.respawn_at[slot]
                self.spawn(slot)
            else:
                wait = min(wait, when - now)
        return wait

    def run(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        self._ready_r, self._ready_w = os.pipe()
        _set_nonblocking(self._wake_r, self._wake_w, self._ready_r)
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)}
        old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        try:
            signal.signal(signal.SIGINT, self.stop)
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGCHLD, self._on_sigchld)
            for slot in range(self.workers):
                self.spawn(slot)
            wait = 1.0
            while not self.stopping:
                self._wait(wait)
                self.reap(replace=True)
                wait = self._respawn_due()
            self._drain()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
            for fd in (self._wake_r, self._wake_w, self._ready_r, self._ready_w):
                os.close(fd)
        if self.boot_failed:
            raise WorkerBootError("the workers failed to start; see the errors above")

    def _drain(self) -> None:
        self.respawn_at.clear()
        if not self.boot_failed:
            log.info("stopping %d worker(s): finishing in-flight requests (up to %.3g s)",
                     len(self.children), self.shutdown_timeout)
        self.sock.close()                    # the workers hold their own copies
        for pid in list(self.children):
            self.signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + CLOSE_GRACE + 2.0
        while self.children:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._wait(min(left, 1.0))
            self.reap(replace=False)
        for pid in list(self.children):
            log.warning("worker %d did not stop in time; killing it", pid)
            self.signal(pid, signal.SIGKILL)
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self.children.pop(pid, None)
