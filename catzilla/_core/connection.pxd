from catzilla._core.bodyreader cimport BodyReader
from catzilla._core.buffer cimport Buffer
from catzilla._core.context cimport ConnectionTable, Limits, Services
from catzilla._core.streams cimport Pump
from catzilla._core.transport cimport Transport
from catzilla._core.websocket cimport Bridge, WSProtocol
from catzilla.includes.http cimport cz_chunked, cz_request
from catzilla.request cimport Request

cdef class WebSocketBridge


cdef class Connection(Transport):
    cdef Limits lim
    cdef Services svc
    cdef ConnectionTable table
    cdef Buffer rbuf                 # bytes read; Requests pin the buffer they were parsed from
    cdef Py_ssize_t req_start        # first byte of the request being read in rbuf
    cdef int state
    cdef Request req                 # the request being read or answered
    cdef Py_ssize_t head_len
    # a body read whole before dispatch
    cdef bint chunked_body
    cdef long long body_len          # Content-Length, or payload decoded so far when chunked
    cdef Py_ssize_t raw_pos          # chunked: next undecoded byte, from req_start
    cdef cz_chunked dec
    cdef double last_io              # monotonic time of the last byte read or the last response
    cdef double phase_start          # when the current head/body started arriving (0: idle)
    cdef bint reused                 # a response was completed: idle now means between requests
    cdef object task                 # the handler coroutine running for this connection
    cdef Pump pump                   # the stream being sent
    cdef object peer_cache
    cdef double started              # for the access log
    cdef bint target_cut             # a 414 answered: the access log marks the target it shows as cut
    cdef int stream_status
    cdef bint upgrade                # the request carries Connection: upgrade
    # A WebSocket (start_websocket): its handler runs, the handshake is pending
    # until it accepts (then ST_UPGRADED: the bridge has the socket's reads).
    cdef WebSocketBridge bridge
    cdef bint holds_slot             # the stream being sent holds a stream slot (ConnectionTable.claim_slot)
    # The incoming body an async endpoint reads as it arrives (bodyreader.pxd):
    # while it is set, the bytes read go to it; it gives the buffer back (with
    # whatever follows the body) when the response is done.
    cdef BodyReader body

    cdef int on_readable(self) except -1
    cdef int serve_buffered(self) except -1
    cdef int make_room(self, Py_ssize_t n) except -1
    cdef int release_consumed(self) except -1
    # reading: one step each, True to go on with the next
    cdef int process(self) except -1
    cdef bint output_blocked(self) except -1
    cdef bint read_head(self) except -1
    cdef bint read_body(self) except -1
    cdef bint streams_to_handler(self) except -1
    cdef bint hand_over_body(self, long long content_length, bint expect_continue) except -1
    # answering
    cdef int dispatch(self, Py_ssize_t total) except -1
    cdef int respond(self, object result) except -1
    cdef int await_result(self, object awaitable) except -1
    cdef int task_finished(self, object task) except -1
    cdef int response_done(self) except -1
    cdef int send_error(self, int status, str reason, Request req) except -1
    cdef int head_error(self, const cz_request *r, int status, str reason) except -1
    cdef int log_access(self, int status, long long nbytes) except -1
    cdef int claim_slot(self) except -1        # a stream slot for the pump, or HTTPException(503) over max_streams
    cdef int release_slot(self) except -1      # give the slot back (idempotent)
    cdef object health(self, str method)
    # lifecycle
    cdef int check_timeouts(self, double now) except -1
    cdef int close_when_idle(self) except -1
    cdef int release_idle_memory(self) except -1
    # for the server (graceful stop): close now if idle, else after the current
    # response; past the deadline, cancel the work and close (returns the tasks cancelled)
    cdef int shutdown_idle(self) except -1
    cdef list cancel_work(self)


# The WebSocket bridge: what an upgrade adds to a connection, kept out of its
# HTTP/1 path. It owns the WSProtocol from start_websocket on, and the stream
# slot the WebSocket holds; the protocol calls it as its Bridge (websocket.pxd)
# to switch (the 101 is queued: the bytes read behind the handshake go to the
# protocol, the connection becomes ST_UPGRADED), to refuse (an HTTP answer
# instead of the 101) and to close the TCP connection after the close
# handshake. Once upgraded, the connection hands it the socket's reads and its
# timer; the server's shutdown and loss reach it through the connection.
cdef class WebSocketBridge(Bridge):
    cdef Connection conn
    cdef WSProtocol proto
    cdef bint holds_slot
    cdef int start(self) except -1              # take a stream slot (503 over max_streams), run the handler
    cdef int release_slot(self) except -1
    cdef int on_readable(self) except -1        # upgraded: frames from the socket
    cdef int check_timeouts(self, double now) except -1
    cdef void connection_lost(self)             # from Connection.on_closed
