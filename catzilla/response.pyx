"""Responses. Status line and headers are rendered once, into the connection's
C output buffer; header names and values are validated when set, so nothing
the application does can split a response (no CR/LF/NUL reaches the wire)."""
import inspect
from http.cookies import SimpleCookie
from urllib.parse import quote

from cpython.bytes cimport PyBytes_GET_SIZE, PyBytes_CheckExact

from catzilla._core.transport cimport Transport
from catzilla.datastructures cimport header_value, mutable_headers_over, validated_pairs
from catzilla.models cimport encode_json, is_model
from catzilla.request cimport Request
from catzilla.dependencies cimport BackgroundTask, BackgroundTasks

cdef object _one(object given, str name, object alias, str alias_name, object default):
    """Starlette's argument names beside Catzilla's own: either, not both."""
    if alias is None:
        return default if given is None else given
    if given is not None:
        raise TypeError(f"give {name} or {alias_name}, not both")
    return alias


cdef int _status(object status) except -1:
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"status must be an int, not {type(status).__name__}")
    if not 100 <= status <= 599:
        raise ValueError(f"status must be 100..599, got {status}")
    return status


cdef str _with_charset(str media_type):
    # Starlette's media_type: text types get the UTF-8 charset they are encoded with
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        return media_type + "; charset=utf-8"
    return media_type


cdef class BodyInfo:
    """What middleware may know of a response's body before it is sent
    (Response.body_info): `kind` "bytes" (a whole body), "file" (a file sent
    with sendfile) or "stream" (produced while it is sent); `length` in bytes
    before any body filter, None when not known in advance (a stream, a file
    that cannot be opened: it answers 404/403 itself); `filterable`: whether
    wrap_body() takes a filter (not for a body shared by many, a broadcast feed)."""

    def __repr__(self):
        return f"BodyInfo(kind={self.kind!r}, length={self.length!r}, filterable={self.filterable!r})"


cdef BodyInfo body_info(str kind, object length, bint filterable):
    cdef BodyInfo info = BodyInfo.__new__(BodyInfo)
    info.kind = kind
    info.length = length
    info.filterable = filterable
    return info


cdef BodyInfo _STREAM = body_info("stream", None, True)


cdef class Response:
    """Response(content=b"", status_code=200, headers=None, media_type=None)

    The arguments are Starlette's, positional or by keyword; Catzilla's own
    names work too: body= for content, status= for status_code, content_type=
    (sent as given) for media_type (a text/* media_type gets "; charset=utf-8").
    content: bytes or str (UTF-8). No media type means text/plain for a str
    body, application/octet-stream for non-empty bytes, none for an empty one."""

    default_content_type = None

    def __init__(self, content=None, status_code=None, headers=None, media_type=None, background=None, *,
                 body=None, status=None, content_type=None):
        content = _one(content, "content", body, "body", b"")
        self.background = _background(background)
        self.status_code = _status(_one(status_code, "status_code", status, "status", 200))
        if media_type is not None:
            if content_type is not None:
                raise TypeError("give media_type or content_type, not both")
            content_type = _with_charset(media_type)
        elif content_type is None:
            content_type = type(self).default_content_type
        if isinstance(content, str):
            if content_type is None:
                content_type = "text/plain; charset=utf-8"
            content = (<str>content).encode("utf-8")
        elif isinstance(content, (bytearray, memoryview)):
            content = bytes(content)
        elif not isinstance(content, bytes):
            content = self.render(content)
        if content_type is None and PyBytes_GET_SIZE(content) > 0:
            content_type = "application/octet-stream"
        self.body = content
        self.content_type = content_type
        self._headers = validated_pairs(headers)

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
        self._ct = None if value is None else header_value(value).encode("latin-1")

    @property
    def media_type(self):
        """The Content-Type without its parameters (Starlette's name)."""
        return None if self._ct is None else self._ct.decode("latin-1").split(";", 1)[0].strip()

    @property
    def headers(self):
        """A live, validating view: changes apply to this response."""
        return mutable_headers_over(self._headers)

    @property
    def body_info(self):
        """What middleware may know of the body before it is sent: a BodyInfo
        (kind, length, filterable)."""
        return self.describe()

    cdef BodyInfo describe(self):
        cdef object body = self.body
        if PyBytes_CheckExact(body):
            return body_info("bytes", PyBytes_GET_SIZE(body), True)
        if isinstance(body, str):
            return body_info("bytes", len((<str>body).encode("utf-8")), True)
        if isinstance(body, (bytearray, memoryview)):
            return body_info("bytes", len(body), True)
        return body_info("bytes", None, True)      # send() refuses it

    def wrap_body(self, body_filter):
        """Pass the body through body_filter as it is sent. For a stream:
        body_filter.feed(bytes) -> bytes for each chunk (it may hold data back),
        body_filter.flush() -> bytes, everything held back, called whenever the
        stream hands its output to the socket (so nothing produced waits in the
        filter), and body_filter.close(data=b"") -> bytes, the last data and the
        end. A whole body is one close(body) call. Filters apply in the order
        wrapped. The middleware that wraps a body fixes the headers it changes
        (Content-Encoding...); Content-Length is computed after filtering.
        A strong ETag among the headers becomes weak (body_etag). Returns
        False when this body cannot be wrapped (body_info.filterable)."""
        cdef Py_ssize_t i
        if not all(callable(getattr(body_filter, m, None)) for m in ("feed", "flush", "close")):
            raise TypeError("a body filter needs feed(data), flush() and close(data=b'') methods")
        if not self.describe().filterable:
            return False
        if self._filters is None:
            self._filters = []
        self._filters.append(body_filter)
        for i in range(len(self._headers)):
            name, value = self._headers[i]
            if name == "etag":
                self._headers[i] = (name, body_etag(self, value))
        return True

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
        self.headers.append("set-cookie", morsel.OutputString())

    def delete_cookie(self, str key, str path="/", domain=None, bint secure=False,
                      bint httponly=False, samesite="lax"):
        self.set_cookie(key, "", max_age=0, expires=0, path=path, domain=domain, secure=secure,
                        httponly=httponly, samesite=samesite)

    cdef int send(self, Transport t, Request req) except -1:
        cdef int status = self.status_code
        cdef object body = self.body
        if not PyBytes_CheckExact(body):         # `body` is a public attribute: normalise what was set
            if isinstance(body, str):
                body = (<str>body).encode("utf-8")
            elif isinstance(body, (bytes, bytearray, memoryview)):
                body = bytes(body)
            else:
                raise TypeError(f"Response.body must be bytes or str, not {type(body).__name__}")
        if status == 204 or status == 304 or status < 200:
            t.write_head(status, self._ct, self._headers, -1, False)
            return t.response_sent(status, 0)
        if self._filters is not None:
            body = filtered_whole(self._filters, body)
        t.write_head(status, self._ct, self._headers, PyBytes_GET_SIZE(body), False)
        return t.write_body(status, body)

    def __repr__(self):
        return f"<{type(self).__name__} {self.status_code} {len(self.body)} bytes>"


cdef str body_etag(Response r, str etag):
    if etag is None or r._filters is None or etag.startswith("W/"):
        return etag
    return "W/" + etag


cdef bytes filtered_whole(list filters, object body):
    for f in filters:
        body = f.close(body)
        if not PyBytes_CheckExact(body):
            body = bytes(body)
    return body


cdef object _background(object background):
    if background is not None and not isinstance(background, (BackgroundTask, BackgroundTasks)):
        raise TypeError(f"background must be a BackgroundTask or BackgroundTasks, not {background!r}")
    return background


cdef class JSONResponse(Response):
    """JSON body, by the model engine's encoder (catzilla.models.encode_json: msgspec;
    models, dataclasses, pydantic models, UUID, datetime, Decimal, Enum too)."""
    default_content_type = "application/json"

    def render(self, content):
        return encode_json(content)

    def __init__(self, content=None, status_code=None, headers=None, media_type=None, background=None, **kw):
        Response.__init__(self, encode_json(content), status_code, headers, media_type, background, **kw)


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
    def __init__(self, url, status_code=None, headers=None, background=None, *, status=None):
        Response.__init__(self, b"", _one(status_code, "status_code", status, "status", 307), headers,
                          background=background)
        self.headers["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;~")


cdef frozenset _JSONL = frozenset(("application/jsonl", "application/x-ndjson"))


def jsonl_item(item):
    """One item of a JSON Lines stream: bytes/str as given, anything else one JSON line."""
    if isinstance(item, (bytes, str, bytearray, memoryview)):
        return item
    return encode_json(item) + b"\n"


cdef class StreamingResponse(Response):
    """StreamingResponse(content, status_code=200, headers=None, media_type="text/plain; charset=utf-8")

    content: a sync or async iterable (generator, async generator, list...) of
    bytes, str (UTF-8) or memoryview. Each item goes on the wire as soon as it
    is produced (chunked on HTTP/1.1, raw then close on HTTP/1.0); see README
    "Streaming" for back-pressure and disconnects. With media_type
    "application/jsonl" (or application/x-ndjson) any other item (a model, a
    dict...) is sent as one JSON line."""

    def __init__(self, content, status_code=None, headers=None, media_type=None, background=None, *,
                 status=None, content_type=None):
        if media_type is None and content_type is None:
            content_type = "text/plain; charset=utf-8"
        Response.__init__(self, b"", status_code, headers, media_type, background, status=status,
                          content_type=content_type)
        if not (hasattr(content, "__aiter__") or hasattr(content, "__iter__")):
            raise TypeError(f"{type(self).__name__} content must be an iterable or async iterable, "
                            f"not {type(content).__name__}")
        if isinstance(content, (str, bytes, bytearray, memoryview)):
            content = (content,)
        self.content = content
        self.headers.setdefault("x-accel-buffering", "no")   # proxies must not hold chunks back
        if self._ct is not None and self.media_type in _JSONL:
            self.encode = jsonl_item

    cdef BodyInfo describe(self):
        return _STREAM

    cdef int send(self, Transport t, Request req) except -1:
        cdef bint chunked = t.write_stream_head(self.status_code, self._ct, self._headers)
        return t.start_stream(self.status_code, self.content, chunked, self.encode, self.ping,
                              self.ping_bytes, self._filters)

    def __repr__(self):
        return f"<{type(self).__name__} {self.status_code} {type(self.content).__name__}>"


cpdef Response to_response(object result):
    """What a handler returned, as a Response."""
    if isinstance(result, Response):
        return <Response>result
    if isinstance(result, str):
        return _quick(PlainTextResponse, (<str>result).encode("utf-8"), _CT_TEXT, 200)
    if isinstance(result, (dict, list)):
        return _quick(JSONResponse, encode_json(result), _CT_JSON, 200)
    if result is None:
        return _quick(Response, b"", None, 204)
    if isinstance(result, (bytes, bytearray, memoryview)):
        body = bytes(result)
        return _quick(Response, body, _CT_BINARY if body else None, 200)
    if inspect.isgenerator(result) or inspect.isasyncgen(result) or hasattr(result, "__anext__") \
            or hasattr(result, "__next__"):
        return StreamingResponse(result)
    if is_model(type(result)):
        return _quick(JSONResponse, encode_json(result), _CT_JSON, 200)
    raise TypeError(f"handler returned {type(result).__name__}; return a Response, str, bytes, "
                    f"dict, list, a model, None or a (async) generator")
