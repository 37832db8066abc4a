"""The loop: our own epoll/kqueue set, registered with the running asyncio
loop as a single reader. Each wake-up handles every ready socket in one batch
in C; async handlers and async generators run as ordinary asyncio tasks on
the same loop, so anything asyncio offers works inside them."""
import asyncio
import logging
import os

from catzilla.includes.errno cimport errno, EAGAIN, EWOULDBLOCK, EINTR, EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED
from posix.unistd cimport close
from catzilla._core.context cimport ConnectionTable, Limits, Services
from catzilla._core.connection cimport Connection
from catzilla._core.dispatch cimport Dispatcher
from catzilla._core.transport cimport update_date
from catzilla._core.workers import WorkerPool
from catzilla._core.watchdog import Watchdog
from catzilla.request cimport Request
from catzilla.dependencies cimport RequestExit
from catzilla.router cimport Route
from catzilla.settings import CLOSE_GRACE
from catzilla.includes.poller cimport (cz_event, CZ_READ, CZ_WRITE, CZ_HUP, cz_poller_create, cz_poller_add,
                               cz_poller_del, cz_poller_wait)

from catzilla.includes.clock cimport cz_monotonic

from catzilla.includes.system cimport cz_accept, cz_discard, cz_malloc_trim, cz_refuse

DEF BATCH = 256
DEF ACCEPT_BATCH = 128      # per listener per wake-up: fairness with open connections
# A connection refused at the connection limit is answered at once, then kept
# (discarding what its client sends) until the client closes, so closing never
# resets the answer away (include/cz_refuse.h), within these bounds:
DEF LINGER_MAX = 256        # refused connections lingering at once; beyond, closed after the answer
DEF LINGER_BYTES = 1048576  # what a refused client may send (a request with a body up to 1 MiB)
DEF LINGER_S = 2.0          # ... and for how long (checked once a second)

cdef bytes _BUSY_BODY = b"Service Unavailable: too many connections, retry later\n"
cdef bytes _BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nServer: catzilla\r\n"
                    b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                    b"Retry-After: 1\r\nConnection: close\r\n\r\n%s") % (len(_BUSY_BODY), _BUSY_BODY)


cdef class _Refused:
    cdef double deadline
    cdef long long left          # bytes the client may still send


def release_memory():
    """Give the heap pages freed since the last call back to the OS: the worker pool calls it
    after idle threads exited (glibc keeps a burst's pages in its arenas otherwise; elsewhere
    this does nothing). Returns whether anything was released."""
    cdef int released
    with nogil:
        released = cz_malloc_trim()
    return released == 1


cdef class Server:
    cdef Limits lim
    cdef Services svc
    cdef ConnectionTable table
    cdef readonly object settings
    cdef list sockets
    cdef set listen_fds
    cdef bint accepting
    cdef object timer
    cdef cz_event events[BATCH]
    cdef object closed_future
    cdef dict lingering            # fd -> _Refused
    cdef public int blocked_threads   # worker threads still blocked after shutdown
    cdef object watchdog              # Watchdog, or None (block_warning None, or the TestClient)

    def __init__(self, app, sockets, *, loop=None, bint watchdog=True):
        """Serve `app` (its settings, and the dispatch plans it publishes:
        app.plan_slot()) on bound,
        listening `sockets`; `loop`: the running asyncio loop; `watchdog`: warn
        when the loop is blocked (as block_warning says)."""
        cdef int pfd
        loop = loop or asyncio.get_event_loop()
        self.settings = app.settings
        self.lim = Limits(app.settings)
        self.svc = Services(self.lim, Dispatcher(app.plan_slot()), loop,
                            WorkerPool(app.settings.worker_threads, "catzilla-worker", on_shrink=release_memory),
                            logging.getLogger("catzilla.access") if app.settings.access_log else None)
        self.svc.dispatcher.offload = self.svc.offload      # a cycle, broken in close()
        if watchdog and app.settings.block_warning is not None:
            self.watchdog = Watchdog(loop, app.settings.block_warning, self.handling)
        pfd = cz_poller_create()
        if pfd < 0:
            raise OSError(errno, "cannot create the poller")
        self.table = ConnectionTable(pfd)
        self.blocked_threads = 0
        self.sockets = list(sockets)
        self.listen_fds = set()
        self.lingering = {}
        for s in self.sockets:
            s.setblocking(False)
            self.listen_fds.add(s.fileno())

    def __dealloc__(self):
        if self.table is not None and self.table.pfd >= 0:
            close(self.table.pfd)
            self.table.pfd = -1

    @property
    def connections(self):
        return len(self.table.conns)

    @property
    def stream_slots(self):
        return self.table.slots

    def start(self):
        if cz_poller_add(self.table.pfd, self.svc.wake_fd, CZ_READ) < 0:
            raise OSError(errno, "cannot watch the wake-up fd")
        self.resume_accepting()
        self.svc.loop.add_reader(self.table.pfd, self.on_poll)
        self.tick()
        if self.watchdog is not None:
            self.watchdog.start()

    def resume_accepting(self):
        if self.accepting or self.sockets is None:
            return
        for fd in self.listen_fds:
            if cz_poller_add(self.table.pfd, fd, CZ_READ) < 0:
                raise OSError(errno, "cannot watch the listening socket")
        self.accepting = True

    cdef void pause_accepting(self):
        if not self.accepting:
            return
        for fd in self.listen_fds:
            cz_poller_del(self.table.pfd, fd, CZ_READ)
        self.accepting = False

    def adopt(self, int fd):
        """Serve an already connected socket fd (the TestClient's socketpair end).
        The server owns and closes it."""
        os.set_blocking(fd, False)
        self.add_connection(fd)

    cdef Connection add_connection(self, int fd):
        cdef Connection conn = Connection(self.lim, self.svc, self.table, fd)
        if cz_poller_add(self.table.pfd, fd, CZ_READ) < 0:
            close(fd)
            return None
        self.table.conns[fd] = conn
        return conn

    cdef int accept_all(self, int lfd) except -1:
        cdef int fd, i
        for i in range(ACCEPT_BATCH):
            fd = cz_accept(lfd)
            if fd >= 0:
                if len(self.table.conns) < self.lim.max_connections:
                    self.add_connection(fd)
                else:
                    self.refuse(fd)
                continue
            if errno == EINTR or errno == ECONNABORTED:
                continue
            if errno == EAGAIN or errno == EWOULDBLOCK:
                return 0
            if errno == EMFILE or errno == ENFILE or errno == ENOBUFS or errno == ENOMEM:
                # Out of descriptors: leave new clients in the backlog and retry soon.
                self.svc.log.warning("accept: out of file descriptors (%d open connections); "
                                     "pausing accept for 100 ms", len(self.table.conns))
                self.pause_accepting()
                self.svc.loop.call_later(0.1, self.resume_accepting)
                return 0
            self.svc.log.error("accept failed: errno %d", errno)
            return 0
        return 0

    cdef int refuse(self, int fd) except -1:
        """Beyond the connection limit: 503 + Retry-After at once, nothing parsed,
        nothing allocated but the linger record."""
        cdef long long got
        cdef _Refused r
        self.table.refused_connections.refused(self.svc.log, self.lim.max_connections)
        got = cz_discard(fd, self.svc.scratch, <size_t>self.lim.read_size, LINGER_BYTES)
        # got < 0: the client closed its side (it may still read) or the socket failed
        if cz_refuse(fd, _BUSY, len(_BUSY)) < 0 or got < 0 or got >= LINGER_BYTES \
                or len(self.lingering) >= LINGER_MAX or cz_poller_add(self.table.pfd, fd, CZ_READ) < 0:
            close(fd)
            return 0
        r = _Refused.__new__(_Refused)
        r.deadline = cz_monotonic() + LINGER_S
        r.left = LINGER_BYTES - got
        self.lingering[fd] = r
        return 0

    cdef int linger(self, int fd, _Refused r) except -1:
        """A refused connection is readable: discard; close at the client's EOF or the byte bound."""
        cdef long long got = cz_discard(fd, self.svc.scratch, <size_t>self.lim.read_size, r.left)
        if got < 0 or got >= r.left:
            self.end_linger(fd)
        else:
            r.left -= got
        return 0

    cdef int end_linger(self, int fd) except -1:
        del self.lingering[fd]
        cz_poller_del(self.table.pfd, fd, CZ_READ)
        close(fd)
        return 0

    def on_poll(self):
        cdef Services svc = self.svc
        cdef dict conns = self.table.conns
        cdef int n, i, fd
        cdef unsigned ev
        cdef Connection conn
        n = cz_poller_wait(self.table.pfd, self.events, BATCH, 0)
        for i in range(n):
            fd = self.events[i].fd
            ev = self.events[i].events
            conn = conns.get(fd)
            if conn is not None:
                try:
                    if ev & CZ_WRITE:
                        conn.on_writable()
                    if ev & (CZ_READ | CZ_HUP) and not conn.closed:
                        conn.on_readable()
                except Exception:
                    svc.log.exception("connection failed; closing it")
                    conn.abort()
            elif fd == svc.wake_fd:
                try:
                    svc.run_ready()
                except Exception:
                    svc.log.exception("stream hand-off failed")
            elif fd in self.listen_fds:
                self.accept_all(fd)
            else:
                refused = self.lingering.get(fd)
                if refused is not None:
                    self.linger(fd, <_Refused>refused)

    def tick(self):
        """Once a second: refresh the Date header, enforce timeouts."""
        cdef Connection conn
        cdef double now = cz_monotonic()
        update_date()
        for conn in list(self.table.conns.values()):
            try:
                conn.check_timeouts(now)
            except Exception:
                self.svc.log.exception("timeout check failed; closing the connection")
                conn.abort()
        for fd, refused in list(self.lingering.items()):
            if now >= (<_Refused>refused).deadline:
                self.end_linger(fd)
        self.table.refused_connections.tick(self.svc.log, now)
        self.table.refused_slots.tick(self.svc.log, now)
        self.timer = self.svc.loop.call_later(1.0, self.tick)

    def handling(self):
        """On the watchdog thread while the loop is blocked: "METHOD /route" of
        the request the loop is busy with (dispatching and answering it, or
        running its handler's task), or None."""
        cdef Connection conn
        cdef Request req = self.svc.current
        cdef Route route
        if req is None:
            task = asyncio.current_task(self.svc.loop)
            if task is None:
                return None
            for conn in list(self.table.conns.values()):
                if conn.task is task or (conn.pump is not None and conn.pump.running_task() is task):
                    req = conn.req
                    break
            if req is None:
                return None
        route = self.svc.dispatcher.slot.plan.router.find(req.method, req.path).route
        return f"{req.method} {route.path if route is not None else req.path}"

    def run_task(self, task):
        """A BackgroundTask run now, tracked like a request's (app.add_task):
        graceful shutdown waits for it."""
        cdef RequestExit ex = RequestExit.__new__(RequestExit)
        ex.route = "app.add_task"
        ex.add_tasks(task)
        return self.svc.spawn(ex.close(self.svc.offload_task, None, True), ex.description())

    def stop_listening(self):
        self.pause_accepting()
        if self.sockets is not None:
            for s in self.sockets:
                s.close()
            self.sockets = None

    async def shutdown(self, double timeout=10.0, double delay=0.0):
        """Graceful stop: the health path answers 503 from now on; for `delay`
        seconds (drain_delay) nothing else changes, so a balancer's probes see
        the 503 and it stops sending while what it sent is still served; then
        no new connections, idle ones closed, in-flight requests and streams
        get `timeout` seconds to finish, then are closed (their generators'
        finally: blocks run). Background tasks (a typed endpoint's
        BackgroundTasks, queued or running) share that deadline: they run on
        while connections drain, and after the last one closed, until they
        are done or the deadline passes; then each still running is
        cancelled and logged at WARNING by its name (Services.cut_tasks).
        What was cancelled gets CLOSE_GRACE for its cleanup."""
        cdef ConnectionTable table = self.table
        cdef Services svc = self.svc
        cdef Connection conn
        cdef bint told = False
        table.stopping = True
        if delay > 0:
            if self.settings.health_path is not None:
                self.svc.log.info("drain_delay: serving %.3g s more while %s answers 503, then draining",
                                  delay, self.settings.health_path)
            else:
                self.svc.log.info("drain_delay: serving %.3g s more, then draining", delay)
            await asyncio.sleep(delay)
        self.stop_listening()
        table.draining = True
        for conn in list(table.conns.values()):
            conn.shutdown_idle()
        deadline = cz_monotonic() + timeout
        while (table.conns or svc.tasks) and cz_monotonic() < deadline:
            if not table.conns and not told:
                told = True
                svc.log.info("connections drained; waiting up to %.3g s more for %d background task(s)",
                             deadline - cz_monotonic(), len(svc.tasks))
            await asyncio.sleep(0.05)
        tasks = []
        for conn in list(table.conns.values()):
            tasks.extend(conn.cancel_work())
        tasks.extend(svc.cut_tasks(timeout))
        if tasks:                       # let cancelled handlers, streams and tasks run their cleanup
            await asyncio.wait(tasks, timeout=CLOSE_GRACE)
        self.close()
        # worker threads close their generators once their next() returns
        self.blocked_threads = await self.svc.loop.run_in_executor(
            None, self.svc.pool.shutdown, CLOSE_GRACE)
        if self.blocked_threads:
            self.svc.log.warning("%d worker thread(s) still blocked %.3g s after the shutdown deadline "
                                 "(in a stream generator, a blocking handler or a background task's def "
                                 "function); their finally: blocks "
                                 "may not run",
                                 self.blocked_threads, CLOSE_GRACE)

    def close(self):
        """Close every connection and the poller (no waiting)."""
        cdef Connection conn
        self.stop_listening()
        for conn in list(self.table.conns.values()):
            conn.abort()
        for fd in list(self.lingering):
            self.end_linger(fd)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.watchdog is not None:
            self.watchdog.stop()
        self.svc.dispatcher.offload = None
        if self.table.pfd >= 0:
            try:
                self.svc.loop.remove_reader(self.table.pfd)
            except Exception:
                pass
            close(self.table.pfd)
            self.table.pfd = -1
