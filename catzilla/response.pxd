from catzilla._core.transport cimport Transport
from catzilla.request cimport Request

# What middleware may know of a response's body before it is sent
# (Response.body_info): its kind, its length when known, whether it can be
# wrapped. Middleware asks this, never the response's class.
cdef class BodyInfo:
    cdef readonly str kind               # "bytes", "file" or "stream"
    cdef readonly object length          # bytes before any body filter; None when not known in advance
    cdef readonly bint filterable        # wrap_body() takes a filter (False: a body shared by many)

cdef BodyInfo body_info(str kind, object length, bint filterable)


cdef class Response:
    cdef public int status_code
    cdef public object body              # bytes
    cdef bytes _ct                       # Content-Type value, validated, or None
    cdef list _headers                   # [(lower-case name, value)] str pairs, validated
    cdef list _filters                   # body filters (wrap_body), in the order added, or None
    cdef public object background        # a BackgroundTask(s) run once it is sent (Starlette's), or None

    # The body protocol (catzilla/_core/transport.pxd): write the head, then
    # the body. Raises only before anything was written (req may be None for
    # the server's own error answers).
    cdef int send(self, Transport t, Request req) except -1
    # Each kind describes its own body (body_info). A FileResponse opens and
    # stat()s its file here, once, and its send() uses that open file.
    cdef BodyInfo describe(self)


# The body through `filters` whole (each filter's close(data)): bytes.
cdef bytes filtered_whole(list filters, object body)
# The weak-ETag rule, decided here only: the ETag `r` sends for its body is
# weak once the body is wrapped (another representation, RFC 9110 §8.8.1).
cdef str body_etag(Response r, str etag)

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
