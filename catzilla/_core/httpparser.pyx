# cython: language_level=3
"""Test-facing wrapper of the C HTTP/1.1 parser (include/cz_http.c).

Not used on the serving path, which calls the C functions through
catzilla/chttp.pxd directly; it exists so that the parser's behaviour can be
exercised from pytest (tests/test_parser.py).
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memset

from catzilla.includes.http cimport (
    CZ_ERROR, CZ_INCOMPLETE,
    CZ_F_CHUNKED, CZ_F_CONN_CLOSE, CZ_F_CONN_KEEP_ALIVE, CZ_F_EXPECT_CONTINUE,
    CZ_F_UPGRADE, CZ_F_HAS_HOST,
    cz_header, cz_limits, cz_request, cz_parse_request,
    cz_chunked, cz_chunked_init, cz_chunked_decode,
)

# An upper bound on max_headers so the header array size cannot overflow.
cdef enum:
    MAX_HEADERS_LIMIT = 1 << 20


class ParseError(ValueError):
    """A malformed request: ``status`` is the HTTP status to answer with."""

    def __init__(self, int status, str reason):
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self):
        return f"{self.status} {self.reason}"


def parse_request(bytes data not None, size_t max_request_line=8192,
                  size_t max_head_bytes=65536, size_t max_headers=100):
    """Parse a request head from the start of ``data``.

    Returns None when ``data`` is a valid but incomplete head, a dict when the
    head is complete, and raises ParseError(status, reason) otherwise.
    """
    cdef cz_limits limits
    cdef cz_request req
    cdef cz_header *headers
    cdef const char *buf = data
    cdef size_t n = <size_t>len(data)
    cdef size_t i
    cdef int rc

    if max_headers > MAX_HEADERS_LIMIT:
        raise ValueError("max_headers too large")
    limits.max_request_line = max_request_line
    limits.max_head_bytes = max_head_bytes
    limits.max_headers = max_headers
    headers = <cz_header *>PyMem_Malloc((max_headers if max_headers else 1) * sizeof(cz_header))
    if headers == NULL:
        raise MemoryError()
    try:
        memset(&req, 0, sizeof(req))
        req.headers = headers
        with nogil:
            rc = cz_parse_request(buf, n, &req, &limits)
        if rc == CZ_INCOMPLETE:
            return None
        if rc == CZ_ERROR:
            raise ParseError(req.error_status, req.error_reason.decode("ascii"))
        return {
            "method": req.method[:req.method_len],
            "target": req.target[:req.target_len],
            "version": req.minor_version,
            "headers": [
                (headers[i].name[:headers[i].name_len], headers[i].value[:headers[i].value_len])
                for i in range(req.num_headers)
            ],
            "head_length": rc,
            "content_length": req.content_length,
            "chunked": bool(req.flags & CZ_F_CHUNKED),
            "conn_close": bool(req.flags & CZ_F_CONN_CLOSE),
            "keep_alive": bool(req.flags & CZ_F_CONN_KEEP_ALIVE),
            "expect_continue": bool(req.flags & CZ_F_EXPECT_CONTINUE),
            "upgrade": bool(req.flags & CZ_F_UPGRADE),
            "has_host": bool(req.flags & CZ_F_HAS_HOST),
        }
    finally:
        PyMem_Free(headers)


cdef class ChunkedDecoder:
    """Incremental decoder of a chunked request body (RFC 9112 §7.1)."""

    cdef cz_chunked _dec
    cdef bint _done

    def __cinit__(self, size_t max_trailer_bytes=8192):
        cz_chunked_init(&self._dec, max_trailer_bytes)
        self._done = False

    def feed(self, bytes data not None):
        """Decode the next bytes of the body.

        Returns (decoded, done, leftover): the payload bytes decoded from
        ``data``, whether the body is complete, and the bytes after its end
        (those belong to the next request; empty unless done). The bytes are
        decoded in place in a private copy, so the in-place path is the one
        exercised. Raises ParseError(400, ...) on malformed input.
        """
        cdef bytearray work = bytearray(data)
        cdef char *p = work
        cdef size_t n = <size_t>len(data)
        cdef size_t consumed = 0, produced = 0
        cdef int rc
        with nogil:
            rc = cz_chunked_decode(&self._dec, p, n, p, &consumed, &produced)
        if rc == CZ_ERROR:
            raise ParseError(400, "invalid chunked body")
        if consumed > n or produced > consumed:
            raise AssertionError("chunked decoder broke its contract")
        decoded = bytes(work[:produced])
        if rc == 1:
            self._done = True
            return decoded, True, data[consumed:]
        if consumed != n:
            raise AssertionError("chunked decoder left input unconsumed")
        return decoded, False, b""

    @property
    def done(self):
        return self._done

    @property
    def remaining(self):
        """Payload bytes left in the current chunk."""
        return self._dec.remaining

    @property
    def trailer_bytes(self):
        """Trailer field-line bytes seen so far."""
        return self._dec.trailer_bytes
