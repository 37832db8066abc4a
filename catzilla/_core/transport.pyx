from catzilla.includes.errno cimport errno, EAGAIN, EWOULDBLOCK, EINTR
from posix.unistd cimport close
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from catzilla._core.buffer cimport Buffer
from catzilla.includes.poller cimport CZ_READ, CZ_WRITE, cz_poller_mod, cz_poller_del

from catzilla.includes.system cimport iovec, writev, cz_sendfile


from catzilla.includes.clock cimport cz_monotonic


cdef class Transport:
    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.pfd = -1
        self.file_fd = -1
        self.out = Buffer()
        self.tail = None
        self.drain_waiter = None
        self.high_water = 256 * 1024
        self.low_water = 64 * 1024

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
