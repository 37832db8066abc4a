# permessage-deflate (RFC 7692) for one WebSocket connection: the server's
# inflater for client messages and deflater for its own, over include/cz_pmd.c.
from catzilla.includes.pmd cimport cz_deflater, cz_inflater

cdef class PerMessageDeflate:
    cdef cz_inflater inflater
    cdef cz_deflater deflater
    cdef bint ready                  # __init__ succeeded
    cdef readonly Py_ssize_t max_size
    cdef readonly int error          # close code of the last failed feed/finish: 1007, 1009; 0 if none

    cdef void release(self) noexcept          # free the zlib state (idempotent)
    cdef int usable(self, Py_ssize_t n) except -1
    cdef int outcome(self, int rc) except -1  # a CZ_PMD_* result -> 0 / close code

    # Inflate one frame payload of the current message: 0, 1009 (the message
    # would exceed max_size) or 1007 (invalid data). After a non-zero result
    # every feed returns it again until finish().
    cdef int feed(self, const unsigned char *p, Py_ssize_t n) except -1
    # End of message: the whole decompressed message, or None when it is
    # invalid (self.error = 1007) or too big (self.error = 1009). Either way
    # the inflater is then ready for the next message.
    cdef bytes finish(self)
    # One whole message's compressed payload (send with RSV1 set).
    cdef bytes compress(self, const unsigned char *p, Py_ssize_t n)
