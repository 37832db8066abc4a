"""Running an app: bind, pick the event loop, serve in this process or in N
forked workers supervised by this one.

Signals
-------
A serving process (the only process with workers=1, each worker otherwise)
stops gracefully on SIGINT or SIGTERM: with the app's drain_delay setting it
first serves on for that long while its health path answers 503 (so that a
load balancer stops sending before the port closes); then it stops accepting,
closes idle keep-alive connections, lets in-flight requests and streams finish
for up to `shutdown_timeout` seconds, then closes what is left (so generators'
`finally:` blocks run), runs the on_shutdown hooks and returns. Signals that
arrive during the delay or the drain are ignored: the deadlines bound them.

Nothing says "serving" (the banner, a worker's READY report) before the
startup hooks ran and the server accepts; a start that fails is
WorkerBootError, its traceback logged once (the command line and
`app.listen()` exit 3).

With workers > 1 this process becomes a supervisor: it forks the workers on
one inherited listening socket (the kernel's accept queue is shared, so a
connection waiting in it is served by whichever worker is alive), replaces a
worker that dies (with back-off, and gives up on a crash loop), reloads on
SIGHUP without downtime (new workers first, then the old ones drain), and on
SIGINT/SIGTERM sends SIGTERM to every worker, waits for them to drain, kills
any still alive after the deadline, and returns. Workers it stops while the
socket lives on (the old ones of a reload) get RETIRE instead: no drain
delay. See Supervisor. Workers ignore SIGINT and SIGHUP (a terminal sends
them to the whole process group; the supervisor alone decides) and stop by
themselves if the supervisor dies. A single serving process (workers=1) logs
and ignores SIGHUP.
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
import traceback
from typing import Any, Callable, Dict, List, NoReturn, Optional, Set, Tuple

from catzilla.settings import CLOSE_GRACE

log = logging.getLogger("catzilla")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SUPERVISOR_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD}
#: The supervisor's "retire" to a worker whose socket outlives it (the old workers of a
#: reload, the new ones of a failed reload): a graceful stop without the drain delay.
RETIRE = signal.SIGUSR1

#: Exit status of a worker whose app failed before it started serving.
BOOT_FAILURE = 3


class WorkerBootError(RuntimeError):
    """No worker could start serving (the app failed during startup)."""


class WorkerLoadError(WorkerBootError):
    """No worker could start: loading the app failed (the message says why)."""


class CrashLoopError(RuntimeError):
    """Workers kept exiting soon after they were started: the supervisor gave up."""


class AppLoadError(Exception):
    """The APP argument does not lead to a Catzilla application (cli.load_app);
    the message is meant for a human (no traceback needed)."""


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


class Stop(asyncio.Event):
    """What stops a serving app (app.serve's `stop`), set by StopSignals:
    set() for a graceful stop, which first waits the drain_delay setting with
    the health path answering 503 (the listening socket closes with this
    server: a balancer must learn it first); retire() for one that skips it
    (other processes keep accepting on the socket: nobody is refused)."""

    retired = False

    def retire(self) -> None:
        self.retired = True
        self.set()


class StopSignals:
    """SIGINT/SIGTERM handling of a serving process, the one there is: `_serve`
    installs it before the loop starts (so a signal during startup is not
    lost) and hands `app.serve()` its `stop`; `app.serve()` called without a
    `stop` installs it itself. The first signal sets `stop` (a graceful drain);
    later ones are logged and ignored, so a second Ctrl-C never kills the
    process in the middle of the drain (or of the drain delay). A worker
    (`retire=True`) also takes RETIRE, which retires `stop` (see Stop). Plain
    `signal.signal` handlers, not the loop's: asyncio and uvloop restore the
    default actions when their handlers are removed. Main thread only; restore() puts the previous handlers back."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event, shutdown_timeout: float,
                 ignore_sigint: bool = False, retire: bool = False) -> None:
        self.loop = loop
        self.stop = stop
        self.shutdown_timeout = shutdown_timeout
        self.ignore_sigint = ignore_sigint
        self.signals = _STOP_SIGNALS + (RETIRE,) if retire else _STOP_SIGNALS
        self.received = 0
        self.previous: Dict[int, Any] = {}

    def install(self) -> None:
        for sig in self.signals:
            self.previous[sig] = signal.getsignal(sig)
            if sig == signal.SIGINT and self.ignore_sigint:
                signal.signal(sig, signal.SIG_IGN)
            else:
                signal.signal(sig, self.handle)

    def handle(self, signum: int, frame: Any) -> None:
        self.received += 1
        try:
            self.loop.call_soon_threadsafe(self._on_signal, signum, self.received)
        except RuntimeError:
            pass                                # the loop is already closed

    def _on_signal(self, signum: int, nth: int) -> None:
        name = signal.Signals(signum).name
        if nth == 1:
            if signum == RETIRE and isinstance(self.stop, Stop):
                log.info("retired by the supervisor: finishing in-flight requests (up to %.3g s)",
                         self.shutdown_timeout)
                self.stop.retire()
                return
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
    stop = Stop()
    signals: Optional[StopSignals] = None
    if _in_main_thread():
        signals = StopSignals(loop, stop, shutdown_timeout, ignore_sigint=worker, retire=worker)
        signals.install()
    if sigmask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, sigmask)
    parent = os.getppid() if worker else 0
    previous_hup = None
    if not worker and _in_main_thread():
        def on_hup(signum: int, frame: Any) -> None:
            log.warning("SIGHUP ignored: reloading without downtime needs workers >= 2 (--workers 2)")
        previous_hup = signal.signal(signal.SIGHUP, on_hup)

    def watch_parent() -> None:
        if os.getppid() != parent:
            log.warning("worker %d: the supervisor (pid %d) is gone; stopping", os.getpid(), parent)
            stop.set()
        elif not stop.is_set():
            loop.call_later(1.0, watch_parent)

    def ready() -> None:
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
            if previous_hup is not None:
                signal.signal(signal.SIGHUP, previous_hup)


def _serve_one(app: Any, sock: socket.socket, shutdown_timeout: float, loop_kind: str,
               on_ready: Callable[[], None]) -> None:
    """workers=1: serve in this process, with the workers' start-up contract:
    `on_ready` (the banner) once the startup hooks ran and the server
    accepts; a failure before that is logged here (the traceback, once) and
    raised as WorkerBootError, one after it propagates."""
    ready = False

    def started() -> None:
        nonlocal ready
        ready = True
        on_ready()

    try:
        _serve(app, [sock], shutdown_timeout, loop_kind, on_ready=started)
    except Exception as exc:
        if ready:
            raise
        log.error("the app failed to start", exc_info=True)
        raise WorkerBootError("the app failed to start; see the error above") from exc


def run(app: Any, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, backlog: int = 2048,
        shutdown_timeout: float = 10.0, loop: str = "auto", banner: bool = True,
        sock: Optional[socket.socket] = None, load: Optional[Callable[[], Any]] = None,
        boot_timeout: float = 60.0) -> None:
    """Serve `app` (see the module docstring). With workers > 1, `load`, when
    given, is called in each worker after the fork to get the app instead
    (app may then be None): the command line passes a function that imports
    it, so that the workers a SIGHUP starts run the code as it is on disk
    then. Without it every worker, after a reload too, serves `app` as it
    was when the supervisor forked: the same code. A worker that has not
    started serving `boot_timeout` seconds after its fork is killed and
    counts as failed to start."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if shutdown_timeout < 0:
        raise ValueError("shutdown_timeout must be >= 0")
    if not boot_timeout > 0:
        raise ValueError("boot_timeout must be > 0")
    if workers > 1 and not hasattr(os, "fork"):
        raise RuntimeError("workers > 1 needs os.fork()")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sock = sock or bind_socket(host, port, backlog)
    try:
        def show_banner() -> None:
            if banner:
                bound = sock.getsockname()
                shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
                print(f"Catzilla serving on http://{shown}:{bound[1]} "
                      f"({workers} worker{'s' if workers > 1 else ''}, pid {os.getpid()}); Ctrl-C to stop",
                      flush=True)
        if workers == 1:
            _serve_one(app if load is None else load(), sock, shutdown_timeout, loop, show_banner)
        else:       # the banner once a worker serves: the app may fail to load in the workers
            Supervisor(load or (lambda: app), sock, workers, shutdown_timeout, loop, on_ready=show_banner,
                       boot_timeout=boot_timeout).run()
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


class _Worker:
    __slots__ = ("slot", "gen", "ready", "retiring", "kill_at", "drain_delay")

    def __init__(self, slot: int, gen: int) -> None:
        self.slot = slot
        self.gen = gen
        self.ready = False
        self.retiring = False        # told to drain: not replaced when it exits
        self.kill_at = 0.0           # until ready, and when retiring: SIGKILL if still so then
        self.drain_delay = 0.0       # its app's setting, from its READY report: a stop takes that much longer


class Supervisor:
    """Forks `workers` processes that accept on one inherited listening socket.

    Each worker calls `load()` after the fork to get the app: given the app
    object, every worker serves it; given a function that imports it (the
    command line), every new worker runs the code as it is on disk then.

    Workers report through a pipe that they serve (with their app's
    drain_delay, which only they know: stopped by SIGTERM, a worker serves
    that long before it drains, and is given that much more time), or why
    they could not start. A worker that fails before any has ever served
    stops the supervisor (WorkerLoadError or WorkerBootError, its message
    shown once).
    Later, a worker that exits unexpectedly (killed by SIGKILL or the OOM
    killer, crashed, or failed to start) is replaced: at once the first time,
    then after 0.5, 1, 2, 4 ... s while its slot keeps failing; more than
    CRASH_LIMIT exits of one slot within CRASH_WINDOW seconds is a crash loop,
    which stops the supervisor (CrashLoopError).

    SIGHUP reloads without downtime: a new generation of workers is started on
    the same socket; once every one of them serves, the old ones get RETIRE
    and drain (without the drain delay: the socket stays open). If a new worker fails, the reload is abandoned ("reload
    failed") and the old workers keep serving. A SIGHUP during a reload is
    queued: one more reload follows the current one (several queue as one)."""

    # Frames on the status pipe: pid, kind, length of the message that follows
    # (READY: the drain_delay, as text; the errors: what went wrong).
    HEAD = struct.Struct("=iiI")
    READY, LOAD_ERROR, BOOT_ERROR = 0, 1, 2
    CRASH_LIMIT = 5
    CRASH_WINDOW = 60.0
    BACKOFF = 0.5
    BACKOFF_MAX = 30.0

    def __init__(self, load: Callable[[], Any], sock: socket.socket, workers: int, shutdown_timeout: float,
                 loop_kind: str, on_ready: Optional[Callable[[], None]] = None,
                 boot_timeout: float = 60.0) -> None:
        self.load = load
        self.boot_timeout = boot_timeout     # a worker not serving by then is killed: it failed to start
        self.on_ready = on_ready             # called once, when the first worker serves
        self.sock = sock
        self.workers = workers
        self.shutdown_timeout = shutdown_timeout
        self.loop_kind = loop_kind
        self.children: Dict[int, _Worker] = {}
        self.gen = 0                         # the generation that serves (or starts, at first)
        self.next_gen: Optional[int] = None  # the generation a reload is starting
        self.reload_requested = False
        self.ever_ready = False
        self.failure: Optional[BaseException] = None   # why the supervisor stops, if not asked to
        self.crashes: Dict[int, List[float]] = {}       # slot -> times of its recent unexpected exits
        self.respawn_at: Dict[int, float] = {}          # slot -> monotonic time
        self.errors: Dict[int, Tuple[int, str]] = {}    # pid -> the error it reported
        self.stopping = False
        self._wake_r = self._wake_w = self._status_r = self._status_w = -1
        self._status_buf = b""

    # -- signals (called by Python between bytecodes of the main loop) -------

    def stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _on_sighup(self, signum: int, frame: Any) -> None:
        self.reload_requested = True

    def _on_sigchld(self, signum: int, frame: Any) -> None:
        pass      # the wake-up fd byte is what matters: it ends the select()

    # -- workers ---------------------------------------------------------------

    def _warn_in_process_broadcast(self, app: Any) -> None:
        if any(hub.url is None for hub in app.broadcasts):
            log.warning("%d workers with an in-process Broadcast: an event published in one worker "
                        "reaches only that worker's subscribers; give Broadcast a redis:// url to "
                        "share topics between workers", self.workers)

    def spawn(self, slot: int, gen: int) -> None:
        # Blocked across the fork: the worker takes them once its handlers are in place.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISOR_SIGNALS | {RETIRE})
        try:
            pid = os.fork()
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            if gen == self.gen:
                log.error("cannot fork a worker: %s; retrying in 1 s", exc)
                self.respawn_at[slot] = time.monotonic() + 1.0
            else:
                self._reload_failed(f"cannot fork a worker: {exc}")
            return
        if pid == 0:
            self._worker_main(blocked, warn=slot == 0 and gen == 0)       # never returns
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        w = self.children[pid] = _Worker(slot, gen)
        w.kill_at = time.monotonic() + self.boot_timeout

    def _report(self, kind: int, message: str = "") -> None:
        """In a worker: one frame on the status pipe (written whole: at most PIPE_BUF bytes)."""
        data = message.encode("utf-8", "replace")
        room = select.PIPE_BUF - self.HEAD.size
        if len(data) > room:                 # keep the end: the exception is there
            data = b"...\n" + data[-(room - 4):]
        try:
            os.write(self._status_w, self.HEAD.pack(os.getpid(), kind, len(data)) + data)
        except OSError:
            pass

    def _worker_main(self, sigmask: Set[int], warn: bool) -> None:
        code = 0
        booted = False
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)     # the supervisor's business
            for fd in (self._wake_r, self._wake_w, self._status_r):
                os.close(fd)
            try:
                app = self.load()
            except BaseException as exc:
                self._report(self.LOAD_ERROR, str(exc) if isinstance(exc, AppLoadError)
                             else traceback.format_exc())
                code = BOOT_FAILURE
                return
            if warn:                         # once, from the first worker (the app is loaded here)
                self._warn_in_process_broadcast(app)

            def on_ready() -> None:
                nonlocal booted
                booted = True
                self._report(self.READY, repr(app.settings.drain_delay))

            _serve(app, [self.sock], self.shutdown_timeout, self.loop_kind, worker=True,
                   sigmask=sigmask, on_ready=on_ready)
        except BaseException:
            if booted:
                log.exception("worker %d failed", os.getpid())
                code = 1
            else:
                self._report(self.BOOT_ERROR, traceback.format_exc())
                code = BOOT_FAILURE
        finally:
            hard_exit(code)

    def signal(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def retire(self, pid: int) -> None:
        """RETIRE, when other workers keep accepting on the socket: the worker stops
        accepting at once (no drain delay) and drains (it ends itself after
        shutdown_timeout; a worker stuck past that is killed by _kill_overdue)."""
        w = self.children[pid]
        w.retiring = True
        w.kill_at = time.monotonic() + self.shutdown_timeout + CLOSE_GRACE + 2.0
        self.signal(pid, RETIRE)

    def _kill_overdue(self) -> float:
        """SIGKILL the workers past their deadline, retiring or still starting (hung in an
        import or a startup hook); seconds until the next deadline."""
        now = time.monotonic()
        wait = 1.0
        for pid, w in self.children.items():
            if w.retiring or not w.ready:
                if w.kill_at <= now:
                    if w.retiring:
                        log.warning("worker %d did not stop in time; killing it", pid)
                    else:
                        log.error("worker %d did not start serving within %.3g s; killing it",
                                  pid, self.boot_timeout)
                        self.errors[pid] = (self.BOOT_ERROR, f"did not start serving within "
                                                             f"{self.boot_timeout:.3g} s")
                    self.signal(pid, signal.SIGKILL)
                    w.kill_at = now + 1.0
                else:
                    wait = min(wait, w.kill_at - now)
        return wait

    def _wait(self, timeout: float) -> None:
        """Sleep until a signal (SIGCHLD, SIGTERM...) or a worker's report, or the timeout."""
        try:
            readable, _, _ = select.select([self._wake_r, self._status_r], [], [], max(0.0, timeout))
        except InterruptedError:
            readable = []
        if self._wake_r in readable:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        if self._status_r in readable:
            self._read_status()

    def _read_status(self) -> None:
        try:
            while True:
                data = os.read(self._status_r, 65536)
                if not data:
                    break
                self._status_buf += data
        except BlockingIOError:
            pass
        head = self.HEAD.size
        while len(self._status_buf) >= head:
            pid, kind, n = self.HEAD.unpack(self._status_buf[:head])
            if len(self._status_buf) < head + n:
                break
            message = self._status_buf[head:head + n].decode("utf-8", "replace")
            self._status_buf = self._status_buf[head + n:]
            w = self.children.get(pid)
            if w is None:
                continue
            if kind == self.READY:
                w.ready = True
                w.drain_delay = float(message)
                log.info("worker %d serving", pid)
                if not self.ever_ready:
                    self.ever_ready = True
                    if self.on_ready is not None:
                        self.on_ready()
            else:
                self.errors[pid] = (kind, message.rstrip())

    def reap(self) -> None:
        self._read_status()                  # a report is written before its worker exits
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            w = self.children.pop(pid, None)
            if w is not None:
                self._exited(pid, w, _describe(status))

    def _exited(self, pid: int, w: _Worker, how: str) -> None:
        kind, message = self.errors.pop(pid, (self.READY, ""))
        error = {self.LOAD_ERROR: f"could not load the app:\n{message}",
                 self.BOOT_ERROR: f"failed to start:\n{message}"}.get(kind, "")
        if self.stopping or w.retiring:
            log.log(logging.DEBUG if self.failure else logging.INFO, "worker %d stopped (%s)", pid, how)
            return
        if w.gen == self.next_gen:
            self._reload_failed(f"new worker {pid} ({how}) {error or ('exited' if w.ready else 'failed to start')}")
            return
        if not self.ever_ready:
            # The first start failed: stop, with this worker's words only (the others' are the same).
            if kind == self.LOAD_ERROR:
                self.failure = WorkerLoadError(message)
            else:
                if error:
                    log.error("worker %d %s", pid, error)
                log.error("worker %d failed to start (%s); stopping", pid, how)
                self.failure = WorkerBootError("the workers failed to start; see the errors above")
            self.stopping = True
            return
        now = time.monotonic()
        recent = [t for t in self.crashes.get(w.slot, []) if now - t < self.CRASH_WINDOW] + [now]
        self.crashes[w.slot] = recent
        what = "exited" if w.ready else "failed to start"
        if error:
            log.error("worker %d %s", pid, error)
        if len(recent) > self.CRASH_LIMIT:
            log.critical("worker %d %s (%s): %d workers of slot %d ended within %.0f s; this is a crash "
                         "loop, stopping the server", pid, what, how, len(recent), w.slot, self.CRASH_WINDOW)
            self.failure = CrashLoopError(f"crash loop: workers kept exiting ({len(recent)} times within "
                                          f"{self.CRASH_WINDOW:.0f} s); see the errors above")
            self.stopping = True
            return
        delay = 0.0 if len(recent) == 1 else min(self.BACKOFF_MAX, self.BACKOFF * 2 ** (len(recent) - 2))
        if delay:
            log.error("worker %d %s (%s); starting a new one in %.1f s", pid, what, how, delay)
        else:
            log.warning("worker %d %s (%s); starting a new one", pid, what, how)
        self.respawn_at[w.slot] = now + delay

    def _respawn_due(self) -> float:
        """Start the workers whose back-off expired; seconds until the next one."""
        now = time.monotonic()
        wait = 1.0
        for slot, when in list(self.respawn_at.items()):
            if when <= now:
                del self.respawn_at[slot]
                self.spawn(slot, self.gen)
            else:
                wait = min(wait, when - now)
        return wait

    # -- reloading ---------------------------------------------------------------

    def _start_reload(self) -> None:
        self.reload_requested = False
        gen = self.next_gen = self.gen + 1
        log.info("SIGHUP received: starting %d new worker(s)", self.workers)
        for slot in range(self.workers):
            if self.next_gen != gen:         # a fork failed: the reload is over
                break
            self.spawn(slot, gen)

    def _reload_progress(self, gen: int) -> None:
        new = [pid for pid, w in self.children.items() if w.gen == gen]
        if len(new) < self.workers or not all(self.children[pid].ready for pid in new):
            return
        old = [pid for pid, w in self.children.items() if w.gen != gen and not w.retiring]
        self.gen, self.next_gen = gen, None
        self.respawn_at.clear()              # slots of the old generation: the new one fills them
        for pid in old:
            self.retire(pid)
        log.info("reload done: %d new worker(s) serving; %d old one(s) finishing their requests (up to %.3g s)",
                 len(new), len(old), self.shutdown_timeout)

    def _reload_failed(self, why: str) -> None:
        log.error("reload failed (the old workers keep serving): %s", why)
        for pid, w in list(self.children.items()):
            if w.gen == self.next_gen:
                self.errors.pop(pid, None)
                self.retire(pid)
        self.next_gen = None

    # -- the main loop -------------------------------------------------------------

    def run(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        self._status_r, self._status_w = os.pipe()
        _set_nonblocking(self._wake_r, self._wake_w, self._status_r)
        previous = {sig: signal.getsignal(sig) for sig in _SUPERVISOR_SIGNALS}
        old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        try:
            signal.signal(signal.SIGINT, self.stop)
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGHUP, self._on_sighup)
            signal.signal(signal.SIGCHLD, self._on_sigchld)
            for slot in range(self.workers):
                self.spawn(slot, self.gen)
            wait = 1.0
            while not self.stopping:
                self._wait(wait)
                self.reap()
                if self.stopping:
                    break
                if self.next_gen is not None:
                    self._reload_progress(self.next_gen)
                elif self.reload_requested and self.ever_ready:
                    self._start_reload()
                wait = min(self._respawn_due(), self._kill_overdue())
            self._drain()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
            for fd in (self._wake_r, self._wake_w, self._status_r, self._status_w):
                os.close(fd)
        if self.failure is not None:
            raise self.failure

    def _drain(self) -> None:
        self.respawn_at.clear()
        if self.failure is None:
            log.info("stopping %d worker(s): finishing in-flight requests (up to %.3g s)",
                     len(self.children), self.shutdown_timeout)
        self.sock.close()                    # the workers hold their own copies
        for pid in list(self.children):
            self.signal(pid, signal.SIGTERM)
        start = time.monotonic()
        while self.children:                 # SIGTERM: each waits its drain_delay first (a READY read
            # meanwhile may bring a longer one), then drains
            longest = max(w.drain_delay for w in self.children.values())
            left = start + longest + self.shutdown_timeout + CLOSE_GRACE + 2.0 - time.monotonic()
            if left <= 0:
                break
            self._wait(min(left, 1.0))
            self.reap()
        for pid in list(self.children):
            log.warning("worker %d did not stop in time; killing it", pid)
            self.signal(pid, signal.SIGKILL)
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self.children.pop(pid, None)
