"""The WebSocket protocol (RFC 6455) on an upgraded connection.

A handshake is dispatched like any request (catzilla/_core/dispatch.pyx): the
dispatcher resolves the WebSocket route, the middleware and the hooks see the
request, and the endpoint step (catzilla.websocket.open_handshake) checks the
handshake here (handshake_refusal), makes the protocol and the handler's
coroutine and answers with an `Upgrade`. Sending the Upgrade starts the
handler (Transport.start_websocket: the connection's WebSocketBridge, which
the protocol calls through `Bridge`). The connection stays HTTP until the
handler calls accept(): the 101 head is written and from then on the bridge
hands every byte read to WSProtocol.data_received. Frames are parsed, unmasked and
UTF-8-checked in C (include/cz_ws.c) as the bytes arrive, so a bad byte fails
the connection at once; pings and close frames are answered here without
waking the handler; whole messages (at most ws_max_message_size) are queued
for receive(), and reading stops while the handler is behind. Sends append to
the transport's output and wait for it to drain below the low-water mark when
it is above the high-water mark. Pings, pong and close-handshake timeouts run
from the server's once-a-second tick."""
import asyncio
import binascii
import hashlib
import logging
import struct
from base64 import b64encode, b64decode
from collections import deque

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcpy
from catzilla._core.buffer cimport Buffer
from catzilla._core.context cimport Limits, Services
from catzilla._core.pmd cimport PerMessageDeflate
from catzilla._core.pmd import negotiate as _pmd_negotiate
from catzilla._core.httpsyntax cimport split_list
from catzilla._core.transport cimport Transport
from catzilla.includes.clock cimport cz_monotonic
from catzilla.includes.python cimport PyUnicode_AsUTF8AndSize
from catzilla.includes.ws cimport (cz_ws_frame, cz_ws_parse_header, cz_ws_unmask, cz_utf8_feed,
                                   cz_utf8_complete, cz_utf8_valid, cz_ws_check_close,
                                   cz_ws_close_code_valid, cz_ws_write_header, CZ_WS_ERROR,
                                   CZ_WS_INCOMPLETE, CZ_WS_OP_CONT, CZ_WS_OP_TEXT, CZ_WS_OP_BINARY,
                                   CZ_WS_OP_CLOSE, CZ_WS_OP_PING, CZ_WS_OP_PONG, CZ_WS_RSV1,
                                   CZ_WS_MAX_HEADER, CZ_UTF8_ACCEPT)
from catzilla.request cimport Request
from catzilla.response cimport Response
from catzilla.router cimport Route, call_endpoint
from catzilla.datastructures cimport validated_pairs
from catzilla.response import PlainTextResponse
from catzilla.exceptions import WebSocketDisconnect

DEF QUEUE_MAX = 32       # undelivered messages before reading pauses

cdef bytes _GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
cdef object _log = logging.getLogger("catzilla")
# set by the handshake itself: a layer's header of these names is not copied to the 101
cdef frozenset _HANDSHAKE_HEADERS = frozenset(["upgrade", "connection", "sec-websocket-accept",
                                               "sec-websocket-protocol", "sec-websocket-extensions",
                                               "content-length", "transfer-encoding", "content-type"])


cdef Response _forbidden():
    return PlainTextResponse("Forbidden", 403)


cdef Response handshake_refusal(Request req):
    headers = req.headers
    if req.method != "GET":
        return PlainTextResponse("a WebSocket handshake is a GET request", 405, {"allow": "GET"})
    if req.http_version != "1.1":
        return PlainTextResponse("a WebSocket handshake needs HTTP/1.1", 400)
    if req.body_len > 0 or "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        return PlainTextResponse("a WebSocket handshake has no body", 400)
    if headers.getlist("sec-websocket-version") != ["13"]:
        return PlainTextResponse("unsupported WebSocket version", 426, {"sec-websocket-version": "13"})
    keys = headers.getlist("sec-websocket-key")
    try:
        if len(keys) != 1 or len(b64decode(keys[0].encode("ascii"), validate=True)) != 16:
            raise ValueError
    except (ValueError, binascii.Error, UnicodeError):
        return PlainTextResponse("invalid Sec-WebSocket-Key", 400)
    return None


cdef WSProtocol new_protocol(Request req, Route route, dict params):
    cdef WSProtocol proto = WSProtocol.__new__(WSProtocol)
    headers = req.headers
    proto.req = req
    proto.route = route
    proto.params = params
    proto.key = headers.get("sec-websocket-key")
    proto.offered = headers.get("sec-websocket-extensions")
    proto.subprotocols = split_list(headers.getlist("sec-websocket-protocol"))
    return proto


cdef class Upgrade(Response):
    """The answer of a WebSocket route: sent, it starts the handler."""

    def __init__(self):
        raise TypeError("an Upgrade is made by the WebSocket endpoint step")

    cdef int send(self, Transport t, Request req) except -1:
        self.proto.extra_headers = self._headers
        return t.start_websocket(self.proto)

    def __repr__(self):
        return f"<Upgrade {self.proto.req.path!r}>"


cdef Upgrade new_upgrade(WSProtocol proto):
    cdef Upgrade up = Upgrade.__new__(Upgrade)
    up.status_code = 101
    up.body = b""
    up._headers = []
    up.proto = proto
    return up


cdef class Bridge:
    """The connection side of a WebSocket (websocket.pxd); the connection implements it."""

    cdef int upgraded(self) except -1:
        raise NotImplementedError

    cdef int refused(self, object response) except -1:
        raise NotImplementedError

    cdef int close_tcp(self) except -1:
        raise NotImplementedError


cdef class WSProtocol:
    def __cinit__(self):
        self.state = WS_CONNECTING
        self.close_code = 1006
        self.close_reason = ""
        self.msg = Buffer()
        self.queue = deque()
        self.pmd = None
        self.rsv_allowed = 0
        self.utf8 = CZ_UTF8_ACCEPT

    cdef int attach(self, Transport t, Bridge bridge, Services svc, Limits lim) except -1:
        self.t = t
        self.bridge = bridge
        self.svc = svc
        self.lim = lim
        return 0

    cdef int start(self) except -1:
        """Run the handler (as a task on the loop)."""
        self.task = self.svc.task_factory(self.run())
        return 0

    async def run(self):
        try:
            # made here, not by the dispatcher: an Upgrade that is never sent leaves no coroutine
            if self.route.plan is not None and self.route.plan.dependencies:
                # its dependencies are solved here and torn down when it returns
                await self.route.plan.ws_run(self.socket, self.req, self.params, self.svc.offload)
            else:
                await call_endpoint(self.route, self.socket, self.params)
        except WebSocketDisconnect:
            pass                                     # the peer left; nothing to answer
        except Exception as exc:
            if self.state == WS_CONNECTING:
                # the app's exception handlers answer the handshake (403 for an unhandled error)
                self.refuse(self.svc.dispatcher.handshake_error(self.req, exc))
            else:
                _log.error("WebSocket handler for %s raised after accept", self.req.path, exc_info=exc)
                self.close_after_handler(1011)
            return
        if self.state == WS_CONNECTING:
            self.refuse(_forbidden())                # returned without accepting
        else:
            self.close_after_handler(1000)

    cdef int refuse(self, object response) except -1:
        """Answer the handshake with HTTP (a response, or an awaitable of one) instead of switching."""
        if self.state != WS_CONNECTING:
            return 0
        self.state = WS_CLOSED
        self.input_done = True
        bridge = self.bridge
        if bridge is not None:
            self.bridge = None
            bridge.refused(response)
        return 0

    cdef int close_after_handler(self, int code) except -1:
        if not self.close_sent and not self.input_done and not self.t.closed:
            self.send_close(code, b"")
            self.t.flush()
        return 0

    # -- the handshake ------------------------------------------------------

    cdef int accept(self, object subprotocol, object headers) except -1:
        cdef Buffer out
        if self.state != WS_CONNECTING:
            raise RuntimeError("accept() was already called" if self.state != WS_CLOSED
                               else "the WebSocket is closed")
        if self.t.closed or self.bridge is None:
            raise WebSocketDisconnect(1006)
        pairs = validated_pairs(headers) if headers is not None else []
        accept = b64encode(hashlib.sha1(self.key.encode("ascii") + _GUID).digest()).decode("ascii")
        lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Accept: {accept}"]
        if subprotocol is not None:
            if not isinstance(subprotocol, str):
                raise TypeError("subprotocol must be a str")
            if subprotocol not in self.subprotocols:
                raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
            lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
        if self.lim.ws_per_message_deflate and self.offered is not None:
            agreed = _pmd_negotiate(self.offered)
            if agreed is not None:
                self.pmd = PerMessageDeflate(agreed[1], <Py_ssize_t>self.lim.ws_max_message_size)
                self.rsv_allowed = CZ_WS_RSV1
                lines.append(f"Sec-WebSocket-Extensions: {agreed[0]}")
        for name, value in pairs:
            if name in _HANDSHAKE_HEADERS:
                raise ValueError(f"header {name!r} is set by the WebSocket handshake")
            lines.append(f"{name}: {value}")
        if self.extra_headers is not None:
            for name, value in self.extra_headers:          # what the middleware added to the Upgrade
                if name not in _HANDSHAKE_HEADERS:
                    lines.append(f"{name}: {value}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        out = self.t.out
        out.append(PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head))
        self.state = WS_OPEN
        self.last_ping = cz_monotonic()
        self.bridge.upgraded()                      # frames read behind the handshake go in now
        self.t.flush()
        return 0

    # -- reading (the bridge hands over the bytes read) ----------------------

    cdef int data_received(self, unsigned char *p, Py_ssize_t n) except -1:
        """Frames from p[0, n) (writable: payloads are unmasked in place)."""
        cdef Py_ssize_t k
        cdef int rc
        cdef long long room
        while not self.input_done:
            if not self.in_frame:
                if n == 0:
                    return 0
                k = CZ_WS_MAX_HEADER - self.hn
                if k > n:
                    k = n
                memcpy(self.hbuf + self.hn, p, <size_t>k)
                room = self.lim.ws_max_message_size - self.msg_len
                rc = cz_ws_parse_header(self.hbuf, <size_t>(self.hn + k), self.rsv_allowed,
                                        self.msg_op != 0, 1, <uint64_t>room if room > 0 else 0, &self.f)
                if rc == CZ_WS_INCOMPLETE:
                    self.hn += k                     # k == n: a header is at most 14 bytes
                    return 0
                if rc == CZ_WS_ERROR:
                    return self.fail(self.f.error_code, self.f.error_reason.decode("ascii"))
                p += rc - self.hn
                n -= rc - self.hn
                self.hn = 0
                self.begin_frame()
                continue
            if self.remaining > 0:
                if n == 0:
                    return 0
                k = <Py_ssize_t>self.remaining if self.remaining < <uint64_t>n else n
                if self.f.masked:
                    cz_ws_unmask(p, <size_t>k, self.f.mask, self.frame_off)
                self.payload(p, k)
                if self.input_done:
                    return 0
                p += k
                n -= k
                self.remaining -= <uint64_t>k
                self.frame_off += <uint64_t>k
            if self.remaining == 0:
                self.in_frame = False
                self.end_frame()
        return 0

    cdef int begin_frame(self) except -1:
        cdef int op = self.f.opcode
        self.in_frame = True
        self.remaining = self.f.length
        self.frame_off = 0
        if op & 0x8:
            self.ctl_n = 0
        elif op != CZ_WS_OP_CONT:
            self.msg_op = op
            self.msg_compressed = (self.f.rsv & CZ_WS_RSV1) != 0
            self.msg_len = 0
            self.utf8 = CZ_UTF8_ACCEPT
        return 0

    cdef int payload(self, unsigned char *p, Py_ssize_t n) except -1:
        cdef int rc
        if self.f.opcode & 0x8:
            memcpy(self.ctl + self.ctl_n, p, <size_t>n)      # <= 125 bytes in all (checked in C)
            self.ctl_n += n
            return 0
        self.msg_len += n
        if self.msg_compressed:
            rc = self.pmd.feed(p, n)         # RSV1 passes the header check only when it was agreed
            if rc != 0:
                return self.fail(rc, "invalid compressed message" if rc == 1007 else "message too big")
            return 0
        if self.msg_op == CZ_WS_OP_TEXT and cz_utf8_feed(&self.utf8, p, <size_t>n) != 0:
            return self.fail(1007, "invalid UTF-8 in a text message")
        if self.f.fin and self.frame_off == 0 and <uint64_t>n == self.remaining and self.msg.size() == 0:
            # a whole single-frame message in this read: no copy into the message buffer
            if self.msg_op == CZ_WS_OP_TEXT:
                if cz_utf8_complete(self.utf8):
                    self.direct = PyUnicode_DecodeUTF8(<char *>p, n, NULL)
            else:
                self.direct = PyBytes_FromStringAndSize(<char *>p, n)
            return 0
        self.msg.append(<char *>p, n)
        return 0

    cdef int end_frame(self) except -1:
        cdef object message
        cdef Buffer m = self.msg
        if self.f.opcode & 0x8:
            return self.control()
        if not self.f.fin:
            return 0
        op = self.msg_op
        self.msg_op = 0
        self.msg_len = 0
        if self.msg_compressed:
            data = self.pmd.finish()
            if data is None:
                return self.fail(self.pmd.error or 1007, "invalid compressed message"
                                 if self.pmd.error != 1009 else "message too big")
            if op == CZ_WS_OP_TEXT:
                if not cz_utf8_valid(<const unsigned char *>PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data)):
                    return self.fail(1007, "invalid UTF-8 in a text message")
                message = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), NULL)
            else:
                message = data
            return self.deliver(message)
        if op == CZ_WS_OP_TEXT and not cz_utf8_complete(self.utf8):
            m.clear()
            return self.fail(1007, "text message ends inside a UTF-8 sequence")
        if self.direct is not None:
            message = self.direct
            self.direct = None
        elif op == CZ_WS_OP_TEXT:
            message = PyUnicode_DecodeUTF8(m.data + m.start, m.size(), NULL)
        else:
            message = PyBytes_FromStringAndSize(m.data + m.start, m.size())
        m.clear()
        if m.cap > 1024 * 1024:
            m.shrink(0)
        return self.deliver(message)

    cdef int control(self) except -1:
        cdef int op = self.f.opcode
        cdef int code = 0
        if op == CZ_WS_OP_PING:
            if not self.close_sent:
                self.send_frame(CZ_WS_OP_PONG, self.ctl, self.ctl_n, 0)
        elif op == CZ_WS_OP_PONG:
            self.ping_due = 0                        # the peer is alive
        elif op == CZ_WS_OP_CLOSE:
            if cz_ws_check_close(self.ctl, <size_t>self.ctl_n, &code) != 0:
                return self.fail(1002, "invalid close frame")
            self.close_rcvd = True
            self.close_code = code
            self.close_reason = (<char *>self.ctl)[2:self.ctl_n].decode("utf-8") if self.ctl_n > 2 else ""
            self.end_input(0 if code == 1005 else code, b"")   # echo the peer's code
        return 0

    cdef int deliver(self, object message) except -1:
        if self.close_sent:
            return 0                                 # closing: data frames are discarded
        self.queue.append(message)
        self.wake()
        if len(self.queue) >= QUEUE_MAX:
            self.t.pause_reading()
        return 0

    cdef object take(self):
        cdef Transport t = self.t
        if not self.queue:
            if self.end_pending:
                self.finish_close()      # the handler has answered what it was given
            return None
        message = self.queue.popleft()
        if t.reading_paused and len(self.queue) <= QUEUE_MAX // 2 and not self.input_done:
            t.resume_reading()
        return message

    cdef void wake(self):
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    cdef int fail(self, int code, str reason) except -1:
        """Fail the connection (RFC 6455 §7.1.7): a close frame with `code`,
        then the TCP connection closes; nothing more is read."""
        if self.input_done:
            return 0
        self.close_code = code
        self.close_reason = reason
        return self.end_input(code, reason.encode("utf-8")[:123])

    cdef int end_input(self, int code, bytes reason) except -1:
        """Nothing more is read (a close frame arrived, or a protocol error).
        Our close frame (`code`, 0 for none) goes out and the TCP connection
        closes -- once the handler has taken the messages queued before, so
        its answers to them are sent first (bounded: check_timeouts)."""
        self.input_done = True
        self.reply_code = code
        self.reply_reason = reason
        if self.queue and not self.close_sent:
            self.end_pending = True
            self.end_since = cz_monotonic()
            self.t.pause_reading()
            return 0
        return self.finish_close()

    cdef int finish_close(self) except -1:
        self.end_pending = False
        if not self.close_sent:
            self.send_close(self.reply_code, self.reply_reason)
        if self.state == WS_OPEN:
            self.state = WS_CLOSING
        self.wake()
        if self.bridge is not None:
            self.bridge.close_tcp()                  # the server closes the TCP connection first
        return 0

    # -- writing ---------------------------------------------------------------

    cdef int send_frame(self, int opcode, const unsigned char *p, Py_ssize_t n, unsigned rsv) except -1:
        cdef unsigned char head[14]
        cdef size_t hl = cz_ws_write_header(head, 1, rsv, opcode, <uint64_t>n)
        cdef Buffer out = self.t.out
        if self.t.closed:
            return 0
        out.reserve(<Py_ssize_t>hl + n)
        out.append(<char *>head, <Py_ssize_t>hl)
        if n > 0:
            out.append(<const char *>p, n)
        return 0

    cdef int send_close(self, int code, bytes reason) except -1:
        """code 0: an empty close frame (the peer sent one without a code)."""
        cdef unsigned char payload[125]
        cdef Py_ssize_t n = 0, rn = len(reason)
        if self.close_sent:
            return 0
        self.close_sent = True
        self.close_sent_at = cz_monotonic()
        if self.state == WS_OPEN:
            self.state = WS_CLOSING
        if code:
            payload[0] = <unsigned char>(code >> 8)
            payload[1] = <unsigned char>(code & 0xFF)
            if rn > 123:
                rn = 123
            if rn > 0:
                memcpy(payload + 2, PyBytes_AS_STRING(reason), <size_t>rn)
            n = 2 + rn
        return self.send_frame(CZ_WS_OP_CLOSE, payload, n, 0)

    cdef int write_message(self, object data) except -1:
        cdef Py_buffer view
        cdef const char *p
        cdef Py_ssize_t n
        self.check_sendable()
        if isinstance(data, str):
            p = PyUnicode_AsUTF8AndSize(data, &n)
            self.send_data(CZ_WS_OP_TEXT, <const unsigned char *>p, n)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            try:
                self.send_data(CZ_WS_OP_BINARY, <const unsigned char *>view.buf, view.len)
            finally:
                PyBuffer_Release(&view)
        else:
            raise TypeError(f"a WebSocket message is str or bytes, not {type(data).__name__}")
        self.t.flush()
        return 0

    cdef int send_data(self, int opcode, const unsigned char *p, Py_ssize_t n) except -1:
        cdef bytes packed
        if self.pmd is None:
            return self.send_frame(opcode, p, n, 0)
        packed = self.pmd.compress(p, n)
        return self.send_frame(opcode, <const unsigned char *>PyBytes_AS_STRING(packed),
                               PyBytes_GET_SIZE(packed), CZ_WS_RSV1)

    cdef int check_sendable(self) except -1:
        if self.state == WS_CONNECTING:
            raise RuntimeError('WebSocket is not connected: call "accept" first')
        if self.t.closed or (self.input_done and not self.end_pending):
            raise WebSocketDisconnect(self.close_code, self.close_reason)
        if self.close_sent:
            raise RuntimeError("cannot send once a close message has been sent")
        return 0

    cdef object send(self, object data):
        """Queue one message; returns an awaitable to wait on when the output
        is above the high-water mark, else None."""
        self.write_message(data)
        if not self.t.closed and self.t.pending() > self.t.high_water:
            if self.drain_fut is None:
                self.drain_fut = self.svc.loop.create_future()
                self.t.drain_waiter = self.drained
            return self.drain_fut
        return None

    def drained(self):
        fut = self.drain_fut
        self.drain_fut = None
        if fut is not None and not fut.done():
            fut.set_result(None)

    cdef int close(self, int code, object reason) except -1:
        """Start the closing handshake (or refuse the handshake with 403 before accept)."""
        if self.state == WS_CONNECTING:
            self.refuse(_forbidden())
            return 0
        if not cz_ws_close_code_valid(code):
            raise ValueError(f"{code} is not a close code an endpoint may send")
        raw = reason.encode("utf-8") if isinstance(reason, str) else bytes(reason)
        if len(raw) > 123:
            raise ValueError("a close reason is at most 123 bytes of UTF-8")
        if self.end_pending:
            self.finish_close()                      # the peer's close (or an error) came first
            return 0
        if self.close_sent or self.input_done or self.t.closed:
            return 0
        self.send_close(code, raw)
        self.t.flush()
        return 0

    cdef object wait(self):
        """A future resolved when a message is queued or the connection ends."""
        if self.waiter is None or self.waiter.done():
            self.waiter = self.svc.loop.create_future()
        return self.waiter

    cdef bint finished(self):
        """Nothing more will arrive: raise WebSocketDisconnect once the queue is empty."""
        return self.input_done or self.t.closed

    # -- the connection's hooks ----------------------------------------------

    cdef int check_timeouts(self, double now) except -1:
        cdef Limits lim = self.lim
        cdef Transport t = self.t
        cdef bytes data
        if t.closed:
            return 0
        if self.end_pending:
            if now - self.end_since > 1.0:
                self.finish_close()                  # the handler did not come back for its messages
            return 0
        if self.close_sent:
            if now - self.close_sent_at > lim.ws_close_timeout:
                t.abort()                            # the peer never answered our close
            return 0
        if t.pending() == 0 and t.out.cap > 16384:
            t.out.shrink(0)                          # idle connections keep no output memory
        if self.msg_op == 0 and self.msg.cap > 16384:
            self.msg.shrink(0)
        if self.state != WS_OPEN or self.input_done:
            return 0
        if self.ping_due:
            if now - self.ping_due > lim.ws_ping_timeout:
                self.fail(1011, "keepalive ping timeout")
                t.flush()
        elif lim.ws_ping_interval > 0 and now - self.last_ping >= lim.ws_ping_interval:
            self.last_ping = now
            self.ping_due = now
            data = struct.pack("!d", now)
            self.send_frame(CZ_WS_OP_PING, <const unsigned char *>PyBytes_AS_STRING(data), 8, 0)
            t.flush()
        return 0

    cdef void connection_lost(self):
        if self.state != WS_CONNECTING:
            self.state = WS_CLOSED
        if not self.input_done:
            self.input_done = True
            self.close_code = 1006
        self.bridge = None
        self.wake()
        self.drained()

    cdef int shutdown(self) except -1:
        if self.state == WS_OPEN and not self.close_sent and not self.input_done:
            self.send_close(1001, b"server shutting down")
            self.t.flush()
        return 0
