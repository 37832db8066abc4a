# An incoming body: a request body an async endpoint reads as it arrives
# (request.stream(), await request.body()), bounded by back-pressure: the
# connection stops reading while the handler is behind. (Not to be confused
# with a *stream*, a response body sent as it is produced -- streams.pxd --
# or a *stream slot*, what max_streams counts -- ConnectionTable.)
#
# The connection hands it the bytes read after the head (feed) and takes the
# buffer back once the response is done (what follows the body is the next
# request); the Request reads it through chunk() and wait().
from catzilla._core.buffer cimport Buffer
from catzilla._core.transport cimport Transport
from catzilla.includes.http cimport cz_chunked

cdef class BodyReader:
    cdef Transport t                 # the connection: 100-continue, read back-pressure, keep-alive
    cdef object loop
    cdef readonly long long max_body # the server's max_body setting (await request.body() is bounded by it)
    cdef Buffer buf                  # body bytes not handed out yet, then whatever follows the body
    cdef Py_ssize_t start            # first byte of buf not consumed
    cdef bint chunked
    cdef cz_chunked dec              # chunked: payload decoded in place at buf[start:]
    cdef Py_ssize_t raw_pos          # chunked: next undecoded byte, from start
    cdef Py_ssize_t decoded          # chunked: decoded payload bytes not handed out yet
    cdef bint last                   # chunked: the decoder has seen the last chunk
    cdef long long left              # Content-Length: payload bytes not handed out yet
    cdef long long given             # payload bytes handed to the handler so far
    cdef readonly bint done          # all of the body has been handed out
    cdef bint detached               # the response is done: reads raise ClientDisconnect
    cdef bint continue_pending       # Expect: 100-continue, answered at the first read
    cdef object waiter               # the future the handler awaits for more body
    cdef object error                # what the next read raises (413, 408, 400)

    # bytes read from the socket after the head
    cdef int feed(self, const char *p, Py_ssize_t n) except -1
    cdef Py_ssize_t pending(self)    # bytes buffered and not consumed
    cdef int arrived(self) except -1 # after feeding: wake the handler, pause reading above high water
    cdef bint waiting(self)          # the handler waits for more body
    # The next piece: bytes, b"" when none is ready (then await wait()), None at
    # the end; beyond `limit` payload bytes (-1: none) HTTPException(413).
    cdef object chunk(self, long long limit)
    cdef object wait(self)           # a future resolved when more may be ready
    # The body will not be read to its end: the next read raises, the
    # connection closes after the response (RFC 9112 §9.6).
    cdef int fail(self, int status, str reason) except -1
    cdef int wake(self) except -1
    cdef int detach(self) except -1  # the response is done (or the connection closed)
    cdef Py_ssize_t ready(self) except -2
    cdef int taken(self, Py_ssize_t n) except -1


# The reader for a body of `content_length` bytes (chunked: the decoder runs
# over the bytes as they come, bounded by max_head_bytes per chunk line),
# starting with the `n` bytes at p already read behind the head.
cdef BodyReader new_body_reader(Transport t, object loop, long long max_body, size_t max_head_bytes,
                                bint chunked, long long content_length, bint expect_continue,
                                const char *p, Py_ssize_t n)
