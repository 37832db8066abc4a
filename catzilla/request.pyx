"""The Request: lazy, cached views over the bytes of one request head and body."""
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_DecodeLatin1, PyUnicode_New
from libc.stdint cimport uint32_t, UINT32_MAX
from libc.string cimport memchr, memset
from cpython.pyport cimport PY_SSIZE_T_MAX
from catzilla._core.bodyreader cimport BodyReader
from catzilla._core.buffer cimport Buffer
from catzilla._core.transport cimport Transport
from catzilla.datastructures cimport Headers, validated_pairs
from catzilla.forms cimport c_unquote
from catzilla.includes.http cimport cz_header, cz_limits, cz_request, cz_parse_request, CZ_ERROR
from catzilla.forms import (parse_query, parse_cookies, parse_form, parse_options_header, multipart_boundary,
                            FormError, MultipartParser)
from catzilla.exceptions import ClientDisconnect, HTTPException

import json as _stdjson
from msgspec import DecodeError as _DecodeError
from msgspec.json import decode as _json_decode


cdef class State:
    """An attribute bag (Starlette's State): ``state.db = pool``, ``state.db``,
    ``del state.db``; a missing attribute is an AttributeError. The attributes
    live in a dict, ``state._state``: ``State(d)`` keeps them in the dict `d`
    itself (not a copy; another mapping is copied), ``State()`` in a new one.

    ``app.state`` is the app's (what its lifespan yields lands there);
    ``request.state`` is each request's own, starting as a shallow copy of
    ``app.state`` (see Request.state)."""
    cdef readonly dict _state

    def __init__(self, state=None):
        if state is None:
            state = {}
        elif not isinstance(state, dict):
            state = dict(state)
        self._state = state

    def __getattr__(self, str name):
        try:
            return self._state[name]
        except KeyError:
            raise AttributeError(f"'State' object has no attribute {name!r}") from None

    def __setattr__(self, str name, value):
        self._state[name] = value

    def __delattr__(self, str name):
        try:
            del self._state[name]
        except KeyError:
            raise AttributeError(f"'State' object has no attribute {name!r}") from None

    def __repr__(self):
        return "State(" + ", ".join(f"{k}={v!r}" for k, v in self._state.items()) + ")"


class RequestBody(bytes):
    """The request body: a bytes object that can also be called, for the async API.

    ``request.body == b"..."``, ``len(request.body)`` and slicing work as for
    bytes; ``await request.body()`` resolves to the same content as a plain
    ``bytes`` (what libraries that insist on exact bytes, e.g. orjson, need).
    """
    __slots__ = ()

    def __call__(self):
        return _resolved(bytes(self))


cdef object _EMPTY_BODY = RequestBody()


async def _resolved(value):
    return value


async def _json_later(Request req):
    if req._body is None and req.reader is not None:
        await _read_body(req)
    return _json_value(req)


async def _form_later(Request req):
    cdef str content_type
    if req._form is None and req._body is None and req.reader is not None:
        content_type = req.content_type or ""
        if parse_options_header(content_type)[0] == "multipart/form-data":
            req._form = await _stream_multipart(req, content_type)
        else:
            await _read_body(req)
    return _form_value(req)


async def _stream_multipart(Request req, str content_type):
    """multipart/form-data parsed as it arrives: file parts spool to temporary
    files, so memory stays flat; the files are deleted when the request ends."""
    try:
        parser = MultipartParser(multipart_boundary(content_type))
    except FormError as exc:
        raise HTTPException(exc.status_code, str(exc)) from None
    if req.stream_used:
        raise RuntimeError("the request body was already consumed by request.stream()")
    req.stream_used = True
    try:
        async for chunk in _streamed(req, -1):
            parser.feed(chunk)
        return parser.finish()
    except FormError as exc:
        parser.close()
        raise HTTPException(exc.status_code, str(exc)) from None
    except BaseException:
        parser.close()
        raise


async def _read_body(Request req):
    """A streamed body read whole, bounded by the server's max_body (413 beyond)."""
    if req._body is None:
        if req.stream_used:
            raise RuntimeError("the request body was already consumed by request.stream()")
        req.stream_used = True
        parts = [chunk async for chunk in _streamed(req, req.reader.max_body)]
        req._body = b"".join(parts)
    return _exact_body(req)


async def _streamed(Request req, long long limit):
    """The body as it arrives from the connection (its BodyReader)."""
    cdef BodyReader reader = req.reader
    while True:
        chunk = reader.chunk(limit)
        if chunk is None:
            return
        if chunk:
            yield chunk
        else:
            await reader.wait()


async def _buffered(bytes body, long long limit):
    if limit >= 0 and len(body) > limit:
        raise HTTPException(413, "request body too large")
    if body:
        yield body


class _UnreadBody:
    """`request.body` of an async endpoint whose body is still arriving: only
    `await request.body()` can read it."""
    __slots__ = ("request",)

    def __init__(self, request):
        self.request = request

    def __call__(self):
        return _read_body(self.request)

    def _unread(self, *args):
        raise RuntimeError("the request body is still arriving: use `await request.body()` "
                           "or `async for chunk in request.stream()`")

    __bytes__ = __len__ = __iter__ = __getitem__ = __eq__ = _unread
    __hash__ = None


cdef str _lower_name(const char *p, Py_ssize_t n):
    """A field name, lower-cased, decoded in one allocation (names are ASCII tokens)."""
    cdef str s = PyUnicode_New(n, 127)
    cdef unsigned char *d = <unsigned char *>PyUnicode_1BYTE_DATA(s)
    cdef Py_ssize_t i
    cdef unsigned char c
    for i in range(n):
        c = <unsigned char>p[i]
        if c >= 0x80:                 # not from our parser: the general path
            return PyUnicode_DecodeLatin1(p, n, NULL).lower()
        d[i] = c + 32 if 65 <= c <= 90 else c
    return s


cdef int _fill(Request req, Buffer buf, Py_ssize_t base, const cz_request *r, str method,
               Transport conn) except -1:
    """Copy what `r` (parsed from buf.data + base) says into `req` as offsets; pin `buf`."""
    cdef const char *p = buf.data + base
    cdef Py_ssize_t limit = buf.end - base
    cdef Py_ssize_t i, n = <Py_ssize_t>r.num_headers
    cdef Py_ssize_t name_off, value_off
    cdef const cz_header *h
    cdef HeaderSpan *spans
    cdef size_t cap
    if req.buf is not None:
        raise TypeError("this Request is already initialised")
    if limit < 0 or <size_t>n > <size_t>PY_SSIZE_T_MAX / sizeof(HeaderSpan):
        raise MemoryError()
    cap = <size_t>limit if <size_t>limit < <size_t>UINT32_MAX else <size_t>UINT32_MAX   # offsets are 32-bit
    spans = <HeaderSpan *>PyMem_Malloc(sizeof(HeaderSpan) * <size_t>(n if n > 0 else 1))
    if spans == NULL:
        raise MemoryError()
    PyMem_Free(req.spans)
    req.spans = spans
    req.nheaders = 0
    for i in range(n):
        h = &r.headers[i]
        name_off = h.name - p
        value_off = h.value - p
        # the parser's pointers lie in the buffer, and 32 bits hold the offsets
        if name_off < 0 or value_off < 0 or h.name_len > cap or h.value_len > cap \
                or <size_t>name_off > cap - h.name_len or <size_t>value_off > cap - h.value_len:
            raise ValueError("header field outside the request buffer or too far into it")
        spans[i].name_off = <uint32_t>name_off
        spans[i].name_len = <uint32_t>h.name_len
        spans[i].value_off = <uint32_t>value_off
        spans[i].value_len = <uint32_t>h.value_len
    req.nheaders = n
    if r.target < p or r.target_len > <size_t>limit or <size_t>(r.target - p) > <size_t>limit - r.target_len:
        raise ValueError("request-target outside the request buffer")
    req.target_off = r.target - p
    req.target_len = <Py_ssize_t>r.target_len
    req.http10 = r.minor_version == 0
    req.method = method
    req.conn = conn
    req.base = base
    req.buf = buf
    buf.pins += 1
    return 0


cdef Request new_request(Buffer buf, Py_ssize_t base, const cz_request *r, str method, Transport conn):
    cdef Request req = Request.__new__(Request)
    _fill(req, buf, base, r, method, conn)
    return req


cdef Request early_request(Buffer buf, Py_ssize_t base, const cz_request *r, Transport conn):
    cdef cz_request part
    cdef Request req = Request.__new__(Request)
    memset(&part, 0, sizeof(part))
    part.minor_version = r.minor_version
    if r.method != NULL and r.target != NULL:
        part.target = r.target
        part.target_len = r.target_len
    else:
        part.target = buf.data + base
    _fill(req, buf, base, &part, PyUnicode_DecodeLatin1(r.method, r.method_len, NULL)
          if r.method != NULL else "", conn)
    return req


cdef inline const char *_data(Request req) except NULL:
    """Start of the request's bytes (a Request made by Request.__new__ alone has none)."""
    if req.buf is None:
        raise RuntimeError("this Request was not initialised")
    return req.buf.data + req.base


cdef object _json_loads(bytes data):
    """The body as JSON: msgspec's one-pass decode (the model engine's), and for
    what it refuses the standard library's answer, so request.json() means
    json.loads: NaN and Infinity are taken, an error is json's own (a
    ValueError naming the position)."""
    try:
        return _json_decode(data)
    except _DecodeError:
        return _stdjson.loads(data)


cdef bytes _exact_body(Request req):
    # the cached body when it is plain bytes (what the JSON decoder takes without a copy)
    if type(req._body) is bytes:
        return req._body
    if req.reader is not None and req._body is not None:
        return bytes(req._body)
    return req.raw_body()


cdef object _json_value(Request req):
    if req._json is None:
        try:
            req._json = (_json_loads(_exact_body(req)),)    # a 1-tuple: the body may be `null`
        except ValueError as exc:
            raise HTTPException(400, f"invalid JSON body: {exc}") from None
    return (<tuple>req._json)[0]


cdef object _form_value(Request req):
    if req._form is None:
        try:
            req._form = parse_form(_exact_body(req), req.content_type or "")
        except FormError as exc:
            raise HTTPException(exc.status_code, str(exc)) from None
    return req._form


@cython.no_gc_clear   # __dealloc__ must still see `buf` to unpin it when a cycle is collected
cdef class Request:
    """One HTTP request: method, path, query, headers, cookies and body, as lazy
    cached views over the bytes the server read (nothing is decoded until asked).

    Body API, by the kind of endpoint (the server sets it when it dispatches):

    * ``def`` endpoint: ``request.body`` is the body (bytes), ``request.json()``
      and ``request.form()`` return the parsed value.
    * ``async def`` endpoint (Starlette style): ``await request.body()``,
      ``await request.json()``, ``await request.form()``; ``request.body`` is
      still usable as bytes.

    ``request.body`` is a RequestBody: a bytes subclass whose call returns an
    awaitable of the body as plain bytes, so both spellings work in both kinds
    of endpoint. Invalid JSON or form data raises HTTPException(400) (when
    awaited, in the async API).

    ``Request(method, url, headers, body, *, http_version, client)`` builds a
    request for unit tests: the raw bytes are made and parsed by the server's
    own parser, so every view behaves as for a served request. A Host header
    ("testserver", or the authority of an absolute `url`) and a Content-Length
    for a non-empty body are added unless given; bad input is a ValueError.
    Such a request uses the synchronous body API.
    """

    def __cinit__(self):
        self.spans = NULL

    def __dealloc__(self):
        PyMem_Free(self.spans)
        if self.buf is not None:
            self.buf.pins -= 1

    def __init__(self, str method not None="GET", str url not None="/", headers=None, body=b"", *,
                 str http_version not None="1.1", client=None):
        cdef bytes content, head
        cdef list pairs
        cdef set names
        cdef str authority = "testserver"
        cdef Buffer buf
        cdef cz_request r
        cdef cz_limits limits
        cdef cz_header *fields
        cdef int rc
        cdef Py_ssize_t q
        if self.buf is not None:
            raise TypeError("this Request is already initialised")
        if http_version != "1.1" and http_version != "1.0":
            raise ValueError(f"http_version must be '1.1' or '1.0', not {http_version!r}")
        if isinstance(body, str):
            content = (<str>body).encode("utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            content = bytes(body)
        else:
            raise TypeError(f"body must be bytes or str, not {type(body).__name__}")
        if not method.isascii() or not url.isascii():
            raise ValueError("method and url must be ASCII (percent-encode the url)")
        if not (url.startswith("/") or url == "*" or "://" in url):
            raise ValueError(f"url must be a path ('/...'), an absolute URL or '*', not {url!r}")
        pairs = validated_pairs(headers)
        names = {(<tuple>t)[0] for t in pairs}
        if "transfer-encoding" in names:
            raise ValueError("Request() takes the decoded body: Transfer-Encoding is not supported")
        if "host" not in names:
            if "://" in url:
                authority = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
            pairs.insert(0, ("host", authority))
        if content and "content-length" not in names:
            pairs.append(("content-length", str(len(content))))
        head = (f"{method} {url} HTTP/{http_version}\r\n"
                + "".join([f"{(<tuple>t)[0]}: {(<tuple>t)[1]}\r\n" for t in pairs])
                + "\r\n").encode("latin-1")       # values were checked to be latin-1
        buf = Buffer()
        buf.append_obj(head)
        buf.append_obj(content)
        fields = <cz_header *>PyMem_Malloc(sizeof(cz_header) * <size_t>(len(pairs) + 1))
        if fields == NULL:
            raise MemoryError()
        try:
            memset(&r, 0, sizeof(r))
            r.headers = fields
            limits.max_request_line = <size_t>len(head)
            limits.max_head_bytes = <size_t>len(head)
            limits.max_headers = <size_t>(len(pairs) + 1)
            rc = cz_parse_request(buf.data, <size_t>buf.end, &r, &limits)
            if rc == CZ_ERROR:
                raise ValueError(f"invalid request: {r.error_reason.decode('latin-1')} "
                                 f"(a server answers {r.error_status})")
            # each part must be exactly what was given: e.g. a CR/LF in method
            # or url would make the parser see a different request
            if rc != len(head) or r.method != buf.data or r.method_len != <size_t>len(method) \
                    or r.target_len != <size_t>len(url) or r.num_headers != <size_t>len(pairs):
                raise ValueError("invalid request: method or url is not a single token")
            if r.content_length >= 0 and r.content_length != len(content):
                raise ValueError(f"Content-Length {r.content_length} does not match the body "
                                 f"({len(content)} bytes)")
            _fill(self, buf, 0, &r, method, None)
        finally:
            PyMem_Free(fields)
        self.body_off = len(head)
        self.body_len = len(content)
        self._client = client
        self.set_path()

    cdef int set_path(self) except -1:
        cdef const char *t = _data(self) + self.target_off
        cdef Py_ssize_t plen = 0, i
        cdef bytes target
        while plen < self.target_len and t[plen] != b'?':
            plen += 1
        if plen > 0 and t[0] == b'/':
            self.path = c_unquote(t, plen, False)
            return 0
        if self.target_len == 1 and t[0] == b'*':
            self.path = "*"
            return 0
        # absolute-form, RFC 9112 §3.2.2: "http://host[:port]/path" -> "/path"
        target = t[:plen]
        i = target.find(b"://")
        if i < 0:
            raise ValueError("invalid request target")
        i = target.find(b"/", i + 3)
        self.path = "/" if i < 0 else c_unquote(t + i, plen - i, False)
        return 0

    cdef int rebase(self, Buffer buf, Py_ssize_t base) except -1:
        buf.pins += 1
        if self.buf is not None:
            self.buf.pins -= 1
        self.buf = buf
        self.base = base
        return 0

    @property
    def http_version(self):
        return "1.0" if self.http10 else "1.1"

    cdef bytes raw_query(self):
        """The bytes after the first '?' of the target ("" when there is none)."""
        cdef const char *t = _data(self) + self.target_off
        cdef const char *q = <const char *>memchr(t, b'?', <size_t>self.target_len)
        return b"" if q == NULL else q[1:self.target_len - (q - t)]

    cdef int close_files(self) except -1:
        if self._form is not None:
            self._form.close()
        return 0

    cdef bytes raw_body(self):
        return PyBytes_FromStringAndSize(_data(self) + self.body_off, self.body_len)

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
        cdef HeaderSpan *s
        if self._headers is None:
            p = _data(self)
            pairs = []
            for i in range(self.nheaders):
                s = &self.spans[i]
                pairs.append((_lower_name(p + s.name_off, s.name_len),
                              PyUnicode_DecodeLatin1(p + s.value_off, s.value_len, NULL)))
            self._headers = Headers.from_pairs(pairs)
        return self._headers

    @property
    def cookies(self):
        cdef list parts
        if self._cookies is None:
            parts = (<Headers>self.headers).getlist("cookie")
            self._cookies = parse_cookies("; ".join(parts)) if parts else {}
        return self._cookies

    @property
    def content_type(self):
        return (<Headers>self.headers).get("content-type")

    @property
    def body(self):
        """The body as bytes; for an async endpoint a RequestBody, so that
        `await request.body()` works too (plain bytes stay the fast, exact type
        for def handlers and for libraries such as orjson)."""
        if self._body is None:
            if self.reader is not None:
                return _UnreadBody(self)
            self._body = self.raw_body()
        if self.async_api and type(self._body) is bytes:
            self._body = _EMPTY_BODY if len(self._body) == 0 else RequestBody(self._body)
        return self._body

    def stream(self, max_size=None):
        """The body as an async iterator of bytes chunks, in an async endpoint.

        A body still arriving when the endpoint starts is handed over as it comes
        off the socket: the server stops reading while the handler is not
        consuming, so memory stays flat whatever the size. `max_size` bounds it
        (default: no limit; HTTPException(413) beyond, raised before reading when
        Content-Length already tells). `Expect: 100-continue` is answered at the
        first read. A body already read whole (or by `await request.body()`)
        comes as one chunk. ClientDisconnect if the client goes away first."""
        cdef long long limit = -1
        if max_size is not None:
            limit = max_size
            if limit < 0:
                raise ValueError("max_size must be >= 0 or None")
        if self._body is not None or self.reader is None:
            return _buffered(_exact_body(self), limit)
        if self.stream_used:
            raise RuntimeError("the request body stream was already consumed")
        self.stream_used = True
        return _streamed(self, limit)

    def json(self):
        """The body parsed as JSON (cached); invalid JSON is a 400 for the client.
        An awaitable of it when the endpoint is async."""
        if self.async_api:
            return _json_later(self)
        return _json_value(self)

    def form(self):
        """The body as FormData: urlencoded or multipart/form-data (cached).
        An awaitable of it when the endpoint is async."""
        if self.async_api:
            return _form_later(self)
        return _form_value(self)

    cdef object peer(self):
        if self.conn is not None:
            return self.conn.peer()
        return self._client

    cdef int forwarded(self, bint has_client, object client, str scheme, str host) except -1:
        if has_client:
            self._client = client
            self.client_forwarded = True
        if scheme is not None:
            self._scheme = scheme
        if host is not None:
            self._host = host
        self._url = None                   # built again from the forwarded parts
        return 0

    @property
    def client(self):
        """The peer address, or the client a trusted proxy forwarded (see
        catzilla.proxy): (host, port), port 0 when unknown; None when unknown."""
        if self.client_forwarded or self.conn is None:
            return self._client
        return self.conn.peer()

    cdef str target(self):
        return PyUnicode_DecodeLatin1(_data(self) + self.target_off, self.target_len, NULL)

    cdef str absolute_part(self, bint authority):
        cdef const char *t = _data(self) + self.target_off
        cdef str target
        cdef Py_ssize_t i, j
        if self.target_len == 0 or t[0] == b'/' or t[0] == b'*':
            return None
        target = PyUnicode_DecodeLatin1(t, self.target_len, NULL)
        i = target.find("://")
        if i < 0:
            return None
        if not authority:
            return target[:i].lower()
        j = i + 3
        while j < len(target) and target[j] not in "/?#":
            j += 1
        return target[i + 3:j]

    @property
    def scheme(self):
        """"http", or what a trusted proxy forwarded ("https"...), or the
        scheme of an absolute-form request-target."""
        if self._scheme is not None:
            return self._scheme
        return self.absolute_part(False) or "http"

    @property
    def host(self):
        """The host (with its port, if given) the client addressed: what a
        trusted proxy forwarded, else the authority of an absolute-form
        request-target (which wins over Host, RFC 9112 §3.2.2), else the Host
        header; "" when there is none."""
        if self._host is not None:
            return self._host
        return self.absolute_part(True) or (<Headers>self.headers).get("host") or ""

    @property
    def state(self):
        """This request's State, for middleware and handlers to pass data along.
        Its attributes start as a shallow copy of the app's (``app.state``:
        what the lifespan yielded, and what startup code set there): setting
        or deleting one here changes neither ``app.state`` nor another
        request's state, while the objects themselves (a pool, a client) are
        shared. Made at the first access: a request that never reads it pays
        nothing."""
        cdef object shared
        if self._state is None:
            shared = getattr(self.app, "state", None) if self.app is not None else None
            self._state = State((<State>shared)._state.copy() if isinstance(shared, State) else None)
        return self._state

    @property
    def url(self):
        if self._url is None:
            qs = self.query_string
            self._url = f"{self.scheme}://{self.host or 'localhost'}{self.path}" + (f"?{qs}" if qs else "")
        return self._url

    def __repr__(self):
        return f"<Request {self.method} {self.path}>"
