"""Type stub for catzilla/request.pyx: the Request, lazy cached views over the
bytes the connection read. Requests are made by the server (Request() raises
TypeError); use catzilla.testing.TestClient in tests.
"""
from types import SimpleNamespace
from typing import Any

from catzilla.app import Catzilla
from catzilla.datastructures import FormData, Headers, QueryParams

class Request:
    @property
    def method(self) -> str:
        """As received, e.g. "GET" (methods are case-sensitive)."""
    @property
    def path(self) -> str:
        """Percent-decoded path, without the query string."""
    path_params: dict[str, Any] | None
    """The converted path parameters of the matched route; None when it has none."""
    app: Catzilla
    """The application serving this request."""

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
    def body(self) -> bytes:
        """The whole body (already read and de-chunked by the server)."""
    def json(self) -> Any:
        """The body parsed as JSON (cached); invalid JSON is a 400 for the client."""
    def form(self) -> FormData:
        """The body as FormData: urlencoded or multipart/form-data (cached)."""
    @property
    def client(self) -> tuple[Any, ...] | str | None:
        """The peer address (socket.getpeername(): (host, port) for IPv4, a
        4-tuple for IPv6, a str for AF_UNIX), or None when unknown."""
    @property
    def state(self) -> SimpleNamespace:
        """A namespace for middleware and handlers to pass data along."""
    @property
    def url(self) -> str:
        """Absolute URL: http://{Host, or the absolute-form authority}{path}[?query]."""
