# A growable C byte buffer. The connection's read buffer is shared with the
# Requests parsed from it (they keep offsets, not pointers), so a buffer is
# only ever appended to or grown while anyone else holds it; compaction makes
# a new Buffer instead (see Connection).

cdef class Buffer:
    cdef char *data
    cdef Py_ssize_t start      # first live byte
    cdef Py_ssize_t end        # one past the last live byte
    cdef Py_ssize_t cap
    cdef Py_ssize_t pins       # Requests reading this buffer (catzilla/request.pyx): while
                               # > 0 its bytes are never moved within it or reused

    cdef int reserve(self, Py_ssize_t n) except -1     # room for n more bytes after end
    cdef int append(self, const char *p, Py_ssize_t n) except -1
    cdef int append_obj(self, object data) except -1   # bytes, bytearray, memoryview or str (UTF-8)
    cdef inline Py_ssize_t size(self):
        return self.end - self.start
    cdef inline void consume(self, Py_ssize_t n):
        self.start += n
        if self.start >= self.end:
            self.start = 0
            self.end = 0
    cdef inline void clear(self):
        self.start = 0
        self.end = 0
    cdef int shrink(self, Py_ssize_t keep_cap) except -1  # give memory back when idle
