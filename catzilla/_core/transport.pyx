"""The output side of a connection: response heads rendered in C, buffered
writev, zero-copy tails and sendfile, write interest, back-pressure."""
import time
from http import HTTPStatus

from posix.unistd cimport close
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcpy
from catzilla._core.buffer cimport Buffer
from catzilla.includes.clock cimport cz_monotonic
from catzilla.includes.errno cimport errno, EAGAIN, EWOULDBLOCK, EINTR
from catzilla.includes.poller cimport CZ_READ, CZ_WRITE, cz_poller_mod, cz_poller_del
from catzilla.includes.python cimport PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND
from catzilla.includes.system cimport recv, iovec, writev, cz_sendfile, CZ_DATE_LEN, cz_http_date

# Bodies up to this size are copied into the output buffer (one write with the
# head); larger ones are sent from the bytes object itself.
DEF COPY_MAX = 16384

# "Server: catzilla\r\nDate: " + IMF-fixdate + "\r\n", refreshed once a second by the server.
cdef char _common[64]
cdef Py_ssize_t _common_len = 0
cdef bytes _SERVER_DATE_PREFIX = b"Server: catzilla\r\nDate: "

cpdef object update_date():
    cdef char date[32]
    cdef Py_ssize_t p = len(_SERVER_DATE_PREFIX)
    global _common_len
    if cz_http_date(<long>time.time(), date, sizeof(date)) != 0:
        return None
    memcpy(_common, PyBytes_AS_STRING(_SERVER_DATE_PREFIX), p)
    memcpy(_common + p, date, CZ_DATE_LEN)
    _common[p + CZ_DATE_LEN] = b'\r'
    _common[p + CZ_DATE_LEN + 1] = b'\n'
    _common_len = p + CZ_DATE_LEN + 2
    return date[:CZ_DATE_LEN].decode("ascii")

update_date()

cdef list _STATUS_LINES = [None] * 600
for _code in range(100, 600):
    try:
        _phrase = HTTPStatus(_code).phrase
    except ValueError:
        _phrase = "Unknown"
    _STATUS_LINES[_code] = f"HTTP/1.1 {_code} {_phrase}\r\n".encode("ascii")

cdef bytes _TE_CHUNKED = b"Transfer-Encoding: chunked\r\n"
cdef bytes _CONN_CLOSE = b"Connection: close\r\n"
cdef bytes _CONN_KEEP = b"Connection: keep-alive\r\n"


cdef int _append_decimal(Buffer out, long long v) except -1:
    cdef char tmp[24]
    cdef int i = 24
    if v < 0:
        raise ValueError("negative length")
    while True:
        i -= 1
        tmp[i] = <char>(48 + v % 10)
        v //= 10
        if v == 0:
            break
    out.append(tmp + i, 24 - i)
    return 0


cdef inline int _append_latin1(Buffer out, str s) except -1:
    # Header names and values are validated latin-1 when set, so their
    # storage is one byte per character: copied without encoding.
    if PyUnicode_KIND(s) != 1:
        raise ValueError(f"header text {s!r} is not latin-1")
    return out.append(<const char *>PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s))


cdef class Transport:
    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.pfd = -1
        self.file_fd = -1
        self.out = Buffer()
        self.tail = None
        self.drain_waiter = None

    cdef Py_ssize_t receive(self, char *into, size_t size) except -2:
        cdef ssize_t n
        while True:
            n = recv(self.fd, into, size, 0)
            if n > 0:
                return n
            if n < 0 and errno == EINTR:
                continue
            if n < 0 and (errno == EAGAIN or errno == EWOULDBLOCK):
                return 0
            self.abort()                         # EOF (the peer is gone, or done) or an error
            return -1

    cdef int pause_reading(self) except -1:
        self.reading_paused = True
        return self.set_interest(self.events & ~CZ_READ)

    cdef int resume_reading(self) except -1:
        if self.reading_paused and not self.closed:
            self.reading_paused = False
            self.set_interest(self.events | CZ_READ)
        return 0

    cdef int set_interest(self, unsigned events) except -1:
        if self.closed or events == self.events:
            return 0
        if cz_poller_mod(self.pfd, self.fd, self.events, events) < 0:
            self.abort()
            return 0
        self.events = events
        return 0

    cdef int flush(self) except -1:
        cdef iovec iov[2]
        cdef int cnt
        cdef ssize_t n
        cdef long long sent
        cdef Py_ssize_t outn, tailn
        while not self.closed:
            outn = self.out.end - self.out.start
            cnt = 0
            if outn > 0:
                iov[0].iov_base = self.out.data + self.out.start
                iov[0].iov_len = <size_t>outn
                cnt = 1
            tailn = 0
            if self.tail is not None:
                tailn = PyBytes_GET_SIZE(self.tail) - self.tail_off
                iov[cnt].iov_base = PyBytes_AS_STRING(self.tail) + self.tail_off
                iov[cnt].iov_len = <size_t>tailn
                cnt += 1
            if cnt > 0:
                n = writev(self.fd, iov, cnt)
                if n < 0:
                    if errno == EINTR:
                        continue
                    if errno == EAGAIN or errno == EWOULDBLOCK:
                        break
                    self.abort()        # EPIPE, ECONNRESET: the peer is gone
                    return 0
                if n > 0:
                    self.write_since = cz_monotonic()    # progress: the write timeout restarts
                if n >= outn:
                    self.out.clear()
                    n -= outn
                    if self.tail is not None:
                        self.tail_off += n
                        if self.tail_off >= PyBytes_GET_SIZE(self.tail):
                            self.tail = None
                            self.tail_off = 0
                else:
                    self.out.consume(n)
                    break
                continue
            if self.file_fd >= 0 and self.file_left > 0:
                sent = cz_sendfile(self.fd, self.file_fd, self.file_off, self.file_left)
                if sent < 0:
                    if errno == EINTR:
                        continue
                    if errno == EAGAIN or errno == EWOULDBLOCK:
                        break
                    self.abort()
                    return 0
                if sent == 0:           # the file shrank under us: the body can't be completed
                    self.abort()
                    return 0
                self.file_off += sent
                self.file_left -= sent
                self.write_since = cz_monotonic()
                continue
            if self.file_fd >= 0:
                self.file_fd = -1
                self.file_obj = None
            break
        if self.closed:
            return 0
        if self.pending() > 0:
            if self.write_since == 0:
                self.write_since = cz_monotonic()
            self.set_interest(self.events | CZ_WRITE)
            return 0
        self.write_since = 0
        if self.events & CZ_WRITE:
            self.set_interest(self.events & ~CZ_WRITE)
        if self.out.cap > 1024 * 1024:
            self.out.shrink(64 * 1024)
        return 1

    cdef int on_writable(self) except -1:
        cdef object waiter
        self.flush()
        if not self.closed and self.drain_waiter is not None and self.pending() <= self.low_water \
                and self.tail is None and self.file_fd < 0:
            waiter = self.drain_waiter
            self.drain_waiter = None
            waiter()
        return 0

    cdef void abort(self):
        if self.closed:
            return
        self.closed = True
        if self.fd >= 0:
            cz_poller_del(self.pfd, self.fd, self.events)
            close(self.fd)
        self.events = 0
        self.out.clear()
        self.tail = None
        self.file_fd = -1
        self.file_obj = None
        self.on_closed()

    cdef void on_closed(self):
        pass

    # -- the body protocol -------------------------------------------------

    cdef int write_head(self, int status, bytes ct, list headers, long long length,
                        bint chunked) except -1:
        cdef Buffer out = self.out
        cdef bytes line = <bytes>_STATUS_LINES[status]
        cdef tuple h
        out.append(PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line))
        out.append(_common, _common_len)
        if ct is not None:
            out.append(b"Content-Type: ", 14)
            out.append(PyBytes_AS_STRING(ct), PyBytes_GET_SIZE(ct))
            out.append(b"\r\n", 2)
        if chunked:
            out.append(PyBytes_AS_STRING(_TE_CHUNKED), PyBytes_GET_SIZE(_TE_CHUNKED))
        elif length >= 0:
            out.append(b"Content-Length: ", 16)
            _append_decimal(out, length)
            out.append(b"\r\n", 2)
        if not self.keep_alive:
            out.append(PyBytes_AS_STRING(_CONN_CLOSE), PyBytes_GET_SIZE(_CONN_CLOSE))
        elif self.http10:
            out.append(PyBytes_AS_STRING(_CONN_KEEP), PyBytes_GET_SIZE(_CONN_KEEP))
        if headers is not None:
            for h in headers:
                _append_latin1(out, <str>h[0])
                out.append(b": ", 2)
                _append_latin1(out, <str>h[1])
                out.append(b"\r\n", 2)
        out.append(b"\r\n", 2)
        return 0

    cdef int write_stream_head(self, int status, bytes ct, list headers) except -1:
        if self.http10:
            self.keep_alive = False             # a raw body ends with the connection
        self.write_head(status, ct, headers, -1, not self.http10)
        return not self.http10

    cdef int write_body(self, int status, object body) except -1:
        cdef Py_ssize_t n = PyBytes_GET_SIZE(body)
        if self.head_only or n == 0:
            return self.response_sent(status, 0)
        if n <= COPY_MAX or self.tail is not None:
            self.out.append(PyBytes_AS_STRING(body), n)
        else:
            self.tail = body
            self.tail_off = 0
        return self.response_sent(status, n)

    cdef int write_file(self, int status, object f, long long offset, long long length) except -1:
        if self.head_only or length <= 0:
            f.close()
            return self.response_sent(status, 0)
        self.file_obj = f
        self.file_fd = f.fileno()
        self.file_off = offset
        self.file_left = length
        return self.response_sent(status, length)

    cdef int start_stream(self, int status, object content, bint chunked, object encode,
                          double ping, bytes ping_bytes, list filters) except -1:
        raise NotImplementedError

    cdef int response_sent(self, int status, long long nbytes) except -1:
        return 0

    cdef int stream_done(self, bint ok) except -1:
        raise NotImplementedError

    cdef int start_websocket(self, object ws) except -1:
        raise NotImplementedError

    # -- the rest of the connection boundary (implemented by the connection) --

    cdef object peer(self):
        return None
