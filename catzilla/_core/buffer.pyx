from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.string cimport memcpy, memmove

from catzilla.includes.python cimport PyUnicode_AsUTF8AndSize

cdef class Buffer:
    def __cinit__(self, Py_ssize_t capacity=0):
        self.data = NULL
        self.start = self.end = self.cap = 0
        if capacity > 0:
            self.reserve(capacity)

    def __dealloc__(self):
        PyMem_Free(self.data)

    cdef int reserve(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t live, want
        cdef char *p
        if n < 0:
            raise ValueError("negative reserve")
        if self.cap - self.end >= n:
            return 0
        live = self.end - self.start
        # Slide to the front when that makes room and moves little: only the
        # owner calls reserve on a buffer whose prefix nobody else reads.
        if self.start > 0 and self.cap - live >= n and live <= self.start:
            memmove(self.data, self.data + self.start, <size_t>live)
            self.start = 0
            self.end = live
            return 0
        want = self.cap if self.cap > 0 else 256
        while want - self.end < n:
            if want > (<Py_ssize_t>1 << 60):
                raise MemoryError()
            want *= 2
        p = <char *>PyMem_Realloc(self.data, <size_t>want)
        if p == NULL:
            raise MemoryError()
        self.data = p
        self.cap = want
        return 0

    cdef int append(self, const char *p, Py_ssize_t n) except -1:
        if n <= 0:
            return 0
        self.reserve(n)
        memcpy(self.data + self.end, p, <size_t>n)
        self.end += n
        return 0

    cdef int append_obj(self, object data) except -1:
        cdef Py_buffer view
        cdef const char *p
        cdef Py_ssize_t n
        if PyBytes_CheckExact(data):
            return self.append(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        if isinstance(data, str):
            p = PyUnicode_AsUTF8AndSize(data, &n)
            return self.append(p, n)
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            self.append(<const char *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)
        return 0

    cdef int shrink(self, Py_ssize_t keep_cap) except -1:
        cdef char *p
        if self.end == self.start and self.cap > keep_cap:
            p = <char *>PyMem_Realloc(self.data, <size_t>keep_cap) if keep_cap > 0 else NULL
            if keep_cap > 0 and p == NULL:
                return 0  # keeping the bigger block is harmless
            if keep_cap == 0:
                PyMem_Free(self.data)
            self.data = p
            self.cap = keep_cap
            self.start = self.end = 0
        return 0

    def __len__(self):
        return self.end - self.start

    def getvalue(self):
        return (self.data + self.start)[:self.end - self.start] if self.end > self.start else b""
