from catzilla._core.buffer cimport Buffer
from catzilla.includes.http cimport cz_request

cdef class Request:
    # Set by the connection: everything is an offset into `buf` from `base`,
    # so the Request stays valid after the connection moves on (it keeps the
    # buffer alive; the connection never rewrites a buffer someone holds).
    cdef Buffer buf
    cdef Py_ssize_t base
    cdef Py_ssize_t target_off, target_len
    cdef Py_ssize_t body_off, body_len
    cdef unsigned int *hdr              # 4 per header: name off, name len, value off, value len
    cdef Py_ssize_t nheaders
    cdef bint http10
    cdef readonly str method
    cdef readonly str path
    cdef public dict path_params
    cdef object conn                    # for the client address
    cdef public object app
    cdef object _state, _query_string, _query_params, _headers, _cookies, _body, _json, _form, _url

    cdef object header_value(self, const char *lname, Py_ssize_t n)   # first value of a lower-case name, or None
    cdef bytes raw_query(self)

cdef Request new_request(Buffer buf, Py_ssize_t base, const cz_request *r, str method, object conn)
