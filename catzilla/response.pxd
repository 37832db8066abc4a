from catzilla._core.transport cimport Transport
from catzilla.request cimport Request

cdef class Response:
    cdef public int status_code
    cdef public object body              # bytes
    cdef bytes _ct                       # Content-Type value, validated, or None
    cdef list _headers                   # [(lower-case name, value)] str pairs, validated
    cdef list _filters                   # body filters (wrap_body), in the order added, or None

    # The body protocol (catzilla/_core/transport.pxd): write the head, then
    # the body. Raises only before anything was written (req may be None for
    # the server's own error answers).
    cdef int send(self, Transport t, Request req) except -1


# The body through `filters` whole (each filter's close(data)): bytes.
cdef bytes filtered_whole(list filters, object body)

cdef class JSONResponse(Response):
    pass

cdef class HTMLResponse(Response):
    pass

cdef class PlainTextResponse(Response):
    pass

cdef class StreamingResponse(Response):
    cdef public object content
    cdef object encode                   # item -> bytes/str before framing (SSE), or None
    cdef readonly double ping            # keep-alive interval for idle streams (SSE), 0: none
    cdef bytes ping_bytes

cpdef Response to_response(object result)
