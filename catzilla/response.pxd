from catzilla._core.buffer cimport Buffer

cdef class Response:
    cdef public int status_code
    cdef public object body              # bytes
    cdef bytes _ct                       # Content-Type value, validated, or None
    cdef list _headers                   # [(name: bytes, value: bytes)], validated
    cdef bint _is_file                   # class has sendfile = True: the connection calls prepare()

    # Renders the status line and every header once, straight into `out`.
    # length < 0: no Content-Length (chunked or raw close-delimited stream).
    cdef int render_head(self, Buffer out, bint keep_alive, bint http10, long long length,
                         bint chunked) except -1

cdef class JSONResponse(Response):
    pass

cdef class HTMLResponse(Response):
    pass

cdef class PlainTextResponse(Response):
    pass

cdef class StreamingResponse(Response):
    cdef public object content

cpdef Response to_response(object result)
cpdef object update_date()
