import asyncio
import logging
import sys

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from catzilla.includes.clock cimport cz_monotonic
from catzilla.includes.python cimport PY_SSIZE_T_MAX
from catzilla.includes.errno cimport errno
from catzilla.includes.http cimport cz_header
from catzilla.includes.system cimport cz_wake_open, cz_wake_signal, cz_wake_drain, cz_wake_close
from catzilla._core.dispatch cimport Dispatcher
from catzilla.dependencies cimport RequestExit
from catzilla.dependencies import callable_name
from catzilla.request cimport Request
from catzilla._core.workers import WorkerPool
from catzilla.exceptions import HTTPException


# What the C field holds for a setting that is None.
cdef dict _IF_NONE = {
    "ws_ping_interval": lambda settings: 0.0,                           # no pings
    "max_streams": lambda settings: PY_SSIZE_T_MAX,                     # no limit
    "max_connections": lambda settings: settings.connection_limit(),    # from RLIMIT_NOFILE, read now
}
# The parser's struct (cz_limits) takes these settings, by the same names.
cdef tuple _PARSER = ("max_request_line", "max_head_bytes", "max_headers")


cdef class Limits:
    def __init__(self, settings):
        cdef dict parser = {}
        for name in settings.names():
            value = getattr(settings, name)
            if value is None and name in _IF_NONE:
                value = _IF_NONE[name](settings)
            if name in _PARSER:
                parser[name] = value
            elif hasattr(Limits, name):     # a public field: a setting the C core reads
                setattr(self, name, value)
        self.parser = parser                # every field of the struct, by name
        self.read_size = 64 * 1024


def _task_factory(loop):
    if sys.version_info >= (3, 12):
        def make(coro):
            return asyncio.Task(coro, loop=loop, eager_start=True)
        return make
    return loop.create_task


cdef class Services:
    def __cinit__(self):
        self.headers = NULL
        self.scratch = NULL
        self.wake_fd = -1

    def __init__(self, Limits limits, Dispatcher dispatcher, loop, pool, access_log=None):
        self.headers = <cz_header *>PyMem_Malloc(sizeof(cz_header) * limits.parser.max_headers)
        self.scratch = <char *>PyMem_Malloc(<size_t>limits.read_size)
        if self.headers == NULL or self.scratch == NULL:
            raise MemoryError()
        self.loop = loop
        self.dispatcher = dispatcher
        self.log = logging.getLogger("catzilla")
        self.access_log = access_log
        self.pool = pool
        self.task_factory = _task_factory(loop)
        self.tasks = set()
        self.on_threads = {}
        self.ready = []
        self.wake_fd = cz_wake_open()
        if self.wake_fd < 0:
            raise OSError(errno, "cannot create the wake-up fd")

    def __dealloc__(self):
        PyMem_Free(self.headers)
        PyMem_Free(self.scratch)
        if self.wake_fd >= 0:
            cz_wake_close(self.wake_fd)

    cdef int post(self, object item) except -1:
        # Runs on a worker thread holding the GIL: list.append and the flag
        # test are not interleaved with the loop thread.
        self.ready.append(item)
        if not self.wake_pending:
            self.wake_pending = True
            cz_wake_signal(self.wake_fd)
        return 0

    cdef int run_ready(self) except -1:
        cdef list batch
        cz_wake_drain(self.wake_fd)
        self.wake_pending = False
        batch = self.ready
        self.ready = []
        for item in batch:
            item.on_worker()
        return 0

    async def offload(self, endpoint, request, params):
        """endpoint(request, **params) on a worker thread (a blocking route):
        the loop goes on meanwhile; the result or exception comes back here."""
        cdef BlockingCall call = _submit(self, endpoint, request, params)
        try:
            return await call.future
        finally:
            call.dropped = True      # cancelled (client gone, shutdown): a call still queued is skipped

    async def offload_task(self, endpoint, request, params):
        """offload() for a background task's def function: the same, with the
        task noted as waiting on that call meanwhile (cut_tasks says so)."""
        cdef BlockingCall call = _submit(self, endpoint, request, params)
        task = asyncio.current_task(self.loop)
        self.on_threads[task] = call
        try:
            return await call.future
        finally:
            call.dropped = True
            self.on_threads.pop(task, None)

    cdef object spawn(self, object coro, str description=None):
        if description is None:
            description = f"background task {callable_name(coro)}"
        task = self.loop.create_task(coro, name=description)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    cdef int end_request(self, Request req, object exc, bint delivered, object handler=None) except -1:
        cdef RequestExit ex = req.exit
        if ex is None:
            return 0
        req.exit = None
        if ex.idle():
            return 0
        if handler is not None and not handler.done():
            self.spawn(_close_after(handler, ex.close(self.offload_task, exc, delivered)), ex.description())
        elif ex.sync_only():
            # the common case (a sync `yield` dependency): straight to a worker
            # thread, no task on the loop; the pool runs queued jobs before it stops
            if ex.exc is None:
                ex.exc = exc
            try:
                self.pool.submit(ex.close_sync)
            except RuntimeError:             # the pool is shut down: the server is stopping
                ex.close_sync()
        else:
            self.spawn(ex.close(self.offload_task, exc, delivered), ex.description())
        return 0

    cdef list cut_tasks(self, double waited):
        cdef BlockingCall call
        cdef list cut = []
        for task in list(self.tasks):
            if task.done():
                continue
            call = self.on_threads.get(task)
            if call is None:
                how = "cancelled"
            elif call.started:
                how = ("its def function is running on a worker thread, which cannot be "
                       "interrupted: it runs on, no longer awaited")
            else:
                how = "its def function, still queued for a worker thread, will not run"
            self.log.warning("shutdown: %s still running when the shutdown timeout (%.3g s) ran out; %s",
                             task.get_name(), waited, how)
            task.cancel()
            cut.append(task)
        return cut


cdef BlockingCall _submit(Services svc, endpoint, request, params):
    cdef BlockingCall call = BlockingCall(svc, endpoint, request, params)
    call.future = svc.loop.create_future()
    svc.pool.submit(call.run)
    return call


cdef class Burst:
    def __init__(self, str what):
        self.what = what

    cdef int refused(self, object log, Py_ssize_t limit) except -1:
        self.count += 1
        if not self.active:
            self.active = True
            self.since = cz_monotonic()
            log.warning("%s limit (%d) reached: answering 503 + Retry-After to new %ss",
                        self.what, limit, self.what)
        return 0

    cdef int tick(self, object log, double now) except -1:
        cdef bint quiet = self.count == self.seen      # nothing refused since the last tick
        if self.active and (quiet or now - self.since >= 60.0):
            log.warning("%d %s(s) refused with 503 in the last %.0f s%s", self.count, self.what,
                        now - self.since, "; the overload is over" if quiet else "")
            self.active = not quiet
            self.since = now
            self.count = 0
        self.seen = self.count
        return 0


cdef class ConnectionTable:
    def __init__(self, int pfd):
        self.pfd = pfd
        self.conns = {}
        self.refused_connections = Burst("connection")
        self.refused_slots = Burst("stream")

    cdef int claim_slot(self, Py_ssize_t limit, object log) except -1:
        if self.slots >= limit:
            self.refused_slots.refused(log, limit)
            raise HTTPException(503, "Service Unavailable: too many streams, retry later",
                                {"retry-after": "1"})
        self.slots += 1
        return 0

    cdef int release_slot(self) except -1:
        self.slots -= 1
        return 0


async def _close_after(handler, closing):
    """A cancelled handler's own cleanup (finally: blocks, which may await and
    still use its dependencies) finishes before the dependencies are torn down."""
    await asyncio.wait([handler])
    await closing


cdef class BlockingCall:
    """One blocking endpoint call: run() on a worker thread, then handed back
    through Services.post, the way streams hand their bytes back."""
    cdef Services svc
    cdef object endpoint, request, params
    cdef object future               # what Services.offload awaits (on the loop)
    cdef object result
    cdef object exc
    cdef bint dropped                # the awaiting task is gone: do not start the endpoint
    cdef bint started                # run() called the endpoint (read at shutdown, on the loop)

    def __init__(self, Services svc, endpoint, request, params):
        self.svc = svc
        self.endpoint = endpoint
        self.request = request
        self.params = params

    def run(self):
        """On a worker thread."""
        try:
            if not self.dropped:
                self.started = True
                if self.params is None:
                    self.result = self.endpoint(self.request)
                else:
                    self.result = self.endpoint(self.request, **self.params)
        except StopIteration as exc:     # a Future cannot carry it (nor could the task)
            self.exc = RuntimeError("the handler raised StopIteration")
            self.exc.__cause__ = exc
        except BaseException as exc:
            self.exc = exc
        finally:
            self.svc.post(self)

    def on_worker(self):
        """On the loop."""
        future = self.future
        self.endpoint = self.request = self.params = self.future = None
        if future.done():                # cancelled while the endpoint ran: nobody waits
            return
        if self.exc is not None:
            future.set_exception(self.exc)
        else:
            future.set_result(self.result)
        self.exc = self.result = None
