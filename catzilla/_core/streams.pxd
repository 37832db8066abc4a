# Stream pumps: pull a response body's iterable and frame each item into the
# transport, respecting back-pressure (pull only below the high-water mark).
from catzilla._core.buffer cimport Buffer
from catzilla._core.context cimport Context
from catzilla._core.transport cimport Transport

cdef int frame(Buffer out, object chunk, bint chunked) except -1

cdef class Pump:
    cdef Context ctx
    cdef Transport t
    cdef object content
    cdef object on_done          # on_done(ok): ok False means abort the connection
    cdef bint chunked
    cdef bint cancelled
    cdef bint finished
    cdef int start(self) except -1
    cdef void cancel(self)       # the client is gone: stop pulling, close the iterator
    cdef int finish(self, object exc) except -1

cdef Pump make_pump(Context ctx, Transport t, object content, bint chunked, object on_done)
