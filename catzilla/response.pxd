from catzilla.buffer cimport Buffer

cdef class Response:
    cdef public int status_code
    cdef public object body              # bytes
    cdef public object content_type      # str or None
    cdef list _headers                   # [(name: bytes, value: bytes)], validated

    # Renders the status line and every header once, straight into `out`.
    # length < 0: no Content-Length (chunked or raw close-delimited stream).
    cdef int render_head(self, Buffer out, bint keep_alive, bint http10, long long length,
                         bint chunked) except -1

cdef class StreamingResponse(Response):
    cdef public object content

cpdef Response to_response(object result)
cpdef object update_date()
