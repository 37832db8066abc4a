"""Type stub for catzilla/response.pyx: responses. Header names and values are
validated when set (ValueError for CR/LF/NUL or a bad name), so nothing an
application does can split a response.
"""
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

from catzilla.datastructures import Headers, MutableHeaders
from catzilla.dependencies import BackgroundTask, BackgroundTasks

# What a headers= argument may be: a mapping (anything with .items(), e.g. a
# dict or a request's Headers) or (name, value) pairs. Values: str (latin-1),
# bytes or int. (Any iterable of pairs works at runtime; Sequence, not Iterable,
# keeps mypy inferring a mixed dict literal like {"a": "b", "n": 1}.)
_HeaderValue = str | bytes | int
_HeadersArg = Mapping[str, _HeaderValue] | Headers | Sequence[tuple[str, _HeaderValue]] | None
# One item of a streamed body.
_Chunk = bytes | bytearray | memoryview | str

def to_response(result: object) -> Response:
    """What a handler returned, as a Response: Response as is, str -> text/plain,
    dict/list or a model (BaseModel/Struct, dataclass, pydantic model) -> JSON,
    None -> 204, bytes -> application/octet-stream, (async) generator/iterator
    -> StreamingResponse. TypeError otherwise."""

def jsonl_item(item: object) -> _Chunk:
    """One item of an application/jsonl stream: bytes/str as given, else one JSON line."""

class _BodyFilter(Protocol):
    """What Response.wrap_body takes: a stateful per-response body coder."""

    def feed(self, data: bytes, /) -> bytes: ...
    def flush(self) -> bytes: ...
    def close(self, data: bytes = ..., /) -> bytes: ...

class BodyInfo:
    """What middleware may know of a response's body before it is sent
    (Response.body_info)."""

    @property
    def kind(self) -> Literal["bytes", "file", "stream"]:
        """A whole body, a file sent with sendfile, or a body produced while it is sent."""
    @property
    def length(self) -> int | None:
        """Bytes before any body filter; None when not known in advance (a
        stream, a file that cannot be opened: it answers 404/403 itself)."""
    @property
    def filterable(self) -> bool:
        """wrap_body() takes a filter (False for a broadcast feed: its bytes are shared)."""

class Response:
    """Response(content=b"", status_code=200, headers=None, media_type=None)

    Starlette's arguments, positional or by keyword; Catzilla's names work too:
    body= for content, status= for status_code, content_type= (sent as given)
    for media_type (a text/* media_type gets "; charset=utf-8"). No media type
    means text/plain for a str body, application/octet-stream for non-empty
    bytes, none for an empty one."""

    default_content_type: str | None
    """The class's Content-Type when none is given (None on Response)."""
    status_code: int
    body: bytes
    background: BackgroundTask | BackgroundTasks | None
    """Run once the response is sent (after the endpoint's BackgroundTasks parameter's)."""

    def __init__(
        self,
        content: bytes | bytearray | memoryview | str | None = None,
        status_code: int | None = None,
        headers: _HeadersArg = None,
        media_type: str | None = None,
        background: BackgroundTask | BackgroundTasks | None = None,
        *,
        body: bytes | bytearray | memoryview | str | None = None,
        status: int | None = None,
        content_type: str | None = None,
    ) -> None:
        """ValueError when the status is not 100..599, TypeError when both names of
        one argument are given; any other body type is passed to self.render()
        (TypeError on Response itself)."""
    def render(self, content: Any) -> bytes:
        """Hook for subclasses: turn a body that is not bytes/str into bytes."""
    @property
    def status(self) -> int:
        """Same as status_code."""
    @property
    def content_type(self) -> str | None: ...
    @content_type.setter
    def content_type(self, value: str | None) -> None: ...
    @property
    def media_type(self) -> str | None:
        """The Content-Type without its parameters."""
    @property
    def headers(self) -> MutableHeaders:
        """A live, validating view of the response's headers (changes apply to the response)."""
    @property
    def body_info(self) -> BodyInfo:
        """The body's kind and length, as the response itself knows them (a
        FileResponse opens and stat()s its file once for this, and sends that file)."""
    def wrap_body(self, body_filter: _BodyFilter) -> bool:
        """Pass the body through body_filter as it is sent: feed(bytes) -> bytes for
        each chunk of a stream (may hold data back), flush() -> what it holds back
        (called whenever the stream writes to the socket), close(data=b"") -> bytes
        for the last data and the end (a whole body is one close(body)). Filters
        apply in the order wrapped; Content-Length is computed after filtering; a
        strong ETag among the headers becomes weak. False when this body cannot be
        wrapped (body_info.filterable is False: a broadcast feed)."""
    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: float | None = None,
        expires: str | float | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
    ) -> None:
        """Append a Set-Cookie header. expires: an HTTP date string or seconds from
        now; samesite: "strict", "lax", "none" or None (ValueError otherwise)."""
    def delete_cookie(
        self,
        key: str,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
    ) -> None: ...

class JSONResponse(Response):
    """JSON body by catzilla.models.encode_json (msgspec): dicts, lists, models, dataclasses,
    pydantic models, UUID, datetime, Decimal, Enum; NaN and infinities as null."""

    def __init__(
        self,
        content: Any = None,
        status_code: int | None = None,
        headers: _HeadersArg = None,
        media_type: str | None = None,
        background: BackgroundTask | BackgroundTasks | None = None,
        *,
        status: int | None = None,
        content_type: str | None = None,
    ) -> None: ...

class HTMLResponse(Response): ...
class PlainTextResponse(Response): ...

class RedirectResponse(Response):
    def __init__(
        self,
        url: object,
        status_code: int | None = None,
        headers: _HeadersArg = None,
        background: BackgroundTask | BackgroundTasks | None = None,
        *,
        status: int | None = None,
    ) -> None:
        """307 unless given; Location: str(url), percent-encoded where needed."""

class StreamingResponse(Response):
    """StreamingResponse(content, status_code=200, headers=None, media_type=None)

    content: a sync or async iterable (generator, async generator, list...) of
    bytes, str (UTF-8) or memoryview. Each item goes on the wire as soon as it
    is produced (chunked on HTTP/1.1, raw then close on HTTP/1.0). Without a
    media type the Content-Type is text/plain; charset=utf-8. With
    "application/jsonl" (or application/x-ndjson) any item that is not
    bytes/str (a model, a dict...) is sent as one JSON line."""

    content: Any
    @property
    def ping(self) -> float:
        """Seconds of silence before a keep-alive comment (EventSourceResponse; 0: none)."""
    def __init__(
        self,
        content: Iterable[Any] | AsyncIterable[Any] | _Chunk,   # items: _Chunk (any JSON value for jsonl)
        status_code: int | None = None,
        headers: _HeadersArg = None,
        media_type: str | None = None,
        background: BackgroundTask | BackgroundTasks | None = None,
        *,
        status: int | None = None,
        content_type: str | None = None,
    ) -> None:
        """TypeError when content is not iterable; a lone bytes/str is one item."""
