from catzilla._core.buffer cimport Buffer
from catzilla.includes.http cimport cz_chunked
from catzilla._core.context cimport Context
from catzilla.request cimport Request
from catzilla.response cimport Response, StreamingResponse
from catzilla._core.streams cimport Pump
from catzilla._core.transport cimport Transport

cdef class Connection(Transport):
    cdef Context ctx
    cdef Buffer rbuf                 # bytes read; start stays 0, Requests keep it alive
    cdef Py_ssize_t req_start        # first byte of the request being read in rbuf
    cdef int state
    # the head being read (offsets from req_start)
    cdef Py_ssize_t head_len
    cdef Request incoming            # made by new_request() once its head is parsed
    cdef Py_ssize_t target_off, target_len
    cdef bint http10
    cdef bint keep_alive
    cdef bint chunked_body
    cdef bint expect_continue
    cdef long long body_len          # Content-Length, or payload decoded so far when chunked
    cdef Py_ssize_t raw_pos          # chunked: next undecoded byte, from req_start
    cdef cz_chunked dec
    cdef bint is_head
    cdef double last_io              # monotonic time of the last byte read or the last response
    cdef double phase_start          # when the current head/body started arriving (0: idle)
    cdef object task                 # the async handler running for this connection
    cdef Pump pump                   # the stream being sent
    cdef Request current
    cdef object peer_cache
    cdef double started              # for the access log
    cdef int stream_status

    cdef int on_readable(self) except -1
    cdef int make_room(self, Py_ssize_t n) except -1
    cdef int release_consumed(self) except -1
    cdef int await_result(self, Request req, object coro) except -1
    cdef int task_finished(self, Request req, object task) except -1
    cdef int respond_result(self, Request req, object result) except -1
    cdef int respond_file(self, Response resp, object prepared) except -1
    cdef int respond_stream(self, StreamingResponse resp) except -1
    cdef int log_access(self, int status, Py_ssize_t nbytes) except -1
    cdef int process(self) except -1
    cdef int serve_buffered(self) except -1
    cdef int dispatch(self, Py_ssize_t total) except -1
    cdef int respond(self, Response resp) except -1
    cdef int response_done(self) except -1
    cdef int send_error(self, int status, str reason) except -1
    cdef int check_timeouts(self, double now) except -1
    cdef int close_when_idle(self) except -1
    cdef int release_idle_memory(self) except -1
