import asyncio
import logging
import sys
from concurrent.futures import ThreadPoolExecutor

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from catzilla.includes.errno cimport errno

from catzilla.includes.http cimport cz_header

from catzilla.includes.system cimport cz_wake_open, cz_wake_signal, cz_wake_drain, cz_wake_close

def _eager_task_factory(loop):
    if sys.version_info >= (3, 12):
        def make(coro):
            return asyncio.Task(coro, loop=loop, eager_start=True)
        return make
    return loop.create_task


cdef class Context:
    def __cinit__(self):
        self.headers = NULL
        self.scratch = NULL
        self.wake_fd = -1

    def __init__(self, *, router, app, loop, int max_request_line=8192, int max_head_bytes=65536,
                 int max_headers=100, long long max_body=1024 * 1024, double header_timeout=10.0,
                 double body_timeout=30.0, double keepalive_timeout=5.0, double write_timeout=60.0,
                 Py_ssize_t high_water=256 * 1024, Py_ssize_t low_water=64 * 1024,
                 int stream_threads=64, bint debug=False, access_log=None, bint slow=False):
        if max_request_line < 64 or max_head_bytes < 256 or max_headers < 1 or max_body < 0:
            raise ValueError("limits too small: max_request_line >= 64, max_head_bytes >= 256, "
                             "max_headers >= 1, max_body >= 0")
        if not 0 <= low_water <= high_water or high_water < 1024:
            raise ValueError("need 0 <= low_water <= high_water and high_water >= 1024")
        if stream_threads < 1:
            raise ValueError("stream_threads must be >= 1")
        self.limits.max_request_line = max_request_line
        self.limits.max_head_bytes = max_head_bytes
        self.limits.max_headers = max_headers
        self.headers = <cz_header *>PyMem_Malloc(sizeof(cz_header) * <size_t>max_headers)
        self.read_size = 64 * 1024
        self.scratch = <char *>PyMem_Malloc(<size_t>self.read_size)
        if self.headers == NULL or self.scratch == NULL:
            raise MemoryError()
        self.max_body = max_body
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.keepalive_timeout = keepalive_timeout
        self.write_timeout = write_timeout
        self.high_water = high_water
        self.low_water = low_water
        self.router = router
        self.app = app
        self.slow = slow
        self.loop = loop
        self.log = logging.getLogger("catzilla")
        self.access_log = access_log
        self.debug = debug
        self.conns = {}
        self.stream_threads = stream_threads
        self.ready = []
        self.wake_fd = cz_wake_open()
        if self.wake_fd < 0:
            raise OSError(errno, "cannot create the wake-up fd")
        self.task_factory = _eager_task_factory(loop)

    def __dealloc__(self):
        PyMem_Free(self.headers)
        PyMem_Free(self.scratch)
        if self.wake_fd >= 0:
            cz_wake_close(self.wake_fd)

    @property
    def wakeup_fd(self):
        return self.wake_fd

    cdef object submit(self, object fn):
        if self.executor is None:
            self.executor = ThreadPoolExecutor(self.stream_threads, thread_name_prefix="catzilla-stream")
        return self.executor.submit(fn)

    cdef int post(self, object pump) except -1:
        # Runs on a worker thread holding the GIL: list.append and the flag
        # test are not interleaved with the loop thread.
        self.ready.append(pump)
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
        for pump in batch:
            pump.on_worker()
        return 0

    def shutdown_executor(self):
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None
