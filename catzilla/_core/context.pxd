# What a connection runs in, split by what it is: the limits it enforces, the
# services of its loop (the app's dispatcher, the worker pool and its hand-off
# back to the loop, scratch memory), and the table of open connections.
from catzilla.includes.http cimport cz_limits, cz_header
from catzilla._core.dispatch cimport Dispatcher
from catzilla.request cimport Request


cdef class Limits:
    # The settings the C core reads (catzilla/settings.py says what each one
    # means), as C values for the per-byte paths. Each public field is the
    # Settings field of the same name, copied by Limits.__init__ in one loop;
    # a setting that is None arrives as its C meaning (_IF_NONE in context.pyx).
    cdef cz_limits parser            # max_request_line, max_head_bytes, max_headers: the parser's struct
    cdef public long long max_body
    cdef public double header_timeout
    cdef public double body_timeout
    cdef public double keepalive_timeout
    cdef public double write_timeout
    cdef public Py_ssize_t high_water
    cdef public Py_ssize_t low_water
    cdef public long long ws_max_message_size
    cdef public double ws_ping_interval          # 0: no pings
    cdef public double ws_ping_timeout
    cdef public double ws_close_timeout
    cdef public bint ws_per_message_deflate
    cdef public Py_ssize_t max_connections       # the limit computed when the server starts
    cdef public Py_ssize_t max_streams           # stream slots (ConnectionTable.claim_slot); PY_SSIZE_T_MAX: no limit
    cdef public object health_path               # str, or None
    # not settings
    cdef Py_ssize_t read_size        # bytes taken from a socket per recv()


cdef class Services:
    cdef readonly object loop
    cdef readonly Dispatcher dispatcher
    cdef readonly object log
    cdef readonly object access_log  # logger or None
    cdef readonly object pool        # WorkerPool: sync generators and blocking handlers run there
    # The Request whose handler or response the loop is running right now (set
    # around dispatching one), else None: read by the block watchdog's thread.
    cdef readonly object current
    cdef object task_factory         # builds a Task for a handler coroutine (eager on 3.12+)
    # Background tasks (a typed endpoint's BackgroundTasks, closing an unsent
    # body): awaited at shutdown within its deadline, then cut. Each is named
    # (Task.get_name()) by what it is, for the warning that cuts it.
    cdef set tasks
    cdef dict on_threads             # background task -> the BlockingCall of the def function it awaits
    # parse and recv scratch, shared by the loop's connections (one runs at a time)
    cdef cz_header *headers          # limits.parser.max_headers long
    cdef char *scratch               # read_size long
    # hand-off from worker threads to the loop
    cdef list ready                  # objects with news for the loop: their on_worker() runs there
    cdef int wake_fd                 # cz_wake (eventfd): the workers' hand-off wakes the loop
    cdef bint wake_pending

    cdef int post(self, object item) except -1   # from a worker thread: item.on_worker() soon on the loop
    cdef int run_ready(self) except -1           # on the loop: drain the wake fd, run what was posted
    # A tracked background task, named `description` ("background task
    # send_mail for POST /orders"; by default, after the coroutine).
    cdef object spawn(self, object coro, str description=*)
    # The request's response is over (sent whole: delivered; or abandoned, exc
    # saying why): its RequestExit (teardown, background tasks) runs, once;
    # after `handler` (its task, cancelled by a hang-up) has finished, if given.
    cdef int end_request(self, Request req, object exc, bint delivered, object handler=*) except -1
    # At the shutdown deadline: cancel every background task still running,
    # each logged at WARNING by its name; returns them (to await their cleanup).
    cdef list cut_tasks(self, double waited)


# Overload logging: one warning when refusals start, a summary when they stop
# (a whole tick without one) and every minute while they last, never one per refusal.
cdef class Burst:
    cdef str what                    # "connection" or "stream"
    cdef long long count             # refused since the last summary
    cdef long long seen              # count at the last tick
    cdef double since                # when the burst (0: none) or the last summary began
    cdef bint active
    cdef int refused(self, object log, Py_ssize_t limit) except -1
    cdef int tick(self, object log, double now) except -1


# A stream slot is what the max_streams setting bounds: one per streamed
# response (a Pump) or WebSocket running, the things that hold memory and a
# task for as long as the client likes. (A request body read as it arrives
# takes none.) The table is their one home: counting, refusing, logging.
cdef class ConnectionTable:
    cdef int pfd                     # the poller every connection is registered with
    cdef readonly dict conns         # fd -> Connection
    cdef public bint stopping        # a graceful stop began: the health path answers 503 (drain_delay, then the drain)
    cdef public bint draining        # graceful shutdown: finish in-flight work, keep-alive off
    cdef readonly Py_ssize_t slots   # stream slots taken
    cdef Burst refused_connections
    cdef Burst refused_slots
    # Take a slot, or raise HTTPException(503, Retry-After) over `limit`
    # (counted and logged as a burst); the caller renders it before anything
    # is written, through the app's exception handlers.
    cdef int claim_slot(self, Py_ssize_t limit, object log) except -1
    cdef int release_slot(self) except -1
