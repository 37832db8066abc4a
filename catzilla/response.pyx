"""Responses. Status line and headers are rendered once, into the connection's
C output buffer; header names and values are validated when set, so nothing
the application does can split a response (no CR/LF/NUL reaches the wire)."""
import inspect
import time
from http import HTTPStatus
from http.cookies import SimpleCookie
from urllib.parse import quote

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact

from libc.string cimport memcpy
from catzilla._core.buffer cimport Buffer

try:
    import orjson as _orjson
except ImportError:
    _orjson = None
import json as _json

from catzilla.includes.system cimport CZ_DATE_LEN, cz_http_date

# "Server: catzilla\r\nDate: " + IMF-fixdate + "\r\n", refreshed once a second by the server.
cdef char _common[64]
cdef Py_ssize_t _common_len = 0
cdef bytes _SERVER_DATE_PREFIX = b"Server: catzilla\r\nDate: "

cpdef object update_date():
    cdef char date[32]
    cdef Py_ssize_t p = len(_SERVER_DATE_PREFIX)
    global _common_len
    if cz_http_date(<long>time.time(), date, sizeof(date)) != 0:
        return None
    memcpy(_common, PyBytes_AS_STRING(_SERVER_DATE_PREFIX), p)
    memcpy(_common + p, date, CZ_DATE_LEN)
    _common[p + CZ_DATE_LEN] = b'\r'
    _common[p + CZ_DATE_LEN + 1] = b'\n'
    _common_len = p + CZ_DATE_LEN + 2
    return date[:CZ_DATE_LEN].decode("ascii")

update_date()

cdef list _STATUS_LINES = [None] * 600
for _code in range(100, 600):
    try:
        _phrase = HTTPStatus(_code).phrase
    except ValueError:
        _phrase = "Unknown"
    _STATUS_LINES[_code] = f"HTTP/1.1 {_code} {_phrase}\r\n".encode("ascii")

cdef bytes _TE_CHUNKED = b"Transfer-Encoding: chunked\r\n"
cdef bytes _CONN_CLOSE = b"Connection: close\r\n"
cdef bytes _CONN_KEEP = b"Connection: keep-alive\r\n"

# RFC 9110 tchar
cdef bytes _TCHAR = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
cdef unsigned char _is_tchar[256]
for _c in range(256):
    _is_tchar[_c] = 0
for _c in _TCHAR:
    _is_tchar[_c] = 1


cdef bytes _header_name(object name):
    cdef bytes b
    cdef Py_ssize_t i, n
    cdef const unsigned char *p
    if isinstance(name, bytes):
        b = <bytes>name
    elif isinstance(name, str):
        b = (<str>name).encode("latin-1", "replace")
    else:
        raise TypeError(f"header name must be str, not {type(name).__name__}")
    n = PyBytes_GET_SIZE(b)
    p = <const unsigned char *>PyBytes_AS_STRING(b)
    if n == 0:
        raise ValueError("empty header name")
    for i in range(n):
        if not _is_tchar[p[i]]:
            raise ValueError(f"invalid character in header name {name!r}")
    return b


cdef bytes _header_value(object value):
    cdef bytes b
    cdef Py_ssize_t i, n
    cdef const unsigned char *p
    cdef unsigned char c
    if isinstance(value, bytes):
        b = <bytes>value
    elif isinstance(value, str):
        try:
            b = (<str>value).encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"header value {value!r} is not latin-1: percent-encode it") from None
    elif isinstance(value, int):
        b = str(value).encode("ascii")
    else:
        raise TypeError(f"header value must be str, not {type(value).__name__}")
    n = PyBytes_GET_SIZE(b)
    p = <const unsigned char *>PyBytes_AS_STRING(b)
    for i in range(n):
        c = p[i]
        if (c < 0x20 and c != 0x09) or c == 0x7f:
            raise ValueError(f"invalid control character in header value {value!r} (CR, LF, NUL are never allowed)")
    return b


cdef class ResponseHeaders:
    """Mutable, case-insensitive view of a response's headers (multi-valued
    through append(); Content-Length and Transfer-Encoding are the server's)."""
    cdef Response _r

    def __cinit__(self, Response response):
        self._r = response

    def __getitem__(self, str name):
        cdef bytes key = name.lower().encode("latin-1")
        for n, v in self._r._headers:
            if n.lower() == key:
                return v.decode("latin-1")
        raise KeyError(name)

    def get(self, str name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def getlist(self, str name):
        cdef bytes key = name.lower().encode("latin-1")
        return [v.decode("latin-1") for n, v in self._r._headers if n.lower() == key]

    def __setitem__(self, name, value):
        cdef bytes n = _header_name(name)
        cdef bytes v = _header_value(value)
        cdef bytes key = n.lower()
        self._r._headers = [h for h in self._r._headers if h[0].lower() != key]
        self._r._headers.append((n, v))

    def append(self, name, value):
        self._r._headers.append((_header_name(name), _header_value(value)))

    def __delitem__(self, str name):
        cdef bytes key = name.lower().encode("latin-1")
        before = len(self._r._headers)
        self._r._headers = [h for h in self._r._headers if h[0].lower() != key]
        if len(self._r._headers) == before:
            raise KeyError(name)

    def __contains__(self, name):
        cdef bytes key = str(name).lower().encode("latin-1")
        return any(n.lower() == key for n, _ in self._r._headers)

    def __iter__(self):
        return iter([n.decode("latin-1") for n, _ in self._r._headers])

    def __len__(self):
        return len(self._r._headers)

    def items(self):
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._r._headers]

    def keys(self):
        return [n.decode("latin-1") for n, _ in self._r._headers]

    def values(self):
        return [v.decode("latin-1") for _, v in self._r._headers]

    def __repr__(self):
        return f"ResponseHeaders({self.items()!r})"


cdef list _init_headers(object headers):
    cdef list out = []
    if headers is None:
        return out
    items = headers.items() if hasattr(headers, "items") else headers
    for name, value in items:
        out.append((_header_name(name), _header_value(value)))
    return out


cdef int _append_decimal(Buffer out, long long v) except -1:
    cdef char tmp[24]
    cdef int i = 24
    if v < 0:
        raise ValueError("negative length")
    while True:
        i -= 1
        tmp[i] = <char>(48 + v % 10)
        v //= 10
        if v == 0:
            break
    out.append(tmp + i, 24 - i)
    return 0


cdef class Response:
    """Response(body=b"", status=200, headers=None, content_type=None)

    body: bytes or str (UTF-8). content_type None means text/plain for a str
    body, application/octet-stream for non-empty bytes, none for an empty one."""

    default_content_type = None
    sendfile = False        # FileResponse: the connection calls prepare(request) and sends the file

    def __init__(self, body=b"", int status=200, headers=None, content_type=None, *, status_code=None):
        if status_code is not None:
            status = status_code
        if not 100 <= status <= 599:
            raise ValueError(f"status must be 100..599, got {status}")
        self.status_code = status
        if content_type is None:
            content_type = type(self).default_content_type
        if body is None:
            body = b""
        if isinstance(body, str):
            if content_type is None:
                content_type = "text/plain; charset=utf-8"
            body = (<str>body).encode("utf-8")
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        elif not isinstance(body, bytes):
            body = self.render(body)
        if content_type is None and PyBytes_GET_SIZE(body) > 0:
            content_type = "application/octet-stream"
        self.body = body
        self.content_type = content_type
        self._headers = _init_headers(headers) if headers is not None else []
        self._is_file = bool(type(self).sendfile)

    def render(self, content):
        raise TypeError(f"{type(self).__name__} body must be bytes or str, not {type(content).__name__}")

    @property
    def status(self):
        return self.status_code

    @property
    def content_type(self):
        return None if self._ct is None else self._ct.decode("latin-1")

    @content_type.setter
    def content_type(self, value):
        self._ct = None if value is None else _header_value(value)

    @property
    def headers(self):
        return ResponseHeaders(self)

    def set_cookie(self, str key, str value="", *, max_age=None, expires=None, str path="/",
                   domain=None, bint secure=False, bint httponly=False, samesite="lax"):
        cookie = SimpleCookie()
        try:
            cookie[key] = value
        except Exception as exc:
            raise ValueError(f"invalid cookie name {key!r}") from exc
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = int(max_age)
        if expires is not None:
            morsel["expires"] = expires if isinstance(expires, str) else int(expires)
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            if str(samesite).lower() not in ("strict", "lax", "none"):
                raise ValueError("samesite must be 'strict', 'lax' or 'none'")
            morsel["samesite"] = samesite
        self._headers.append((b"set-cookie", _header_value(morsel.OutputString())))

    def delete_cookie(self, str key, str path="/", domain=None, bint secure=False,
                      bint httponly=False, samesite="lax"):
        self.set_cookie(key, "", max_age=0, expires=0, path=path, domain=domain, secure=secure,
                        httponly=httponly, samesite=samesite)

    cdef int render_head(self, Buffer out, bint keep_alive, bint http10, long long length,
                         bint chunked) except -1:
        cdef bytes line = <bytes>_STATUS_LINES[self.status_code]
        cdef bytes n, v
        cdef bytes ct = self._ct
        out.append(PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line))
        out.append(_common, _common_len)
        if ct is not None:
            out.append(b"Content-Type: ", 14)
            out.append(PyBytes_AS_STRING(ct), PyBytes_GET_SIZE(ct))
            out.append(b"\r\n", 2)
        if chunked:
            out.append(PyBytes_AS_STRING(_TE_CHUNKED), PyBytes_GET_SIZE(_TE_CHUNKED))
        elif length >= 0:
            out.append(b"Content-Length: ", 16)
            _append_decimal(out, length)
            out.append(b"\r\n", 2)
        if not keep_alive:
            out.append(PyBytes_AS_STRING(_CONN_CLOSE), PyBytes_GET_SIZE(_CONN_CLOSE))
        elif http10:
            out.append(PyBytes_AS_STRING(_CONN_KEEP), PyBytes_GET_SIZE(_CONN_KEEP))
        for n, v in self._headers:
            out.append(PyBytes_AS_STRING(n), PyBytes_GET_SIZE(n))
            out.append(b": ", 2)
            out.append(PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))
            out.append(b"\r\n", 2)
        out.append(b"\r\n", 2)
        return 0

    def __repr__(self):
        return f"<{type(self).__name__} {self.status_code} {len(self.body)} bytes>"


def _json_dumps(content):
    if _orjson is not None:
        return _orjson.dumps(content)
    return _json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


cdef class JSONResponse(Response):
    """JSON body: orjson when installed, the standard library otherwise."""
    default_content_type = "application/json"

    def __init__(self, content=None, int status=200, headers=None, content_type=None, *, status_code=None):
        Response.__init__(self, _json_dumps(content), status, headers, content_type, status_code=status_code)


cdef class HTMLResponse(Response):
    default_content_type = "text/html; charset=utf-8"


cdef class PlainTextResponse(Response):
    default_content_type = "text/plain; charset=utf-8"


cdef bytes _CT_TEXT = b"text/plain; charset=utf-8"
cdef bytes _CT_JSON = b"application/json"
cdef bytes _CT_BINARY = b"application/octet-stream"


cdef Response _quick(type cls, bytes body, bytes ct, int status):
    # Handler results turned into responses without the generic __init__.
    cdef Response r = cls.__new__(cls)
    r.status_code = status
    r.body = body
    r._ct = ct
    r._headers = []
    return r


class RedirectResponse(Response):
    def __init__(self, url, int status=307, headers=None, *, status_code=None):
        Response.__init__(self, b"", status, headers, None, status_code=status_code)
        self.headers["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;~")


cdef class StreamingResponse(Response):
    """StreamingResponse(content, status=200, headers=None, content_type="text/plain; charset=utf-8")

    content: a sync or async iterable (generator, async generator, list...) of
    bytes, str (UTF-8) or memoryview. Each item goes on the wire as soon as it
    is produced (chunked on HTTP/1.1, raw then close on HTTP/1.0); see README
    "Streaming" for back-pressure and disconnects."""

    def __init__(self, content, int status=200, headers=None, content_type="text/plain; charset=utf-8",
                 *, status_code=None):
        Response.__init__(self, b"", status, headers, content_type, status_code=status_code)
        if not (hasattr(content, "__aiter__") or hasattr(content, "__iter__")):
            raise TypeError(f"StreamingResponse content must be an iterable or async iterable, "
                            f"not {type(content).__name__}")
        if isinstance(content, (str, bytes, bytearray, memoryview)):
            content = (content,)
        self.content = content
        if not any(n.lower() == b"x-accel-buffering" for n, _ in self._headers):
            self._headers.append((b"X-Accel-Buffering", b"no"))   # proxies must not hold chunks back

    def __repr__(self):
        return f"<{type(self).__name__} {self.status_code} {type(self.content).__name__}>"


cpdef Response to_response(object result):
    """What a handler returned, as a Response."""
    if isinstance(result, Response):
        return <Response>result
    if isinstance(result, str):
        return _quick(PlainTextResponse, (<str>result).encode("utf-8"), _CT_TEXT, 200)
    if isinstance(result, (dict, list)):
        return _quick(JSONResponse, _json_dumps(result), _CT_JSON, 200)
    if result is None:
        return _quick(Response, b"", None, 204)
    if isinstance(result, (bytes, bytearray, memoryview)):
        body = bytes(result)
        return _quick(Response, body, _CT_BINARY if body else None, 200)
    if inspect.isgenerator(result) or inspect.isasyncgen(result) or hasattr(result, "__anext__") \
            or hasattr(result, "__next__"):
        return StreamingResponse(result)
    raise TypeError(f"handler returned {type(result).__name__}; return a Response, str, bytes, "
                    f"dict, list, None or a (async) generator")
