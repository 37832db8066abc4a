"""Middleware: what one is, and two small ones (trusted hosts, request ids).

A middleware is any object with one or both of these methods, installed with
``app.add_middleware(Cls, **options)`` (which makes ``Cls(**options)``). The
first added is the outermost: it sees the request first and the response last.

``on_request(request)``
    Before the route. Return None to go on, or an answer (a Response, str,
    dict... anything a handler may return) to send it without reaching the
    route or the inner middleware.

``on_response(request, response)``
    After the route (or an inner middleware's answer, or the response the
    exception handlers made for an error). Return None to keep `response` --
    possibly changed in place: ``response.headers`` is a live, validating view,
    and ``response.wrap_body(filter)`` passes the body through a filter chunk
    by chunk -- or a replacement. It runs for every middleware whose
    on_request ran (or that has none), innermost first, for every kind of
    response, streams included: the headers are still unsent, the body is not
    produced yet.

Either may be ``async def`` or return an awaitable. An exception raised in
either goes to the app's exception handlers, like one from a route.
"""
from __future__ import annotations

import re
import uuid
from typing import Any, Iterable, Optional, Protocol, Tuple, Union

from catzilla._core.httpsyntax import is_token
from catzilla.response import PlainTextResponse, RedirectResponse, Response

__all__ = ["Middleware", "TrustedHostMiddleware", "RequestIdMiddleware"]


class Middleware(Protocol):
    """The shape of a middleware, for type checkers. Both methods are optional
    at run time (a middleware needs at least one); a class that has only one
    still works with add_middleware."""

    def on_request(self, request: Any) -> Any:
        """None to go on, or an answer (maybe awaitable) sent without reaching the route."""

    def on_response(self, request: Any, response: Response) -> Optional[Response]:
        """None to keep `response` (maybe changed in place), or a replacement (maybe awaitable)."""


_HOST_NAME = re.compile(r"[a-z0-9._~-]+\Z")


def _hostname(host: str) -> str:
    """The name part of a Host value, lower-cased: "[::1]:80" -> "[::1]", "A.com:80" -> "a.com"."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[:end + 1] if end > 0 else ""
    return host.split(":", 1)[0]


class TrustedHostMiddleware:
    """TrustedHostMiddleware(allowed_hosts=("*",), www_redirect=False)

    Answers 400 "Invalid host header" to a request whose host (request.host:
    the Host header, an absolute-form target's authority, or what a trusted
    proxy forwarded -- add ProxyHeadersMiddleware first for that) is not
    allowed; guards against Host header attacks (poisoned password-reset links,
    cache poisoning, DNS rebinding). `allowed_hosts` entries: a name
    ("example.com", "localhost", "127.0.0.1", "[::1]"), "*.example.com" for any
    subdomain (not example.com itself), or "*" for any. Case-insensitive; the
    port is ignored. With www_redirect, a request for example.com when only
    www.example.com is allowed is redirected there (301)."""

    def __init__(self, allowed_hosts: Union[str, Iterable[str]] = ("*",), www_redirect: bool = False) -> None:
        if isinstance(allowed_hosts, str):
            allowed_hosts = (allowed_hosts,)
        self.allowed_hosts: Tuple[str, ...] = tuple(allowed_hosts)
        self.allow_any = False
        self.exact = set()
        self.suffixes = []
        for pattern in self.allowed_hosts:
            if not isinstance(pattern, str):
                raise TypeError(f"allowed_hosts: {pattern!r} is not a str")
            name = pattern.strip().lower()
            if name == "*":
                self.allow_any = True
                continue
            wildcard = name.startswith("*.")
            rest = name[2:] if wildcard else name
            if rest.startswith("[") and rest.endswith("]") and not wildcard:
                ok = len(rest) > 2 and all(c in "0123456789abcdef:." for c in rest[1:-1])
            else:
                ok = bool(_HOST_NAME.match(rest)) and not rest.startswith(".")
            if not ok:
                raise ValueError(f"allowed_hosts: {pattern!r} is not a host name, '*.domain' or '*' "
                                 f"(no port; IPv6 in brackets)")
            if wildcard:
                self.suffixes.append("." + rest)
            else:
                self.exact.add(rest)
        self.www_redirect = bool(www_redirect)

    def allowed(self, name: str) -> bool:
        if self.allow_any:
            return True
        if name in self.exact:
            return True
        return any(name.endswith(s) and len(name) > len(s) for s in self.suffixes)

    def on_request(self, request: Any) -> Optional[Response]:
        if self.allow_any:
            return None
        name = _hostname(request.host)
        if name and self.allowed(name):
            return None
        if name and self.www_redirect and not name.startswith("www.") and self.allowed("www." + name):
            url = request.url.replace(f"://{request.host}", f"://www.{request.host}", 1)
            return RedirectResponse(url, 301)
        return PlainTextResponse("Invalid host header", 400)


# 1..128 characters of letters, digits, ".", "_", "-": enough for a UUID (either
# form), a hex or URL-safe id, and nothing that could mislead a log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}\Z")


class RequestIdMiddleware:
    """RequestIdMiddleware(header="x-request-id")

    Gives each request an id: the one that came in the header (from a proxy or
    a client) when it is 1..128 characters of letters, digits, ".", "_" and
    "-", else a new uuid4().hex. The id is ``request.state.request_id`` for
    handlers and logs, and goes back in the same header on the response --
    every response, errors included. Add it first, so that it is the
    outermost and sees the answers of the other middleware too."""

    def __init__(self, header: str = "x-request-id") -> None:
        if not is_token(header):
            raise ValueError(f"header: {header!r} is not a valid header name")
        self.header = header.lower()

    def on_request(self, request: Any) -> None:
        given = request.headers.getlist(self.header)
        if len(given) == 1 and _REQUEST_ID.match(given[0]):
            request.state.request_id = given[0]
        else:
            request.state.request_id = uuid.uuid4().hex
        return None

    def on_response(self, request: Any, response: Response) -> None:
        response.headers[self.header] = request.state.request_id
        return None
