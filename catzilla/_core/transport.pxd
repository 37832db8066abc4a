# Socket output side of one connection: an output buffer in C memory, an
# optional zero-copy tail (a large bytes body, or a file region sent with
# sendfile), write interest in the poller, and watermarks for back-pressure.
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

    cdef inline Py_ssize_t pending(self):
        cdef Py_ssize_t n = self.out.end - self.out.start
        if self.tail is not None:
            n += len(self.tail) - self.tail_off
        if self.file_fd >= 0:
            n += <Py_ssize_t>self.file_left
        return n
    cdef int set_interest(self, unsigned events) except -1
    cdef int flush(self) except -1         # write what can be written now; 1 when all is out
    cdef int on_writable(self) except -1
    cdef void abort(self)                  # close now, dropping pending output
    cdef void on_closed(self)              # subclass hook, called once from abort
