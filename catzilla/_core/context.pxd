# Server-wide state shared by every connection of one loop: limits, timeouts,
# the router and app, the scratch memory the parser uses, and the hand-off
# from stream worker threads back to the loop.
from catzilla.includes.http cimport cz_limits, cz_header

cdef class Context:
    cdef int pfd
    cdef cz_limits limits
    cdef cz_header *headers          # parser scratch, limits.max_headers long
    cdef char *scratch               # recv scratch, read_size long
    cdef Py_ssize_t read_size
    cdef long long max_body
    cdef public double header_timeout
    cdef public double body_timeout
    cdef public double keepalive_timeout
    cdef public double write_timeout
    cdef public Py_ssize_t high_water
    cdef public Py_ssize_t low_water
    cdef public object router
    cdef public object app           # has _handle(request, route, params), _error(request, exc), _not_found(request, allowed)
    cdef public bint slow            # app hooks/middleware present: every request goes through app._handle
    cdef public object loop
    cdef public object log
    cdef public object access_log    # logger or None
    cdef public bint debug
    cdef public dict conns           # fd -> Connection
    cdef public int stream_threads
    cdef public bint draining        # graceful shutdown: finish in-flight work, keep-alive off
    cdef object executor
    cdef list ready                  # stream pumps with news from a worker thread
    cdef int wake_fd
    cdef bint wake_pending
    cdef object task_factory         # builds a Task for a handler coroutine (eager on 3.12+)

    cdef object submit(self, object fn)      # run fn() on a stream worker thread
    cdef int post(self, object pump) except -1   # from a worker thread: pump.on_worker() soon on the loop
    cdef int run_ready(self) except -1       # on the loop: drain the wake fd, run posted pumps
