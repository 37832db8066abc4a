"""The loop: our own epoll/kqueue set, registered with the running asyncio
loop as a single reader. Each wake-up handles every ready socket in one batch
in C; async handlers and async generators run as ordinary asyncio tasks on
the same loop, so anything asyncio offers works inside them."""
import asyncio
import os

from catzilla.includes.errno cimport errno, EAGAIN, EWOULDBLOCK, EINTR, EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED
from posix.unistd cimport close
from catzilla._core.context cimport Context
from catzilla._core.connection cimport Connection
from catzilla.includes.poller cimport (cz_event, CZ_READ, CZ_WRITE, CZ_HUP, cz_poller_create, cz_poller_add,
                               cz_poller_del, cz_poller_wait)
from catzilla.response import update_date

from catzilla.includes.clock cimport cz_monotonic

from catzilla.includes.system cimport cz_accept

DEF BATCH = 256
DEF ACCEPT_BATCH = 128      # per listener per wake-up: fairness with open connections


cdef class Server:
    cdef Context ctx
    cdef list sockets
    cdef set listen_fds
    cdef bint accepting
    cdef object timer
    cdef cz_event events[BATCH]
    cdef object closed_future

    def __init__(self, app, router, sockets, *, loop=None, **config):
        loop = loop or asyncio.get_event_loop()
        self.ctx = Context(router=router, app=app, loop=loop, **config)
        self.ctx.pfd = cz_poller_create()
        if self.ctx.pfd < 0:
            raise OSError(errno, "cannot create the poller")
        self.sockets = list(sockets)
        self.listen_fds = set()
        for s in self.sockets:
            s.setblocking(False)
            self.listen_fds.add(s.fileno())

    def __dealloc__(self):
        if self.ctx is not None and self.ctx.pfd >= 0:
            close(self.ctx.pfd)
            self.ctx.pfd = -1

    @property
    def context(self):
        return self.ctx

    @property
    def connections(self):
        return len(self.ctx.conns)

    def start(self):
        cdef Context ctx = self.ctx
        if cz_poller_add(ctx.pfd, ctx.wake_fd, CZ_READ) < 0:
            raise OSError(errno, "cannot watch the wake-up fd")
        self.resume_accepting()
        ctx.loop.add_reader(ctx.pfd, self.on_poll)
        self.tick()

    def resume_accepting(self):
        if self.accepting or self.sockets is None:
            return
        for fd in self.listen_fds:
            if cz_poller_add(self.ctx.pfd, fd, CZ_READ) < 0:
                raise OSError(errno, "cannot watch the listening socket")
        self.accepting = True

    cdef void pause_accepting(self):
        if not self.accepting:
            return
        for fd in self.listen_fds:
            cz_poller_del(self.ctx.pfd, fd, CZ_READ)
        self.accepting = False

    def adopt(self, int fd):
        """Serve an already connected socket fd (the TestClient's socketpair end).
        The server owns and closes it."""
        os.set_blocking(fd, False)
        self.add_connection(fd)

    cdef Connection add_connection(self, int fd):
        cdef Connection conn = Connection(self.ctx, fd)
        if cz_poller_add(self.ctx.pfd, fd, CZ_READ) < 0:
            close(fd)
            return None
        self.ctx.conns[fd] = conn
        return conn

    cdef int accept_all(self, int lfd) except -1:
        cdef int fd, i
        for i in range(ACCEPT_BATCH):
            fd = cz_accept(lfd)
            if fd >= 0:
                self.add_connection(fd)
                continue
            if errno == EINTR or errno == ECONNABORTED:
                continue
            if errno == EAGAIN or errno == EWOULDBLOCK:
                return 0
            if errno == EMFILE or errno == ENFILE or errno == ENOBUFS or errno == ENOMEM:
                # Out of descriptors: leave new clients in the backlog and retry soon.
                self.ctx.log.warning("accept: out of file descriptors (%d open connections); "
                                     "pausing accept for 100 ms", len(self.ctx.conns))
                self.pause_accepting()
                self.ctx.loop.call_later(0.1, self.resume_accepting)
                return 0
            self.ctx.log.error("accept failed: errno %d", errno)
            return 0
        return 0

    def on_poll(self):
        cdef Context ctx = self.ctx
        cdef int n, i, fd
        cdef unsigned ev
        cdef Connection conn
        n = cz_poller_wait(ctx.pfd, self.events, BATCH, 0)
        for i in range(n):
            fd = self.events[i].fd
            ev = self.events[i].events
            conn = ctx.conns.get(fd)
            if conn is not None:
                try:
                    if ev & CZ_WRITE:
                        conn.on_writable()
                    if ev & (CZ_READ | CZ_HUP) and not conn.closed:
                        conn.on_readable()
                except Exception:
                    ctx.log.exception("connection failed; closing it")
                    conn.abort()
            elif fd == ctx.wake_fd:
                try:
                    ctx.run_ready()
                except Exception:
                    ctx.log.exception("stream hand-off failed")
            elif fd in self.listen_fds:
                self.accept_all(fd)

    def tick(self):
        """Once a second: refresh the Date header, enforce timeouts."""
        cdef Connection conn
        cdef double now = cz_monotonic()
        update_date()
        for conn in list(self.ctx.conns.values()):
            try:
                conn.check_timeouts(now)
            except Exception:
                self.ctx.log.exception("timeout check failed; closing the connection")
                conn.abort()
        self.timer = self.ctx.loop.call_later(1.0, self.tick)

    def stop_listening(self):
        self.pause_accepting()
        if self.sockets is not None:
            for s in self.sockets:
                s.close()
            self.sockets = None

    async def shutdown(self, double timeout=10.0):
        """Graceful stop: no new connections, idle ones closed, in-flight
        requests and streams get `timeout` seconds to finish, then are closed
        (their generators' finally: blocks run)."""
        cdef Context ctx = self.ctx
        cdef Connection conn
        self.stop_listening()
        ctx.draining = True
        for conn in list(ctx.conns.values()):
            conn.shutdown_idle()
        deadline = cz_monotonic() + timeout
        while ctx.conns and cz_monotonic() < deadline:
            await asyncio.sleep(0.05)
        tasks = []
        for conn in list(ctx.conns.values()):
            tasks.extend(conn.cancel_work())
        if tasks:                       # let cancelled handlers and streams run their cleanup
            await asyncio.wait(tasks, timeout=5.0)
        self.close()

    def close(self):
        cdef Context ctx = self.ctx
        cdef Connection conn
        self.stop_listening()
        for conn in list(ctx.conns.values()):
            conn.abort()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if ctx.pfd >= 0:
            try:
                ctx.loop.remove_reader(ctx.pfd)
            except Exception:
                pass
            close(ctx.pfd)
            ctx.pfd = -1
        ctx.shutdown_executor()
