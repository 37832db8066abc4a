"""The Request: lazy, cached views over the bytes the connection read."""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from catzilla.includes.http cimport cz_request
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.string cimport memchr
from catzilla._core.buffer cimport Buffer
from catzilla.datastructures cimport Headers
from catzilla.forms import parse_query, parse_cookies, parse_form, FormError
from catzilla.exceptions import HTTPException

try:
    from orjson import loads as _json_loads
except ImportError:
    from json import loads as _json_loads

from types import SimpleNamespace


cdef inline unsigned char _lower(unsigned char c):
    return c + 32 if 65 <= c <= 90 else c


cdef class Request:
    def __cinit__(self):
        self.hdr = NULL

    def __dealloc__(self):
        PyMem_Free(self.hdr)
        if self.buf is not None:
            self.buf.pins -= 1

    def __init__(self):
        raise TypeError("Requests are made by the server; use catzilla.testing.TestClient in tests")

    cdef object header_value(self, const char *lname, Py_ssize_t n):
        cdef Py_ssize_t i, j
        cdef const char *p = self.buf.data + self.base
        cdef const unsigned char *name
        for i in range(self.nheaders):
            if self.hdr[4 * i + 1] != <unsigned int>n:
                continue
            name = <const unsigned char *>(p + self.hdr[4 * i])
            for j in range(n):
                if _lower(name[j]) != <unsigned char>lname[j]:
                    break
            else:
                return PyUnicode_DecodeLatin1(p + self.hdr[4 * i + 2], self.hdr[4 * i + 3], NULL)
        return None

    @property
    def http_version(self):
        return "1.0" if self.http10 else "1.1"

    cdef bytes raw_query(self):
        """The bytes after the first '?' of the target ("" when there is none)."""
        cdef const char *t = self.buf.data + self.base + self.target_off
        cdef const char *q = <const char *>memchr(t, b'?', <size_t>self.target_len)
        return b"" if q == NULL else q[1:self.target_len - (q - t)]

    @property
    def query_string(self):
        if self._query_string is None:
            self._query_string = self.raw_query().decode("latin-1")
        return self._query_string

    @property
    def query_params(self):
        if self._query_params is None:
            # from the raw bytes: unescaped UTF-8 in a query decodes as UTF-8, not latin-1
            self._query_params = parse_query(self.raw_query())
        return self._query_params

    @property
    def headers(self):
        cdef list pairs
        cdef Py_ssize_t i
        cdef const char *p
        if self._headers is None:
            p = self.buf.data + self.base
            pairs = []
            for i in range(self.nheaders):
                pairs.append((
                    PyUnicode_DecodeLatin1(p + self.hdr[4 * i], self.hdr[4 * i + 1], NULL).lower(),
                    PyUnicode_DecodeLatin1(p + self.hdr[4 * i + 2], self.hdr[4 * i + 3], NULL),
                ))
            self._headers = Headers.from_pairs(pairs)
        return self._headers

    @property
    def cookies(self):
        cdef list parts
        if self._cookies is None:
            parts = self.headers.getlist("cookie")
            self._cookies = parse_cookies("; ".join(parts)) if parts else {}
        return self._cookies

    @property
    def content_type(self):
        return self.header_value("content-type", 12)

    @property
    def body(self):
        if self._body is None:
            self._body = PyBytes_FromStringAndSize(self.buf.data + self.base + self.body_off, self.body_len)
        return self._body

    def json(self):
        """The body parsed as JSON (cached); invalid JSON is a 400 for the client."""
        if self._json is None:
            try:
                self._json = _json_loads(self.body)
            except ValueError as exc:
                raise HTTPException(400, f"invalid JSON body: {exc}") from None
        return self._json

    def form(self):
        """The body as FormData: urlencoded or multipart/form-data (cached)."""
        if self._form is None:
            try:
                self._form = parse_form(self.body, self.content_type or "")
            except FormError as exc:
                raise HTTPException(400, str(exc)) from None
        return self._form

    @property
    def client(self):
        return self.conn.peer() if self.conn is not None else None

    @property
    def state(self):
        """A namespace for middleware and handlers to pass data along."""
        if self._state is None:
            self._state = SimpleNamespace()
        return self._state

    @property
    def url(self):
        cdef str target, origin
        cdef Py_ssize_t i
        if self._url is None:
            target = PyUnicode_DecodeLatin1(self.buf.data + self.base + self.target_off, self.target_len, NULL)
            if target.startswith("/"):
                origin = "http://" + (self.header_value(b"host", 4) or "localhost")
            else:
                # absolute-form: its authority wins over Host (RFC 9112 §3.2.2)
                i = target.find("/", target.find("://") + 3)
                origin = target if i < 0 else target[:i]
            qs = self.query_string
            self._url = origin + self.path + (f"?{qs}" if qs else "")
        return self._url

    def __repr__(self):
        return f"<Request {self.method} {self.path}>"


cdef Request new_request(Buffer buf, Py_ssize_t base, const cz_request *r, str method, object conn):
    cdef Request req = Request.__new__(Request)
    cdef const char *p = buf.data + base
    cdef Py_ssize_t i
    req.hdr = <unsigned int *>PyMem_Malloc(sizeof(unsigned int) * 4 * (r.num_headers + 1))
    if req.hdr == NULL:
        raise MemoryError()
    for i in range(<Py_ssize_t>r.num_headers):
        req.hdr[4 * i] = <unsigned int>(r.headers[i].name - p)
        req.hdr[4 * i + 1] = <unsigned int>r.headers[i].name_len
        req.hdr[4 * i + 2] = <unsigned int>(r.headers[i].value - p)
        req.hdr[4 * i + 3] = <unsigned int>r.headers[i].value_len
    req.nheaders = r.num_headers
    req.buf = buf
    buf.pins += 1
    req.base = base
    req.target_off = r.target - p
    req.target_len = r.target_len
    req.http10 = r.minor_version == 0
    req.method = method
    req.conn = conn
    return req
