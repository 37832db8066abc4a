"""One HTTP/1.1 connection: read, parse, dispatch, respond, keep alive.

Requests are handled one at a time in arrival order: bytes of pipelined
requests wait in the read buffer until the response before them is complete,
which keeps responses in order without a queue."""
import inspect
import socket

from cpython.unicode cimport PyUnicode_DecodeLatin1
from catzilla.includes.errno cimport errno, EAGAIN, EWOULDBLOCK, EINTR
from libc.string cimport memcpy, memmove
from catzilla._core.buffer cimport Buffer
from catzilla.includes.http cimport (cz_request, cz_parse_request, cz_chunked_init, cz_chunked_decode,
                             CZ_ERROR, CZ_INCOMPLETE, CZ_F_CHUNKED, CZ_F_CONN_CLOSE,
                             CZ_F_CONN_KEEP_ALIVE, CZ_F_EXPECT_CONTINUE)
from catzilla._core.context cimport Context
from catzilla.includes.poller cimport CZ_READ, CZ_WRITE
from catzilla.request cimport Request, new_request
from catzilla.response cimport Response, StreamingResponse, to_response
from catzilla._core.streams cimport Pump, make_pump
from catzilla._core.transport cimport Transport
from catzilla.forms cimport c_unquote
from catzilla.router cimport Route, Router
from catzilla.includes.clock cimport cz_monotonic
from catzilla.response import PlainTextResponse
from catzilla.exceptions import HTTPException


from catzilla.includes.system cimport recv, shutdown, SHUT_WR
from catzilla.includes.python cimport PyCoro_CheckExact

cdef enum:
    ST_HEAD = 0          # reading a request head (or idle between requests)
    ST_BODY = 1          # reading a request body
    ST_HANDLING = 2      # an async handler, a stream or a large write is in progress
    ST_CLOSING = 3       # the last response is queued; close once it is written

cdef str _GET = "GET"
cdef str _POST = "POST"
cdef str _HEAD = "HEAD"
cdef bytes _CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# results that are surely not awaitable: skip the costly ABC check for them
cdef str _SERVER_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
cdef frozenset _PLAIN_RESULTS = frozenset([str, bytes, dict, list, type(None)])

# Bodies up to this size are copied into the output buffer (one write with the
# head); larger ones are sent from the bytes object itself.
DEF COPY_MAX = 16384


cdef inline str _method_str(const char *p, Py_ssize_t n):
    if n == 3 and p[0] == b'G' and p[1] == b'E' and p[2] == b'T':
        return _GET
    if n == 4 and p[0] == b'P' and p[1] == b'O' and p[2] == b'S' and p[3] == b'T':
        return _POST
    if n == 4 and p[0] == b'H' and p[1] == b'E' and p[2] == b'A' and p[3] == b'D':
        return _HEAD
    return PyUnicode_DecodeLatin1(p, n, NULL)


cdef class Connection(Transport):
    def __cinit__(self, Context ctx, int fd):
        self.ctx = ctx
        self.fd = fd
        self.pfd = ctx.pfd
        self.events = CZ_READ
        self.rbuf = Buffer()
        self.high_water = ctx.high_water
        self.low_water = ctx.low_water
        self.last_io = cz_monotonic()

    def peer(self):
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
        cdef Context ctx = self.ctx
        while not self.closed:
            n = recv(self.fd, ctx.scratch, <size_t>ctx.read_size, 0)
            if n > 0:
                self.last_io = cz_monotonic()
                if self.state == ST_CLOSING:
                    continue                     # lingering close: discard
                self.make_room(n)
                memcpy(self.rbuf.data + self.rbuf.end, ctx.scratch, <size_t>n)
                self.rbuf.end += n
                # A short read drained the socket; a flood is taken in slices so
                # the limits are checked before more is buffered (level-triggered:
                # the rest is reported again).
                if n < ctx.read_size or self.rbuf.end - self.req_start >= 4 * ctx.read_size:
                    break
                continue
            if n == 0:
                self.abort()                     # EOF: the client is gone (or done)
                return 0
            if errno == EINTR:
                continue
            if errno == EAGAIN or errno == EWOULDBLOCK:
                break
            self.abort()
            return 0
        if self.closed or self.state == ST_CLOSING:
            return 0
        if self.state == ST_HANDLING:
            # Keep watching for a disconnect, but do not buffer a flood.
            if self.rbuf.end - self.req_start > <Py_ssize_t>ctx.limits.max_head_bytes:
                self.set_interest(self.events & ~CZ_READ)
            return 0
        return self.serve_buffered()

    cdef int serve_buffered(self) except -1:
        """Answer the requests already read, then write what they produced."""
        self.process()
        if not self.closed:
            self.flush()
        return 0

    cdef int make_room(self, Py_ssize_t n) except -1:
        """Room for n more bytes, never rewriting bytes a Request may hold."""
        cdef Buffer old = self.rbuf
        cdef Buffer nb
        cdef Py_ssize_t live
        if old.cap - old.end >= n:
            return 0
        live = old.end - self.req_start
        if self.req_start > 0:
            if old.pins > 0:                     # a Request still reads it
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
        cdef Context ctx = self.ctx
        cdef cz_request r
        cdef int rc
        cdef Py_ssize_t avail, total
        cdef size_t consumed, produced
        cdef const char *base
        while not self.closed and (self.state == ST_HEAD or self.state == ST_BODY):
            # A zero-copy tail (large body, file region) goes after `out`, so the
            # next pipelined response may only be queued once it is written.
            if self.tail is not None or self.file_fd >= 0 or self.pending() > self.high_water:
                self.flush()
                if self.closed:
                    return 0
                if self.tail is not None or self.file_fd >= 0 or self.pending() > self.high_water:
                    self.drain_waiter = self.resume      # flush() asked for CZ_WRITE
                    return 0
            base = self.rbuf.data + self.req_start
            avail = self.rbuf.end - self.req_start
            if self.state == ST_HEAD:
                if avail == 0:
                    self.release_consumed()
                    self.phase_start = 0
                    return 0
                r.headers = ctx.headers
                rc = cz_parse_request(base, <size_t>avail, &r, &ctx.limits)
                if rc == CZ_INCOMPLETE:
                    if self.phase_start == 0:
                        self.phase_start = cz_monotonic()
                    return 0
                if rc == CZ_ERROR:
                    return self.send_error(r.error_status, r.error_reason.decode("latin-1"))
                self.head_len = rc
                self.target_off = r.target - base
                self.target_len = r.target_len
                self.http10 = r.minor_version == 0
                if self.http10:
                    self.keep_alive = (r.flags & CZ_F_CONN_KEEP_ALIVE) != 0
                else:
                    self.keep_alive = (r.flags & CZ_F_CONN_CLOSE) == 0
                if ctx.draining:
                    self.keep_alive = False
                self.incoming = new_request(self.rbuf, self.req_start, &r, _method_str(r.method, r.method_len), self)
                self.chunked_body = (r.flags & CZ_F_CHUNKED) != 0
                self.expect_continue = (r.flags & CZ_F_EXPECT_CONTINUE) != 0 and not self.http10
                if self.chunked_body:
                    cz_chunked_init(&self.dec, ctx.limits.max_head_bytes)
                    self.body_len = 0
                    self.raw_pos = self.head_len
                elif r.content_length > 0:
                    if r.content_length > ctx.max_body:
                        return self.send_error(413, "request body too large")
                    self.body_len = r.content_length
                else:
                    self.body_len = 0
                    self.phase_start = 0
                    self.dispatch(self.head_len)
                    continue
                self.state = ST_BODY
                self.phase_start = cz_monotonic()
                if self.expect_continue and avail == self.head_len:
                    self.out.append(_CONTINUE, len(_CONTINUE))
                    self.flush()
                continue
            # ST_BODY
            if self.chunked_body:
                consumed = 0
                produced = 0
                rc = cz_chunked_decode(&self.dec, base + self.raw_pos, <size_t>(avail - self.raw_pos),
                                       self.rbuf.data + self.req_start + self.head_len + self.body_len,
                                       &consumed, &produced)
                self.raw_pos += consumed
                self.body_len += produced
                if rc == CZ_ERROR:
                    return self.send_error(400, "malformed chunked body")
                # the announced size of the current chunk counts before its data arrives
                if self.body_len > ctx.max_body or \
                        self.dec.remaining > <unsigned long long>(ctx.max_body - self.body_len):
                    return self.send_error(413, "request body too large")
                if rc == 0:
                    return 0
                total = self.raw_pos
            else:
                if avail < self.head_len + self.body_len:
                    return 0
                total = self.head_len + <Py_ssize_t>self.body_len
            self.phase_start = 0
            self.dispatch(total)
        return 0

    def resume(self):
        """Output drained below the low-water mark: go on with pipelined requests."""
        if not self.closed and self.state != ST_HANDLING:
            self.serve_buffered()

    # -- dispatch ----------------------------------------------------------

    cdef int dispatch(self, Py_ssize_t total) except -1:
        cdef Context ctx = self.ctx
        cdef Request req = self.incoming
        cdef const char *base = self.rbuf.data + self.req_start
        cdef const char *t = base + self.target_off
        cdef Py_ssize_t plen = 0
        cdef object route, params, result
        while plen < self.target_len and t[plen] != b'?':
            plen += 1
        self.incoming = None
        if req.buf is not self.rbuf or req.base != self.req_start:
            req.rebase(self.rbuf, self.req_start)        # make_room moved the bytes during the body
        req.body_off = self.head_len
        req.body_len = <Py_ssize_t>self.body_len
        req.app = ctx.app
        self.is_head = req.method is _HEAD
        self.req_start += total
        self.state = ST_HANDLING
        self.started = cz_monotonic() if ctx.access_log is not None else 0
        if ctx.access_log is not None:
            self.current = req
        try:
            if t[0] != b'/':
                if self.target_len == 1 and t[0] == b'*':      # asterisk-form: OPTIONS * only
                    req.path = "*"
                    if req.method == "OPTIONS":
                        return self.respond(Response(b"", 204, {"allow": _SERVER_METHODS}))
                    return self.respond(PlainTextResponse("asterisk-form is for OPTIONS only", 400))
                # absolute-form (RFC 9112 §3.2.2): route on its path
                target = _absolute_path(t[:plen])
                req.path = c_unquote(target, len(target), False)
            else:
                req.path = c_unquote(t, plen, False)
            route, params = (<Router>ctx.router).find(req.method, req.path)
            if route is not None:
                req.async_api = (<Route>route).is_async
            if ctx.slow:
                result = ctx.app._handle(req, route, params)
            elif route is None:
                result = ctx.app._not_found(req, params)
            else:
                req.path_params = params
                if params is not None and route.params_as_kwargs:
                    result = route.endpoint(req, **params)
                else:
                    result = route.endpoint(req)
        except Exception as exc:
            result = ctx.app._error(req, exc)
        if PyCoro_CheckExact(result) or (
                type(result) not in _PLAIN_RESULTS and not isinstance(result, Response)
                and inspect.isawaitable(result)):
            return self.await_result(req, result)
        return self.respond_result(req, result)

    cdef int await_result(self, Request req, object coro) except -1:
        task = self.ctx.task_factory(coro)
        if task.done():
            return self.task_finished(req, task)
        self.task = task
        self.current = req
        task.add_done_callback(self.on_task_done)
        return 0

    def on_task_done(self, task):
        self.task = None
        if self.closed:
            return
        self.task_finished(self.current, task)
        if not self.closed:
            self.serve_buffered()

    cdef int task_finished(self, Request req, object task) except -1:
        cdef object result
        if task.cancelled():
            self.abort()
            return 0
        exc = task.exception()
        if exc is not None:
            try:
                result = self.ctx.app._error(req, exc)
            except BaseException as e:
                result = self.ctx.app._error(req, e)
        else:
            result = task.result()
        return self.respond_result(req, result)

    cdef int respond_result(self, Request req, object result) except -1:
        cdef Response resp
        try:
            resp = to_response(result)
        except Exception as exc:
            resp = to_response(self.ctx.app._error(req, exc))
        if resp._is_file:
            try:
                prepared = resp.prepare(req)
            except Exception as exc:
                resp = to_response(self.ctx.app._error(req, exc))
                return self.respond(resp)
            return self.respond_file(resp, prepared)
        return self.respond(resp)

    # -- responding --------------------------------------------------------

    cdef int respond(self, Response resp) except -1:
        cdef Py_ssize_t blen
        cdef bint chunked
        if self.closed:
            return 0
        if isinstance(resp, StreamingResponse):
            return self.respond_stream(<StreamingResponse>resp)
        body = resp.body
        blen = len(body)
        no_body = self.is_head or resp.status_code == 204 or resp.status_code == 304 \
            or resp.status_code < 200
        resp.render_head(self.out, self.keep_alive, self.http10,
                         -1 if (resp.status_code == 204 or resp.status_code == 304 or resp.status_code < 200)
                         else blen, False)
        if not no_body and blen > 0:
            if blen <= COPY_MAX or self.tail is not None:
                self.out.append_obj(body)
            else:
                self.tail = body
                self.tail_off = 0
        self.log_access(resp.status_code, blen if not no_body else 0)
        return self.response_done()

    cdef int respond_file(self, Response resp, object prepared) except -1:
        """A FileResponse after resp.prepare(request): `prepared` is None (the
        response is resp.body: 304, 416...) or (file object, offset, length),
        sent with sendfile(2) after the head."""
        cdef long long length
        if prepared is None:
            return self.respond(resp)
        length = prepared[2]
        resp.render_head(self.out, self.keep_alive, self.http10, length, False)
        if not self.is_head and length > 0:
            self.file_obj = prepared[0]
            self.file_fd = prepared[0].fileno()
            self.file_off = prepared[1]
            self.file_left = length
        self.log_access(resp.status_code, 0 if self.is_head else length)
        return self.response_done()

    cdef int respond_stream(self, StreamingResponse resp) except -1:
        cdef bint chunked = not self.http10
        if self.http10:
            self.keep_alive = False          # a raw body ends with the connection
        resp.render_head(self.out, self.keep_alive, self.http10, -1, chunked)
        if self.is_head:
            if hasattr(resp.content, "aclose"):
                self.ctx.loop.create_task(resp.content.aclose())
            elif hasattr(resp.content, "close"):
                resp.content.close()
            self.log_access(resp.status_code, 0)
            return self.response_done()
        self.flush()                         # the head goes out before the first item
        if self.closed:
            return 0
        self.pump = make_pump(self.ctx, self, resp.content, chunked, self.stream_done)
        self.stream_status = resp.status_code
        self.pump.start()
        return 0

    def stream_done(self, bint ok):
        self.pump = None
        if self.closed:
            return
        if not ok:
            self.flush()                     # what was produced before the failure still goes out,
            self.abort()                     # but no last chunk: the client sees it is incomplete
            return
        self.log_access(self.stream_status, -1)
        self.response_done()
        if not self.closed:
            self.serve_buffered()

    cdef int response_done(self) except -1:
        self.current = None
        self.last_io = cz_monotonic()
        if not self.keep_alive:
            return self.close_when_idle()
        self.state = ST_HEAD
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

    cdef int send_error(self, int status, str reason) except -1:
        """A protocol error: answer and close, reading nothing more from this connection."""
        cdef Response resp = PlainTextResponse(f"{status} {reason}\n", status)
        self.keep_alive = False
        self.is_head = False
        self.incoming = None
        self.req_start = self.rbuf.end
        resp.render_head(self.out, False, False, len(resp.body), False)
        self.out.append_obj(resp.body)
        self.log_access(status, len(resp.body))
        return self.close_when_idle()

    cdef int log_access(self, int status, Py_ssize_t nbytes) except -1:
        cdef Context ctx = self.ctx
        if ctx.access_log is None:
            return 0
        req = self.current
        peer = self.peer()
        ctx.access_log.info('%s - "%s %s HTTP/%s" %d %s %.1fms',
                            f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "-",
                            req.method if req is not None else "-",
                            req.path if req is not None else "-",
                            req.http_version if req is not None else "1.1",
                            status, "-" if nbytes < 0 else nbytes,
                            (cz_monotonic() - self.started) * 1000.0 if self.started else 0.0)
        return 0

    # -- lifecycle ---------------------------------------------------------

    cdef int check_timeouts(self, double now) except -1:
        cdef Context ctx = self.ctx
        if self.closed:
            return 0
        if self.state == ST_CLOSING:
            if now - self.last_io > 2.0:
                self.abort()
        elif self.pending() > 0 and self.write_since and now - self.write_since > ctx.write_timeout \
                and self.pump is None:
            self.abort()                     # no write progress: the client stopped reading
        elif self.state == ST_HEAD:
            if self.phase_start and now - self.phase_start > ctx.header_timeout:
                self.send_error(408, "request header timeout")
            elif not self.phase_start and self.rbuf.end == self.req_start:
                if now - self.last_io > ctx.keepalive_timeout:
                    self.abort()             # idle keep-alive
                elif now - self.last_io > 1.0:
                    self.release_idle_memory()
        elif self.state == ST_BODY:
            if now - self.phase_start > ctx.body_timeout:
                self.send_error(408, "request body timeout")
        return 0

    cdef int release_idle_memory(self) except -1:
        cdef Buffer b = self.rbuf
        if b.pins == 0 and b.cap > 0:
            b.shrink(0)
        if self.out.cap > 0 and self.pending() == 0:
            self.out.shrink(0)
        return 0

    def shutdown_idle(self):
        """Graceful stop: close now if between requests, else after the current response."""
        if self.closed:
            return
        self.keep_alive = False
        if self.state == ST_HEAD and self.rbuf.end == self.req_start and self.pending() == 0:
            self.abort()

    def cancel_work(self):
        """Deadline passed: stop the handler or stream and close. Returns the
        tasks that were cancelled, for the caller to wait on their cleanup."""
        tasks = [t for t in (self.task, self.pump.running_task() if self.pump is not None else None)
                 if t is not None and not t.done()]
        self.abort()
        return tasks

    @property
    def busy(self):
        return not self.closed and (self.state != ST_HEAD or self.rbuf.end != self.req_start)

    cdef void on_closed(self):
        cdef Pump pump = self.pump
        self.ctx.conns.pop(self.fd, None)
        self.fd = -1
        self.incoming = None
        if pump is not None:
            self.pump = None
            pump.cancel()
        if self.task is not None:
            task = self.task
            self.task = None
            task.cancel()
        self.current = None


cdef bytes _absolute_path(bytes target):
    # "http://host[:port]/path" -> "/path" (query already cut by the caller)
    cdef Py_ssize_t i = target.find(b"://")
    if i < 0:
        raise HTTPException(400, "invalid request target")
    i = target.find(b"/", i + 3)
    return b"/" if i < 0 else target[i:]
