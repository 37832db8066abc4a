"""Type stub for catzilla/response.pyx: responses. Header names and values are
validated when set (ValueError for CR/LF/NUL or a bad name), so nothing an
application does can split a response.
"""
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, overload

from typing_extensions import Self

from catzilla.datastructures import Headers

_T = TypeVar("_T")

# What a headers= argument may be: a mapping (anything with .items(), e.g. a
# dict or a request's Headers) or (name, value) pairs. Values: str (latin-1),
# bytes or int. (Any iterable of pairs works at runtime; Sequence, not Iterable,
# keeps mypy inferring a mixed dict literal like {"a": "b", "n": 1}.)
_HeaderValue = str | bytes | int
_HeadersArg = Mapping[str, _HeaderValue] | Headers | Sequence[tuple[str, _HeaderValue]] | None
# One item of a streamed body.
_Chunk = bytes | bytearray | memoryview | str

def update_date() -> str | None:
    """Refresh the cached Server/Date header (the server does it once a second);
    returns the IMF-fixdate, None if the clock could not be formatted."""

def to_response(result: object) -> Response:
    """What a handler returned, as a Response: Response as is, str -> text/plain,
    dict/list -> JSON, None -> 204, bytes -> application/octet-stream,
    (async) generator/iterator -> StreamingResponse. TypeError otherwise."""

class ResponseHeaders:
    """Mutable, case-insensitive view of a response's headers (multi-valued
    through append(); Content-Length and Transfer-Encoding are the server's)."""

    def __new__(cls, response: Response) -> Self: ...
    def __getitem__(self, name: str, /) -> str:
        """First value of `name`; KeyError when absent."""
    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: _T) -> str | _T: ...
    def getlist(self, name: str) -> list[str]: ...
    def __setitem__(self, name: str | bytes, value: _HeaderValue, /) -> None:
        """Replace every value of `name`."""
    def append(self, name: str | bytes, value: _HeaderValue) -> None:
        """Add a value (e.g. a second Set-Cookie)."""
    def __delitem__(self, name: str, /) -> None:
        """Remove every value of `name`; KeyError when absent."""
    def __contains__(self, name: object, /) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int:
        """Number of header lines (repeated names included)."""
    def items(self) -> list[tuple[str, str]]: ...
    def keys(self) -> list[str]: ...
    def values(self) -> list[str]: ...

class Response:
    """Response(body=b"", status=200, headers=None, content_type=None)

    body: bytes or str (UTF-8). content_type None means text/plain for a str
    body, application/octet-stream for non-empty bytes, none for an empty one."""

    default_content_type: str | None
    """The class's Content-Type when none is given (None on Response)."""
    sendfile: bool
    """True on FileResponse: the connection calls prepare(request) and sends the file."""
    status_code: int
    body: bytes

    def __init__(
        self,
        body: bytes | bytearray | memoryview | str | None = b"",
        status: int = 200,
        headers: _HeadersArg = None,
        content_type: str | None = None,
        *,
        status_code: int | None = None,
    ) -> None:
        """ValueError when the status is not 100..599; any other body type is
        passed to self.render() (TypeError on Response itself)."""
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
    def headers(self) -> ResponseHeaders: ...
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
    """JSON body: orjson when installed, the standard library otherwise."""

    def __init__(
        self,
        content: Any = None,
        status: int = 200,
        headers: _HeadersArg = None,
        content_type: str | None = None,
        *,
        status_code: int | None = None,
    ) -> None: ...

class HTMLResponse(Response): ...
class PlainTextResponse(Response): ...

class RedirectResponse(Response):
    def __init__(
        self,
        url: object,
        status: int = 307,
        headers: _HeadersArg = None,
        *,
        status_code: int | None = None,
    ) -> None:
        """Location: str(url), percent-encoded where needed."""

class StreamingResponse(Response):
    """StreamingResponse(content, status=200, headers=None, content_type="text/plain; charset=utf-8")

    content: a sync or async iterable (generator, async generator, list...) of
    bytes, str (UTF-8) or memoryview. Each item goes on the wire as soon as it
    is produced (chunked on HTTP/1.1, raw then close on HTTP/1.0)."""

    content: Any
    def __init__(
        self,
        content: Iterable[_Chunk] | AsyncIterable[_Chunk] | _Chunk,
        status: int = 200,
        headers: _HeadersArg = None,
        content_type: str | None = "text/plain; charset=utf-8",
        *,
        status_code: int | None = None,
    ) -> None:
        """TypeError when content is not iterable; a lone bytes/str is one item."""
