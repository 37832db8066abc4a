# The WebSocket protocol on an upgraded connection (RFC 6455): frames parsed,
# unmasked and UTF-8-checked in C as bytes arrive, control frames answered
# here, whole messages queued for the handler, sends bounded by the
# transport's watermarks, pings and the close handshake on the server's timer.
from libc.stdint cimport uint32_t, uint64_t
from catzilla._core.buffer cimport Buffer
from catzilla._core.context cimport Limits, Services
from catzilla._core.pmd cimport PerMessageDeflate
from catzilla._core.transport cimport Transport
from catzilla.includes.ws cimport cz_ws_frame
from catzilla.request cimport Request
from catzilla.response cimport Response
from catzilla.router cimport Route

cdef enum:
    WS_CONNECTING = 0    # handshake read, the handler has not accepted yet
    WS_OPEN = 1
    WS_CLOSING = 2       # a close frame was sent or received
    WS_CLOSED = 3        # the TCP connection is gone

# The connection side of a WebSocket, what the protocol calls on it: declared
# here, below the connection, and implemented by the connection's
# WebSocketBridge (connection.pxd), so the protocol never imports upwards.
cdef class Bridge:
    # The handler accepted: the 101 head is queued; from now on the bytes read
    # are frames, starting with any the client sent behind its handshake.
    cdef int upgraded(self) except -1
    # The handler answered the handshake with HTTP instead (a response, or an
    # awaitable of one): returned, closed or raised before accept().
    cdef int refused(self, object response) except -1
    # The close handshake is over (or the connection failed): close the TCP
    # connection once the output is written.
    cdef int close_tcp(self) except -1


cdef class WSProtocol:
    cdef Transport t                 # the connection's output side: frames are written there
    cdef Bridge bridge               # the connection side (None once refused or lost)
    cdef Services svc
    cdef Limits lim
    cdef Request req                 # the handshake request
    cdef list extra_headers          # headers the middleware put on the upgrade, for the 101 head
    cdef readonly int state          # WS_CONNECTING, WS_OPEN, WS_CLOSING, WS_CLOSED
    cdef bint close_sent
    cdef bint close_rcvd
    cdef bint input_done             # nothing more is parsed (close received, protocol error)
    cdef bint end_pending            # our close waits for the handler to take the queued messages
    cdef double end_since
    cdef int reply_code              # the close frame to send once it may (0: empty)
    cdef bytes reply_reason
    cdef readonly int close_code     # what receive() raises with once the queue is empty
    cdef readonly str close_reason
    # frame parsing
    cdef unsigned char hbuf[14]      # a header split across reads
    cdef Py_ssize_t hn
    cdef cz_ws_frame f
    cdef bint in_frame               # reading the payload of self.f
    cdef uint64_t remaining          # payload bytes of the frame still to come
    cdef uint64_t frame_off          # payload bytes of the frame seen (the mask position)
    cdef int msg_op                  # opcode of the open data message, 0 when none
    cdef bint msg_compressed         # RSV1: permessage-deflate
    cdef long long msg_len           # payload bytes of the open message so far
    cdef uint32_t utf8               # validator state of the open text message
    cdef Buffer msg                  # the open message's payload
    cdef object direct               # a single-frame message taken straight from the read slice
    cdef unsigned char ctl[125]      # the control frame being read
    cdef Py_ssize_t ctl_n
    cdef unsigned rsv_allowed
    cdef PerMessageDeflate pmd       # permessage-deflate, None when not negotiated
    # delivery
    cdef object queue                # deque of str / bytes
    cdef object waiter               # Future a receive() waits on
    cdef object drain_fut            # Future senders wait on above the high-water mark
    # timers
    cdef double last_ping            # when the last automatic ping went out
    cdef double ping_due             # a ping waits for its pong since then (0: none)
    cdef double close_sent_at
    cdef readonly object task        # the handler's task
    cdef public str key              # Sec-WebSocket-Key
    cdef public object offered       # Sec-WebSocket-Extensions, or None
    cdef public list subprotocols    # Sec-WebSocket-Protocol offers, in order
    # the handler: the route's endpoint, called with `socket` (the public
    # WebSocket, made above _core) and the path parameters when it starts
    cdef Route route
    cdef public object socket
    cdef dict params

    cdef int data_received(self, unsigned char *p, Py_ssize_t n) except -1
    cdef int begin_frame(self) except -1
    cdef int payload(self, unsigned char *p, Py_ssize_t n) except -1
    cdef int end_frame(self) except -1
    cdef int control(self) except -1
    cdef void wake(self)
    cdef int deliver(self, object message) except -1
    cdef int fail(self, int code, str reason) except -1
    cdef int send_frame(self, int opcode, const unsigned char *p, Py_ssize_t n, unsigned rsv) except -1
    cdef int send_close(self, int code, bytes reason) except -1
    cdef int end_input(self, int code, bytes reason) except -1
    cdef int finish_close(self) except -1
    cdef int check_timeouts(self, double now) except -1
    cdef void connection_lost(self)
    cdef int shutdown(self) except -1        # graceful server stop: close with 1001
    cdef int write_message(self, object data) except -1
    cdef int send_data(self, int opcode, const unsigned char *p, Py_ssize_t n) except -1
    cdef int check_sendable(self) except -1
    cdef object take(self)                   # the next queued message, or None
    # The connection's bridge starts the handler (Transport.start_websocket):
    # from now on the protocol writes to `t` and reports to `bridge`.
    cdef int attach(self, Transport t, Bridge bridge, Services svc, Limits lim) except -1
    cdef int start(self) except -1           # run the handler as a task
    cdef int refuse(self, object response) except -1   # answer the handshake with HTTP (before accept)
    cdef int close_after_handler(self, int code) except -1
    # what the public WebSocket (catzilla/websocket.pyx) calls
    cdef int accept(self, object subprotocol, object headers) except -1   # the 101, then frames
    cdef object send(self, object data)      # queue a message; a future to await above high water, else None
    cdef int close(self, int code, object reason) except -1   # before accept: refuse with 403
    cdef object wait(self)                   # a future resolved when a message is queued or the connection ends
    cdef bint finished(self)                 # nothing more will arrive


# What a WebSocket route's endpoint step gives the dispatcher: a response
# (status 101) that the middleware's on_response sees like any other -- the
# headers it adds go on the 101 head -- and that sends itself by starting the
# handler (Transport.start_websocket). Replaced by a layer, it is never sent
# and its handler never runs.
cdef class Upgrade(Response):
    cdef WSProtocol proto


# The refusal for a malformed handshake (method, version, key, a body), or
# None when `req` is a valid WebSocket handshake.
cdef Response handshake_refusal(Request req)
# A protocol for the handshake `req` to `route` (the caller sets `socket`),
# and the Upgrade that starts it.
cdef WSProtocol new_protocol(Request req, Route route, dict params)
cdef Upgrade new_upgrade(WSProtocol proto)
