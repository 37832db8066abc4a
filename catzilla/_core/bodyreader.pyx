"""An incoming body: a request body handed to an async endpoint as it arrives
(see bodyreader.pxd). The Request keeps its head's buffer; the body bytes,
and whatever follows them, live in this reader's own buffer, compacted as the
handler consumes it; chunked bodies are decoded in place."""
from libc.string cimport memcpy, memmove
from cpython.bytes cimport PyBytes_FromStringAndSize
from catzilla._core.buffer cimport Buffer
from catzilla._core.transport cimport Transport
from catzilla.includes.http cimport cz_chunked_init, cz_chunked_decode, CZ_ERROR
from catzilla.exceptions import ClientDisconnect, HTTPException

cdef bytes _CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


cdef BodyReader new_body_reader(Transport t, object loop, long long max_body, size_t max_head_bytes,
                                bint chunked, long long content_length, bint expect_continue,
                                const char *p, Py_ssize_t n):
    cdef BodyReader r = BodyReader.__new__(BodyReader)
    r.t = t
    r.loop = loop
    r.max_body = max_body
    r.buf = Buffer()
    r.chunked = chunked
    if chunked:
        cz_chunked_init(&r.dec, max_head_bytes)
    else:
        r.left = content_length
    r.continue_pending = expect_continue and n == 0
    if n > 0:
        r.feed(p, n)
    return r


cdef class BodyReader:

    cdef int feed(self, const char *p, Py_ssize_t n) except -1:
        cdef Buffer b = self.buf
        cdef Py_ssize_t live
        if b.cap - b.end < n and self.start > 0:
            live = b.end - self.start             # offsets from start (raw_pos, decoded) stay valid
            if live > 0:
                memmove(b.data, b.data + self.start, <size_t>live)
            b.end = live
            self.start = 0
        b.reserve(n)
        memcpy(b.data + b.end, p, <size_t>n)
        b.end += n
        return 0

    cdef Py_ssize_t pending(self):
        return self.buf.end - self.start

    cdef int arrived(self) except -1:
        self.wake()
        # past the high-water mark TCP, not memory, holds the rest (taken() resumes reading)
        if not self.done and self.pending() >= self.t.high_water:
            self.t.pause_reading()
        return 0

    cdef bint waiting(self):
        return self.waiter is not None

    cdef Py_ssize_t ready(self) except -2:
        """Payload bytes ready at buf[start:] (chunked: decoded in place), or -1 on
        a malformed chunked body."""
        cdef Py_ssize_t avail = self.buf.end - self.start
        cdef char *base = self.buf.data + self.start
        cdef size_t consumed = 0, produced = 0
        cdef int rc
        if not self.chunked:
            return avail if avail < self.left else <Py_ssize_t>self.left
        if not self.last and avail > self.raw_pos:
            rc = cz_chunked_decode(&self.dec, base + self.raw_pos, <size_t>(avail - self.raw_pos),
                                   base + self.decoded, &consumed, &produced)
            self.raw_pos += consumed
            self.decoded += produced
            if rc == CZ_ERROR:
                return -1
            self.last = rc == 1
        return self.decoded

    cdef int taken(self, Py_ssize_t n) except -1:
        """n ready bytes were handed out: drop them, note the end of the body,
        and read again once the handler has caught up."""
        cdef Transport t = self.t
        self.start += n
        self.given += n
        if self.chunked:
            self.raw_pos -= n
            self.decoded -= n
            if self.decoded == 0:
                # Nothing decoded waits: drop the chunk framing read so far (at the
                # end, the trailers too: what follows is the next request).
                self.start += self.raw_pos
                self.raw_pos = 0
                self.done = self.last
        else:
            self.left -= n
            self.done = self.left == 0
        if self.start == self.buf.end and self.raw_pos == 0:
            self.buf.clear()
            self.start = 0
        if t.reading_paused and (self.done or self.buf.end - self.start <= t.low_water):
            t.resume_reading()
        return 0

    cdef int fail(self, int status, str reason) except -1:
        self.t.keep_alive = False
        self.error = HTTPException(status, reason)
        self.wake()
        return 0

    cdef int wake(self) except -1:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return 0

    cdef int detach(self) except -1:
        self.detached = True
        self.waiter = None
        return 0

    cdef object chunk(self, long long limit):
        cdef Transport t = self.t
        cdef Py_ssize_t n
        cdef bytes piece
        if t.closed or self.detached:
            raise ClientDisconnect()
        if self.error is not None:
            raise self.error
        if self.done:
            return None
        if limit >= 0 and not self.chunked and self.given + self.left > limit:
            self.fail(413, "request body too large")   # known from Content-Length: read nothing
            raise self.error
        if self.continue_pending:
            self.continue_pending = False
            t.out.append(_CONTINUE, len(_CONTINUE))
            t.flush()
        n = self.ready()
        if n < 0:
            self.fail(400, "malformed chunked body")
            raise self.error
        # chunked: the announced size of the current chunk counts before its data arrives
        if limit >= 0 and (self.given + n > limit or (self.chunked and
                self.dec.remaining > <unsigned long long>(limit - self.given - n))):
            self.fail(413, "request body too large")
            raise self.error
        if n > 0:
            piece = PyBytes_FromStringAndSize(self.buf.data + self.start, n)
            self.taken(n)
            return piece
        if self.chunked and self.last:
            self.taken(0)
            return None
        return b""

    cdef object wait(self):
        if self.t.closed or self.detached:
            raise ClientDisconnect()
        self.waiter = self.loop.create_future()
        return self.waiter
