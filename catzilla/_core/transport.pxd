# Socket output side of one connection: the response head rendered straight
# into a C output buffer, an optional zero-copy tail (a large bytes body, or a
# file region sent with sendfile), write interest in the poller, and
# watermarks for back-pressure.
#
# The body protocol: a Response sends itself by calling write_head() and then
# exactly one of write_body(), write_file() or start_stream() -- or, for an
# accepted WebSocket handshake, start_websocket() alone; write_body and
# write_file end the response (response_sent), a stream ends it when its pump
# finishes (stream_done). The connection never asks a response which kind it is.
#
# Transport is also the connection boundary: everything the layers above the
# connection call -- Request (the client address; an incoming body is read
# through its BodyReader, bodyreader.pxd), the pumps (stream_done) -- is a
# cdef method declared here; no Python-level method of the connection is
# called from another module (tests/test_ws_dispatch.py checks). A WebSocket
# protocol calls its connection through the Bridge declared in websocket.pxd.
from catzilla._core.buffer cimport Buffer

cdef class Transport:
    cdef int fd
    cdef int pfd                  # poller fd
    cdef unsigned events          # currently registered CZ_READ / CZ_WRITE
    cdef bint closed
    cdef Buffer out
    cdef object tail              # bytes sent after `out` without copying, or None
    cdef Py_ssize_t tail_off
    cdef int file_fd              # file region sent after `out` with sendfile, -1 when none
    cdef long long file_off
    cdef long long file_left
    cdef object file_obj          # keeps the file open while it is sent
    cdef Py_ssize_t high_water
    cdef Py_ssize_t low_water
    cdef object drain_waiter      # callable run once pending output falls below low_water
    cdef double write_since       # last write progress while output is pending (0: nothing pending)
    # the exchange in progress, set by the connection for each request
    cdef bint keep_alive
    cdef bint http10
    cdef bint head_only           # a HEAD request: the response's head, never its body

    cdef inline Py_ssize_t pending(self):
        cdef Py_ssize_t n = self.out.end - self.out.start
        if self.tail is not None:
            n += len(self.tail) - self.tail_off
        if self.file_fd >= 0:
            n += <Py_ssize_t>self.file_left
        return n
    cdef int set_interest(self, unsigned events) except -1
    # Read back-pressure: read interest off while the consumer (a handler reading
    # a body or WebSocket messages) is behind, or a flood waits in the buffer.
    cdef bint reading_paused
    cdef int pause_reading(self) except -1
    cdef int resume_reading(self) except -1    # no-op unless paused
    # One recv() into `into`: > 0 bytes read, 0 when the socket has nothing now,
    # -1 after EOF or an error (the transport is then closed).
    cdef Py_ssize_t receive(self, char *into, size_t size) except -2
    cdef int flush(self) except -1         # write what can be written now; 1 when all is out
    cdef int on_writable(self) except -1
    cdef void abort(self)                  # close now, dropping pending output
    cdef void on_closed(self)              # subclass hook, called once from abort

    # -- the body protocol (see above) --
    # status line, Server/Date, Content-Type (ct: validated bytes or None),
    # Content-Length (length >= 0) or Transfer-Encoding: chunked, Connection,
    # then `headers`: validated (lower-case name, value) str pairs.
    cdef int write_head(self, int status, bytes ct, list headers, long long length,
                        bint chunked) except -1
    # The head of a body of unknown length: chunked for HTTP/1.1; an HTTP/1.0
    # client gets the body raw, ended by closing the connection. Returns 1 when
    # chunked, 0 when raw: start_stream's `chunked`.
    cdef int write_stream_head(self, int status, bytes ct, list headers) except -1
    cdef int write_body(self, int status, object body) except -1      # bytes; none for HEAD
    cdef int write_file(self, int status, object f, long long offset, long long length) except -1
    # filters: the response's body filters (Response.wrap_body), or None
    cdef int start_stream(self, int status, object content, bint chunked, object encode,
                          double ping, bytes ping_bytes, list filters) except -1
    cdef int response_sent(self, int status, long long nbytes) except -1   # nbytes -1: streamed
    # A streamed response's pump finished: ok False means it failed after the
    # head went out (abort: the client sees the body is incomplete).
    cdef int stream_done(self, bint ok) except -1
    # An upgrade: `ws` (a WSProtocol holding the handler) gets a bridge to the
    # connection, which takes a stream slot and starts the handler; the
    # handshake is answered later, by accept() (the 101) or with HTTP.
    # Raises HTTPException(503) over max_streams, before anything is written.
    cdef int start_websocket(self, object ws) except -1

    # -- the rest of the connection boundary --
    cdef object peer(self)                 # the client's (host, port), or None

cpdef object update_date()        # refresh the cached Date header (the server does, once a second)
