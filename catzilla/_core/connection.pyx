"""One HTTP/1.1 connection: read, parse, dispatch, respond, keep alive.

Requests are handled one at a time in arrival order: bytes of pipelined
requests wait in the read buffer until the response before them is complete,
which keeps responses in order without a queue. Responses send themselves
(Response.send, the body protocol of transport.pxd): the connection frames
and writes, and never asks a response what kind it is. Nothing above calls it
but through transport.pxd (the connection boundary); a body the handler reads
as it arrives is the Request's BodyReader; a WebSocket is WSProtocol, joined
to the connection by a WebSocketBridge (below) from start_websocket on."""
import socket

from libc.string cimport memcpy, memmove
from cpython.unicode cimport PyUnicode_DecodeLatin1
from catzilla._core.bodyreader cimport BodyReader, new_body_reader
from catzilla._core.buffer cimport Buffer
from catzilla._core.context cimport ConnectionTable, Limits, Services
from catzilla._core.dispatch cimport Dispatcher, is_awaitable
from catzilla._core.streams cimport Pump, make_pump, close_unsent
from catzilla._core.transport cimport Transport
from catzilla._core.websocket cimport WSProtocol
from catzilla.includes.clock cimport cz_monotonic
from catzilla.includes.http cimport (cz_request, cz_parse_request, cz_chunked_init, cz_chunked_decode,
                                     CZ_ERROR, CZ_INCOMPLETE, CZ_F_CHUNKED, CZ_F_CONN_CLOSE,
                                     CZ_F_CONN_KEEP_ALIVE, CZ_F_EXPECT_CONTINUE, CZ_F_UPGRADE)
from catzilla.includes.poller cimport CZ_READ
from catzilla.includes.system cimport shutdown, recv, SHUT_WR, MSG_PEEK, MSG_DONTWAIT
from catzilla.request cimport Request, early_request, new_request
from catzilla.dependencies cimport request_exit
from catzilla.response cimport Response, to_response
from catzilla.response import PlainTextResponse
from catzilla.exceptions import ClientDisconnect, HTTPException

cdef enum:
    ST_HEAD = 0          # reading a request head (or idle between requests)
    ST_BODY = 1          # reading a request body
    ST_HANDLING = 2      # a handler, a stream or a large write is in progress
    ST_CLOSING = 3       # the last response is queued; close once it is written
    ST_UPGRADED = 4      # a WebSocket after 101: the bridge has the reads and the timer

# Draining, a new connection is closed if its first request has not begun by then.
DEF FIRST_REQUEST_GRACE = 2.0

cdef str _GET = "GET"
cdef str _POST = "POST"
cdef str _HEAD = "HEAD"
cdef bytes _CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
cdef str _SERVER_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
# Health answers (Settings.health_path), built once: they are never changed.
cdef Response _HEALTHY = PlainTextResponse("ok\n", 200, {"cache-control": "no-store"})
cdef Response _DRAINING = PlainTextResponse("draining\n", 503, {"cache-control": "no-store",
                                                                "retry-after": "1"})
cdef Response _HEALTH_METHODS = PlainTextResponse("Method Not Allowed\n", 405, {"allow": "GET, HEAD"})


cdef inline str _method_str(const char *p, Py_ssize_t n):
    if n == 3 and p[0] == b'G' and p[1] == b'E' and p[2] == b'T':
        return _GET
    if n == 4 and p[0] == b'P' and p[1] == b'O' and p[2] == b'S' and p[3] == b'T':
        return _POST
    if n == 4 and p[0] == b'H' and p[1] == b'E' and p[2] == b'A' and p[3] == b'D':
        return _HEAD
    return PyUnicode_DecodeLatin1(p, n, NULL)


cdef class Connection(Transport):
    def __cinit__(self, Limits lim, Services svc, ConnectionTable table, int fd):
        self.lim = lim
        self.svc = svc
        self.table = table
        self.fd = fd
        self.pfd = table.pfd
        self.events = CZ_READ
        self.rbuf = Buffer()
        self.high_water = lim.high_water
        self.low_water = lim.low_water
        self.last_io = cz_monotonic()

    cdef object peer(self):
        if self.peer_cache is None and not self.closed:
            try:
                s = socket.socket(fileno=self.fd)
                try:
                    self.peer_cache = s.getpeername()
                finally:
                    s.detach()
            except OSError:
                return None
        return self.peer_cache

    # -- reading -----------------------------------------------------------

    cdef int on_readable(self) except -1:
        cdef ssize_t n
        cdef Services svc = self.svc
        cdef Py_ssize_t read_size = self.lim.read_size
        if self.state == ST_UPGRADED:
            return self.bridge.on_readable()
        while not self.closed:
            n = self.receive(svc.scratch, <size_t>read_size)
            if n <= 0:
                break                            # nothing more now, or closed (EOF: the client is gone)
            self.last_io = cz_monotonic()
            if self.state == ST_CLOSING:
                continue                         # lingering close: discard
            if self.body is not None:
                self.body.feed(svc.scratch, n)   # an incoming body (and what follows it)
            else:
                self.make_room(n)
                memcpy(self.rbuf.data + self.rbuf.end, svc.scratch, <size_t>n)
                self.rbuf.end += n
            # A short read drained the socket; a flood is taken in slices so
            # the limits are checked before more is buffered (level-triggered:
            # the rest is reported again).
            if n < read_size or (self.body.pending() if self.body is not None
                                 else self.rbuf.end - self.req_start) >= 4 * read_size:
                break
        if self.closed or self.state == ST_CLOSING:
            return 0
        if self.state == ST_HANDLING:
            if self.body is not None and not self.body.done:
                return self.body.arrived()
            # Keep watching for a disconnect, but do not buffer a flood
            # (response_done reads again).
            if (self.body.pending() if self.body is not None else self.rbuf.end - self.req_start) \
                    > <Py_ssize_t>self.lim.parser.max_head_bytes:
                self.pause_reading()
            return 0
        return self.serve_buffered()

    cdef int serve_buffered(self) except -1:
        """Answer the requests already read, then write what they produced."""
        self.process()
        if not self.closed:
            self.flush()
        return 0

    cdef int make_room(self, Py_ssize_t n) except -1:
        """Room for n more bytes, never rewriting bytes another Request reads.
        The request still being read (ST_BODY) moves with its bytes."""
        cdef Buffer old = self.rbuf
        cdef Buffer nb
        cdef Py_ssize_t live
        cdef Request moving = self.req if self.state == ST_BODY else None
        if old.cap - old.end >= n:
            return 0
        live = old.end - self.req_start
        if self.req_start > 0:
            if old.pins > (1 if moving is not None else 0):   # a dispatched Request still reads it
                nb = Buffer()
                nb.reserve(live + n)
                if live > 0:
                    memcpy(nb.data, old.data + self.req_start, <size_t>live)
                nb.end = live
                self.rbuf = nb
            else:
                if live > 0:
                    memmove(old.data, old.data + self.req_start, <size_t>live)
                old.end = live
            if moving is not None:
                moving.rebase(self.rbuf, 0)
            self.req_start = 0
        self.rbuf.reserve(n)
        return 0

    cdef int release_consumed(self) except -1:
        """After a request: reuse the read buffer unless a Request still holds it.
        (Idle connections give the memory back in check_timeouts.)"""
        cdef Buffer b = self.rbuf
        if self.req_start < b.end:
            return 0
        if b.pins > 0:
            self.rbuf = Buffer()
        else:
            b.clear()
            if b.cap > 65536:
                b.shrink(0)
        self.req_start = 0
        return 0

    # -- parsing -----------------------------------------------------------

    cdef int process(self) except -1:
        cdef bint go_on = True
        while go_on and not self.closed and (self.state == ST_HEAD or self.state == ST_BODY):
            if self.output_blocked():
                return 0
            if self.state == ST_HEAD:
                go_on = self.read_head()
            else:
                go_on = self.read_body()
        return 0

    cdef bint output_blocked(self) except -1:
        """Pipelined requests wait while the output is above the high-water mark,
        or while a zero-copy tail (large body, file region) is still going out:
        the next response may only be queued once it is written."""
        if self.tail is None and self.file_fd < 0 and self.pending() <= self.high_water:
            return False
        self.flush()
        if self.closed:
            return True
        if self.tail is not None or self.file_fd >= 0 or self.pending() > self.high_water:
            self.drain_waiter = self._resume     # flush() asked for write readiness
            return True
        return False

    cdef bint read_head(self) except -1:
        cdef Limits lim = self.lim
        cdef cz_request r
        cdef int rc
        cdef const char *base = self.rbuf.data + self.req_start
        cdef Py_ssize_t avail = self.rbuf.end - self.req_start
        if avail == 0:
            self.release_consumed()
            self.phase_start = 0
            return False
        r.headers = self.svc.headers
        rc = cz_parse_request(base, <size_t>avail, &r, &lim.parser)
        if rc == CZ_INCOMPLETE:
            if self.phase_start == 0:
                self.phase_start = cz_monotonic()
            return False
        if rc == CZ_ERROR:
            self.head_error(&r, r.error_status, r.error_reason.decode("latin-1"))
            return False
        self.head_len = rc
        self.http10 = r.minor_version == 0
        if self.http10:
            self.keep_alive = (r.flags & CZ_F_CONN_KEEP_ALIVE) != 0
        else:
            self.keep_alive = (r.flags & CZ_F_CONN_CLOSE) == 0
        if self.table.draining:
            self.keep_alive = False
        self.req = new_request(self.rbuf, self.req_start, &r, _method_str(r.method, r.method_len), self)
        self.upgrade = (r.flags & CZ_F_UPGRADE) != 0
        self.chunked_body = (r.flags & CZ_F_CHUNKED) != 0
        if (self.chunked_body or avail - self.head_len < r.content_length) and self.streams_to_handler():
            return self.hand_over_body(r.content_length, (r.flags & CZ_F_EXPECT_CONTINUE) != 0 and not self.http10)
        if self.chunked_body:
            cz_chunked_init(&self.dec, lim.parser.max_head_bytes)
            self.body_len = 0
            self.raw_pos = self.head_len
        elif r.content_length > 0:
            if r.content_length > lim.max_body:
                self.send_error(413, "request body too large", self.req)
                return False
            self.body_len = r.content_length
        else:
            self.body_len = 0
            self.phase_start = 0
            self.req.body_off = self.head_len
            self.req.body_len = 0
            self.dispatch(self.head_len)
            return True
        self.state = ST_BODY
        self.phase_start = cz_monotonic()
        if (r.flags & CZ_F_EXPECT_CONTINUE) and not self.http10 and avail == self.head_len:
            self.out.append(_CONTINUE, len(_CONTINUE))
            self.flush()
        return True

    cdef bint read_body(self) except -1:
        cdef const char *base = self.rbuf.data + self.req_start
        cdef Py_ssize_t avail = self.rbuf.end - self.req_start
        cdef Py_ssize_t total
        cdef size_t consumed = 0, produced = 0
        cdef int rc
        if self.chunked_body:
            # decoded in place: the payload never outruns the chunked bytes it came from
            rc = cz_chunked_decode(&self.dec, base + self.raw_pos, <size_t>(avail - self.raw_pos),
                                   self.rbuf.data + self.req_start + self.head_len + self.body_len,
                                   &consumed, &produced)
            self.raw_pos += consumed
            self.body_len += produced
            if rc == CZ_ERROR:
                self.send_error(400, "malformed chunked body", self.req)
                return False
            # the announced size of the current chunk counts before its data arrives
            if self.body_len > self.lim.max_body or \
                    self.dec.remaining > <unsigned long long>(self.lim.max_body - self.body_len):
                self.send_error(413, "request body too large", self.req)
                return False
            if rc == 0:
                return False
            total = self.raw_pos
        else:
            if avail < self.head_len + self.body_len:
                return False
            total = self.head_len + <Py_ssize_t>self.body_len
        self.phase_start = 0
        self.req.body_off = self.head_len
        self.req.body_len = <Py_ssize_t>self.body_len
        self.dispatch(total)
        return True

    cdef bint streams_to_handler(self) except -1:
        """An incomplete body for an async endpoint is handed over as it arrives."""
        cdef Request req = self.req
        try:
            req.set_path()
        except ValueError:
            return False                 # dispatch answers 400
        return self.svc.dispatcher.streams_body(req)

    # -- an incoming body: read by the handler as it arrives -------------------

    cdef bint hand_over_body(self, long long content_length, bint expect_continue) except -1:
        """Dispatch now; the body follows through the Request's BodyReader. The
        Request keeps the head's (pinned) buffer; the body bytes already read, and
        whatever follows them, move to the reader (response_done takes them back)."""
        cdef Request req = self.req
        cdef Py_ssize_t at = self.req_start + self.head_len
        self.body = new_body_reader(self, self.svc.loop, self.lim.max_body, self.lim.parser.max_head_bytes,
                                    self.chunked_body, content_length, expect_continue,
                                    self.rbuf.data + at, self.rbuf.end - at)
        self.rbuf = self.body.buf            # not read from while the body is out
        self.req_start = 0
        self.head_len = 0
        self.phase_start = 0
        req.body_off = 0
        req.body_len = 0
        req.reader = self.body
        self.dispatch(0)
        return True

    def _resume(self):
        """Output drained below the low-water mark: go on with pipelined requests."""
        if not self.closed and self.state != ST_HANDLING:
            self.serve_buffered()

    # -- answering ---------------------------------------------------------

    cdef int dispatch(self, Py_ssize_t total) except -1:
        cdef Request req = self.req
        self.head_only = req.method is _HEAD
        self.req_start += total
        self.state = ST_HANDLING
        self.started = cz_monotonic() if self.svc.access_log is not None else 0
        try:
            if req.path is None:             # not yet set by streams_to_handler
                req.set_path()
        except ValueError:
            return self.respond(self.svc.dispatcher.error(req, HTTPException(400, "invalid request target")))
        if self.lim.health_path is not None and req.path == self.lim.health_path:
            return self.respond(self.health(req.method))
        if self.upgrade and self.svc.dispatcher.resolve_upgrade(req):
            self.keep_alive = False          # no HTTP request follows a handshake
        if req.path == "*":                                  # asterisk-form: OPTIONS * only
            if req.method == "OPTIONS":
                return self.respond(Response(b"", 204, {"allow": _SERVER_METHODS}))
            return self.respond(self.svc.dispatcher.error(req, HTTPException(400, "asterisk-form is for OPTIONS only")))
        self.svc.current = req               # the watchdog names the request if this blocks the loop
        try:
            return self.respond(self.svc.dispatcher.handle(req))
        finally:
            self.svc.current = None

    cdef object health(self, str method):
        """The load balancer's probe, before routing and middleware: 200 while
        serving (over the stream limit too), 503 once a graceful stop began
        (during drain_delay, then the drain)."""
        if method is not _GET and method is not _HEAD:
            return _HEALTH_METHODS
        return _DRAINING if self.table.stopping else _HEALTHY

    cdef int respond(self, object result) except -1:
        """Send a handler's result (awaited first when it is awaitable)."""
        cdef Response resp
        cdef Py_ssize_t mark
        if self.closed:
            return 0
        if is_awaitable(result):
            return self.await_result(result)
        mark = self.out.size()
        try:
            resp = to_response(result)
            if resp.background is not None and self.req is not None:
                request_exit(self.req).add_tasks(resp.background)   # after the endpoint's BackgroundTasks
            resp.send(self, self.req)
        except Exception as exc:
            self.out.end = self.out.start + mark     # a response fails before its head is complete
            result = self.svc.dispatcher.error(self.req, exc)
            if is_awaitable(result):
                return self.await_result(result)
            (<Response>result).send(self, self.req)
        return 0

    cdef int await_result(self, object awaitable) except -1:
        task = self.svc.task_factory(awaitable)
        if task.done():
            return self.task_finished(task)
        self.task = task
        task.add_done_callback(self._task_done)
        return 0

    def _task_done(self, task):
        self.task = None
        if self.closed:
            return
        self.task_finished(task)
        if not self.closed and self.state != ST_HANDLING:
            self.serve_buffered()

    cdef int task_finished(self, object task) except -1:
        if task.cancelled():
            self.abort()
            return 0
        exc = task.exception()
        if exc is not None:
            return self.respond(self.svc.dispatcher.error(self.req, exc))
        return self.respond(task.result())

    # -- the body protocol: what Transport leaves to the connection ----------

    cdef int start_stream(self, int status, object content, bint chunked, object encode,
                          double ping, bytes ping_bytes, list filters) except -1:
        if self.head_only:
            close_unsent(self.svc, content)
            return self.response_sent(status, 0)
        try:
            self.claim_slot()
        except BaseException:
            close_unsent(self.svc, content)
            raise                            # respond() drops the head queued for this stream
        self.flush()                         # the head goes out before the first item
        if self.closed:
            close_unsent(self.svc, content)
            return 0
        self.stream_status = status
        self.pump = make_pump(self.svc, self, self.req, content, chunked, encode, ping, ping_bytes, filters)
        try:
            self.pump.start()
        except BaseException:
            self.release_slot()
            raise
        return 0

    cdef int stream_done(self, bint ok) except -1:
        self.pump = None
        self.release_slot()
        if self.closed:
            return 0
        if not ok:
            self.req = None                  # the pump ends the request, with the stream's exception
            self.flush()                     # what was produced before the failure still goes out,
            self.abort()                     # but no last chunk: the client sees it is incomplete
            return 0
        self.response_sent(self.stream_status, -1)
        if not self.closed:
            self.serve_buffered()
        return 0

    cdef int response_sent(self, int status, long long nbytes) except -1:
        self.log_access(status, nbytes)
        if nbytes >= 0 and self.req is not None and self.req.exit is not None:
            self.svc.end_request(self.req, None, True)   # a stream's pump ends it once its source is closed
        return self.response_done()

    cdef int response_done(self) except -1:
        cdef BodyReader body = self.body
        if body is not None:
            self.body = None
            body.detach()
            if not body.done:
                self.keep_alive = False      # the unread rest is discarded by the lingering close
            self.rbuf = body.buf             # what follows the body: the next request
            self.req_start = body.start
        if self.reading_paused:
            self.resume_reading()
        if self.req is not None and self.req._form is not None:
            self.req.close_files()
        self.req = None
        self.last_io = cz_monotonic()
        if not self.keep_alive:
            return self.close_when_idle()
        self.state = ST_HEAD
        self.reused = True
        return 0

    cdef int close_when_idle(self) except -1:
        """Send what is queued, then close (half-close first, so the client
        reads the whole response before our FIN instead of a reset)."""
        self.state = ST_CLOSING
        self.flush()
        if not self.closed and self.pending() == 0:
            shutdown(self.fd, SHUT_WR)
            self.last_io = cz_monotonic()
        return 0

    cdef int on_writable(self) except -1:
        Transport.on_writable(self)
        if not self.closed and self.state == ST_CLOSING and self.pending() == 0:
            shutdown(self.fd, SHUT_WR)
            self.last_io = cz_monotonic()
        return 0

    cdef int send_error(self, int status, str reason, Request req) except -1:
        """A protocol error found in req: the app's exception handlers answer it
        (an HTTPException(status, reason)), then the connection closes, reading
        nothing more from it."""
        self.keep_alive = False
        self.head_only = False
        self.req_start = self.rbuf.end
        self.state = ST_HANDLING
        self.req = req
        self.started = cz_monotonic() if self.svc.access_log is not None else 0
        if req.path is None:                 # not dispatched: the handlers see the path if there is one
            try:
                req.set_path()
            except ValueError:
                req.path = ""
        return self.respond(self.svc.dispatcher.error(req, HTTPException(status, reason)))

    cdef int head_error(self, const cz_request *r, int status, str reason) except -1:
        """A protocol error before the head was parsed to its end (r: what the
        parser read): answered for a Request of the method and target read."""
        self.target_cut = status == 414
        return self.send_error(status, reason, early_request(self.rbuf, self.req_start, r, self))

    cdef int start_websocket(self, object ws) except -1:
        """The dispatcher's Upgrade is being sent: a bridge takes it over and the
        handler starts (it answers the handshake by accepting or refusing). Over
        max_streams the handler never runs: respond() renders the 503 through the
        exception handlers."""
        cdef WebSocketBridge bridge = WebSocketBridge.__new__(WebSocketBridge)
        bridge.conn = self
        bridge.proto = <WSProtocol?>ws
        return bridge.start()

    cdef int claim_slot(self) except -1:
        self.table.claim_slot(self.lim.max_streams, self.svc.log)
        self.holds_slot = True
        return 0

    cdef int release_slot(self) except -1:
        if self.holds_slot:
            self.holds_slot = False
            self.table.release_slot()
        return 0

    cdef int log_access(self, int status, long long nbytes) except -1:
        cdef Request req = self.req
        cdef str target = None
        log = self.svc.access_log
        if log is None:
            return 0
        if req is not None:
            target = req.target()
            if self.target_cut:          # a 414: the start of what was read, marked
                target = target[:100] + "...[cut]"
        peer = self.peer()
        log.info('%s - "%s %s HTTP/%s" %d %s %.1fms',
                 f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "-",
                 req.method or "-" if req is not None else "-",
                 target or "-",
                 req.http_version if req is not None else "1.1",
                 status, "-" if nbytes < 0 else nbytes,
                 (cz_monotonic() - self.started) * 1000.0 if self.started else 0.0)
        return 0

    # -- lifecycle ---------------------------------------------------------

    cdef int check_timeouts(self, double now) except -1:
        cdef Limits lim = self.lim
        cdef cz_request r
        if self.closed:
            return 0
        if self.state == ST_CLOSING:
            if now - self.last_io > 2.0:
                self.abort()
        elif self.state == ST_UPGRADED:
            self.bridge.check_timeouts(now)
        elif self.pending() > 0 and self.write_since and now - self.write_since > lim.write_timeout \
                and self.pump is None:
            self.abort()                     # no write progress: the client stopped reading
        elif self.state == ST_HEAD:
            if self.phase_start and now - self.phase_start > lim.header_timeout:
                # the answer names what arrived of the request line
                r.headers = self.svc.headers
                cz_parse_request(self.rbuf.data + self.req_start, <size_t>(self.rbuf.end - self.req_start),
                                 &r, &lim.parser)
                self.head_error(&r, 408, "request header timeout")
            elif not self.phase_start and self.rbuf.end == self.req_start:
                if now - self.last_io > (FIRST_REQUEST_GRACE if self.table.draining else lim.keepalive_timeout):
                    self.abort()             # idle keep-alive, or a new connection silent through a drain
                elif now - self.last_io > 1.0:
                    self.release_idle_memory()
        elif self.state == ST_BODY:
            if now - self.phase_start > lim.body_timeout:
                self.send_error(408, "request body timeout", self.req)
        elif self.body is not None and self.body.waiting() and now - self.last_io > lim.body_timeout:
            self.body.fail(408, "request body timeout")   # an incoming body stopped arriving
        return 0

    cdef int release_idle_memory(self) except -1:
        cdef Buffer b = self.rbuf
        if b.pins == 0 and b.cap > 0:
            b.shrink(0)
        if self.out.cap > 0 and self.pending() == 0:
            self.out.shrink(0)
        return 0

    cdef int shutdown_idle(self) except -1:
        """Graceful stop: close now if between requests, else after the current response."""
        cdef char probe
        cdef ssize_t got
        if self.closed:
            return 0
        self.keep_alive = False
        if self.bridge is not None:
            self.bridge.proto.shutdown()          # close 1001; the peer's close ends the connection
        elif self.pump is not None:
            self.pump.drain()                     # a feed ends now; other streams run to the deadline
        elif self.state == ST_HEAD and self.rbuf.end == self.req_start and self.pending() == 0:
            # A request already in the socket but not read yet (the loop was busy) is served,
            # with Connection: close, rather than reset: a reload under load would fail it.
            # So is the first request of a connection just accepted, still on its way: its
            # client has no reason to expect a close, and would fail it, where one that
            # reuses an idle connection retries (RFC 9112 9.3.1). check_timeouts bounds the wait.
            got = recv(self.fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT)
            if got == 0 or (got < 0 and self.reused):
                self.abort()
        return 0

    cdef list cancel_work(self):
        """Deadline passed: stop the handler or stream and close. Returns the
        tasks that were cancelled, for the caller to wait on their cleanup."""
        tasks = [t for t in (self.task, self.pump.running_task() if self.pump is not None else None,
                             self.bridge.proto.task if self.bridge is not None else None)
                 if t is not None and not t.done()]
        self.abort()
        return tasks

    cdef void on_closed(self):
        cdef Pump pump = self.pump
        cdef WebSocketBridge bridge = self.bridge
        self.table.conns.pop(self.fd, None)
        self.fd = -1
        self.release_slot()
        if pump is not None:
            self.pump = None
            pump.cancel()
        task = self.task
        if task is not None:
            self.task = None
            if self.body is None or not self.body.waiting():
                task.cancel()                # else the pending body read raises ClientDisconnect
        if self.body is not None:
            self.body.wake()
        if bridge is not None:
            self.bridge = None
            bridge.connection_lost()              # the handler's receive raises WebSocketDisconnect
        elif pump is None and self.req is not None and self.req.exit is not None:
            # gone before the response was over (a stream's pump ends it itself); a
            # handler still running is cancelled, and finishes before the teardown
            self.svc.end_request(self.req, ClientDisconnect("the client closed the connection"), False, task)
        self.req = None


cdef class WebSocketBridge(Bridge):
    """A WebSocket on a connection (connection.pxd): the handshake pending
    while its handler runs, then the upgraded connection."""

    cdef int start(self) except -1:
        cdef Connection c = self.conn
        c.table.claim_slot(c.lim.max_streams, c.svc.log)   # before anything: the 503 is an HTTP answer
        self.holds_slot = True
        c.bridge = self                      # before the handler runs: an eager task may accept at once
        self.proto.attach(c, self, c.svc, c.lim)
        self.proto.start()
        return 0

    cdef int release_slot(self) except -1:
        if self.holds_slot:
            self.holds_slot = False
            self.conn.table.release_slot()
        return 0

    # -- what the protocol calls (Bridge) ------------------------------------

    cdef int upgraded(self) except -1:
        """The handler accepted (the 101 head is queued): from now on the bytes
        read are frames, starting with any the client sent behind its handshake."""
        cdef Connection c = self.conn
        cdef Buffer rbuf
        cdef Py_ssize_t n
        c.log_access(101, -1)
        c.state = ST_UPGRADED
        c.req = None
        rbuf = c.rbuf
        while c.req_start < rbuf.end and not c.closed and c.state == ST_UPGRADED:
            # through the scratch memory: the protocol unmasks in place, and the
            # read buffer may still be pinned by the handshake Request
            n = min(rbuf.end - c.req_start, c.lim.read_size)
            memcpy(c.svc.scratch, rbuf.data + c.req_start, <size_t>n)
            c.req_start += n
            self.proto.data_received(<unsigned char *>c.svc.scratch, n)
        c.release_consumed()
        if not c.closed and c.state == ST_UPGRADED:
            c.resume_reading()               # reading may have paused before the accept
        return 0

    cdef int refused(self, object response) except -1:
        """The handler answered the handshake with HTTP (returned, closed or raised
        before accept): the connection sends it like any response, then closes."""
        cdef Connection c = self.conn
        c.bridge = None
        self.release_slot()
        if not c.closed:
            c.respond(response)
            if not c.closed:
                c.flush()
        return 0

    cdef int close_tcp(self) except -1:
        """Both close frames are out (or the connection failed): close after the output."""
        cdef Connection c = self.conn
        if not c.closed and c.state == ST_UPGRADED:
            c.close_when_idle()
        return 0

    # -- the upgraded connection ----------------------------------------------

    cdef int on_readable(self) except -1:
        cdef ssize_t n
        cdef Connection c = self.conn
        cdef WSProtocol proto = self.proto
        cdef Py_ssize_t read_size = c.lim.read_size
        cdef unsigned char *scratch = <unsigned char *>c.svc.scratch
        while not c.closed:
            n = c.receive(<char *>scratch, <size_t>read_size)
            if n <= 0:
                break                        # nothing more now, or closed (EOF without a close frame: 1006)
            if not proto.input_done:         # after a close or an error: discarded
                proto.data_received(scratch, n)
            # With read interest off (the queue is full, or input is done)
            # only a hang-up wakes us: one slice per wake-up, so it makes
            # progress towards the EOF without buffering a flood.
            if n < read_size or not (c.events & CZ_READ):
                break
        if not c.closed:
            c.flush()
        return 0

    cdef int check_timeouts(self, double now) except -1:
        cdef Connection c = self.conn
        self.proto.check_timeouts(now)       # pings, the close handshake
        if not c.closed and c.pending() > 0 and c.write_since \
                and now - c.write_since > c.lim.write_timeout:
            c.abort()                        # the peer stopped reading
        return 0

    cdef void connection_lost(self):
        self.release_slot()
        self.proto.connection_lost()

