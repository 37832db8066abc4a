"""Running an app: bind, pick the event loop, serve in this process or in N
forked workers supervised by this one."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from typing import Any, Dict, List, Optional

log = logging.getLogger("catzilla")


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


def serve_here(app: Any, sockets: List[socket.socket], shutdown_timeout: float, loop_kind: str) -> None:
    loop = new_event_loop(loop_kind)
    try:
        loop.run_until_complete(app.serve(sockets, shutdown_timeout=shutdown_timeout))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def run(app: Any, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, backlog: int = 2048,
        shutdown_timeout: float = 10.0, loop: str = "auto", banner: bool = True,
        sock: Optional[socket.socket] = None) -> None:
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sock = sock or bind_socket(host, port, backlog)
    bound = sock.getsockname()
    if banner:
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        print(f"Catzilla serving on http://{shown}:{bound[1]} "
              f"({workers} worker{'s' if workers > 1 else ''}, pid {os.getpid()}); Ctrl-C to stop",
              flush=True)
    try:
        if workers == 1:
            serve_here(app, [sock], shutdown_timeout, loop)
        else:
            Supervisor(app, sock, workers, shutdown_timeout, loop).run()
    finally:
        sock.close()


class Supervisor:
    """Forks `workers` processes that accept on one inherited listening socket.
    A worker that dies is replaced; SIGTERM/SIGINT are forwarded and every
    worker drains for up to shutdown_timeout before it is killed."""

    def __init__(self, app: Any, sock: socket.socket, workers: int, shutdown_timeout: float,
                 loop_kind: str) -> None:
        self.app = app
        self.sock = sock
        self.workers = workers
        self.shutdown_timeout = shutdown_timeout
        self.loop_kind = loop_kind
        self.children: Dict[int, int] = {}   # pid -> slot
        self.stopping = False

    def spawn(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                serve_here(self.app, [self.sock], self.shutdown_timeout, self.loop_kind)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        self.children[pid] = slot

    def stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        for slot in range(self.workers):
            self.spawn(slot)
        while not self.stopping:
            self.reap(replace=True)
            time.sleep(0.05)
        for pid in list(self.children):
            self.signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + 5.0
        while self.children and time.monotonic() < deadline:
            self.reap(replace=False)
            time.sleep(0.05)
        for pid in list(self.children):
            self.signal(pid, signal.SIGKILL)
        while self.children:
            self.reap(replace=False)
            time.sleep(0.01)

    def signal(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

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
            if replace and not self.stopping:
                log.warning("worker %d exited (status %d); starting a new one", pid, status)
                self.spawn(slot)
