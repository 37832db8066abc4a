"""Type stub for catzilla/request.pyx: the Request, lazy cached views over the
bytes of one request.

Body API by the kind of endpoint (the server sets it when it dispatches):
in a ``def`` endpoint ``request.json()`` / ``request.form()`` return the parsed
value; in an ``async def`` endpoint they return awaitables of it (Starlette
style: ``await request.json()``). ``request.body`` is a RequestBody in both: a
bytes object whose call gives an awaitable of the body as plain bytes, so
``request.body`` and ``await request.body()`` both work everywhere.
"""
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from typing import Any

from catzilla.app import Catzilla
from catzilla.datastructures import Headers, QueryParams

class State:
    """An attribute bag (Starlette's State): ``state.db = pool``, ``state.db``,
    ``del state.db``; a missing attribute is an AttributeError. ``State(d)``
    keeps the attributes in the dict `d` itself (another mapping is copied),
    ``State()`` in a new one."""
    _state: dict[str, Any]
    def __init__(self, state: dict[str, Any] | Mapping[str, Any] | None = None) -> None: ...
    def __getattr__(self, name: str, /) -> Any: ...
    def __setattr__(self, name: str, value: Any, /) -> None: ...
    def __delattr__(self, name: str, /) -> None: ...

class RequestBody(bytes):
    """The request body: bytes, and callable for the async API."""
    def __call__(self) -> Awaitable[bytes]:
        """An awaitable of the body as plain (exact) bytes."""

_HeaderValue = str | bytes | int

class Request:
    def __init__(self, method: str = "GET", url: str = "/",
                 headers: Headers | Mapping[str, _HeaderValue | list[_HeaderValue]]
                 | Iterable[tuple[str | bytes, _HeaderValue]] | None = None,
                 body: bytes | bytearray | memoryview | str = b"", *,
                 http_version: str = "1.1", client: Any = None) -> None:
        """A request for unit tests, parsed by the server's own parser from the
        bytes these make: `url` is an origin-form path with an optional query
        ("/a?b=1"), an absolute URL or "*"; a Host ("testserver" or the URL's
        authority) and a Content-Length for a non-empty body are added unless
        given; a str body is UTF-8. Bad input is a ValueError. Uses the sync body API."""
    @property
    def method(self) -> str:
        """As received, e.g. "GET" (methods are case-sensitive)."""
    @property
    def path(self) -> str:
        """Percent-decoded path, without the query string."""
    @property
    def is_websocket(self) -> bool:
        """True for a WebSocket handshake to a WebSocket route: middleware and
        before hooks see it (and may answer it with HTTP to refuse it) before
        the WebSocket handler runs."""
    path_params: dict[str, Any] | None
    """The converted path parameters of the matched route; None when it has none."""
    app: Catzilla
    """The application serving this request (None for a Request made in a test)."""

    @property
    def http_version(self) -> str:
        """"1.0" or "1.1"."""
    @property
    def query_string(self) -> str:
        """The raw query (latin-1 decoded, not percent-decoded), "" when absent."""
    @property
    def query_params(self) -> QueryParams: ...
    @property
    def headers(self) -> Headers:
        """Case-insensitive; names lower-cased, values latin-1 decoded."""
    @property
    def cookies(self) -> dict[str, str]: ...
    @property
    def content_type(self) -> str | None:
        """The Content-Type header, or None."""
    @property
    def body(self) -> RequestBody:
        """The whole body (read and de-chunked by the server): plain bytes for a
        def endpoint; for an async endpoint a RequestBody, so that
        ``await request.body()`` works too. While an async endpoint's body is
        still arriving, only ``await request.body()`` reads it."""
    def stream(self, max_size: int | None = None) -> AsyncIterator[bytes]:
        """The body as chunks, as they arrive (async endpoints); the server stops
        reading while they are not consumed. HTTPException(413) beyond max_size;
        ClientDisconnect if the client goes away first."""
    def json(self) -> Any:
        """The body parsed as JSON (cached); invalid JSON is a 400 for the client.
        In an async endpoint an awaitable of it."""
    def form(self) -> Any:
        """The body as FormData: urlencoded or multipart/form-data (cached); a
        400 when malformed. In an async endpoint an awaitable of the FormData."""
    @property
    def client(self) -> tuple[Any, ...] | str | None:
        """The peer address (socket.getpeername(): (host, port) for IPv4, a
        4-tuple for IPv6, a str for AF_UNIX), or None when unknown. Behind a
        trusted proxy (ProxyHeadersMiddleware): the forwarded client,
        (host, port) with port 0 when not forwarded, None for "unknown"."""
    @property
    def scheme(self) -> str:
        """"http"; behind a trusted proxy the forwarded one ("http"/"https");
        for an absolute-form request-target, its scheme."""
    @property
    def host(self) -> str:
        """The host[:port] the client addressed: forwarded by a trusted proxy,
        else an absolute-form target's authority, else Host; "" when none."""
    @property
    def state(self) -> State:
        """This request's State, for middleware and handlers to pass data along:
        its attributes start as a shallow copy of ``app.state`` (what the
        lifespan yielded); setting or deleting one changes neither app.state
        nor another request's state. Made at the first access."""
    @property
    def url(self) -> str:
        """Absolute URL: {scheme}://{host, or "localhost"}{path}[?query]."""
