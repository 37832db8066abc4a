"""CORSMiddleware: cross-origin requests, by the CORS protocol of the Fetch
standard (https://fetch.spec.whatwg.org/#http-cors-protocol).

It only adds headers (and answers preflights itself): a body, a stream or an
event stream passes through untouched, and reaches the client as it is made.

Caching (Fetch, "CORS protocol and HTTP caches"): when the answer does not
depend on the Origin -- every origin allowed and no credentials -- every
response carries the static ``Access-Control-Allow-Origin: *``, with or
without an Origin in the request, and no Vary. Otherwise every response
(CORS or not, allowed or not) carries ``Vary: Origin``, so that a cache never
hands one origin's answer to another.

WebSocket handshakes (request.is_websocket) are not covered by CORS in
browsers, which connect cross-site and only send the page's Origin: the
allowed origins govern them here. A handshake whose Origin is neither the
server's own (same scheme and host) nor allowed is refused with 403 before
the handler runs; one without an Origin (not from a browser) goes through.
"""
from __future__ import annotations

import re
from typing import Any, FrozenSet, Iterable, Optional, Pattern, Tuple, Union

from catzilla._core.httpsyntax import is_token, split_list
from catzilla.response import PlainTextResponse, Response

# A serialized origin: scheme "://" host [":" port] (no path, no userinfo).
_ORIGIN = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=\-]+)(?::([0-9]{1,5}))?\Z")
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: Request headers a browser may send cross-origin without asking (Fetch's
#: CORS-safelisted request-header names): always allowed in a preflight, as
#: the browser lists Content-Type there when its value is not a form type.
SAFELISTED_HEADERS: FrozenSet[str] = frozenset({"accept", "accept-language", "content-language", "content-type"})
#: Response headers a page can always read; not worth listing in Expose-Headers.
_SAFELISTED_RESPONSE = frozenset({"cache-control", "content-language", "content-length", "content-type",
                                  "expires", "last-modified", "pragma"})
_ANSWER_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials",
                   "access-control-expose-headers")
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

Names = Union[str, Iterable[str]]


def origin_key(origin: str) -> Optional[str]:
    """The comparable form of a serialized origin -- scheme and host
    lower-cased, a default port dropped -- or None when `origin` is not one."""
    m = _ORIGIN.match(origin)
    if m is None:
        return None
    scheme, host, port = m.group(1).lower(), m.group(2).lower(), m.group(3)
    if port is None:
        return f"{scheme}://{host}"
    number = int(port)
    if number > 65535:
        return None
    return f"{scheme}://{host}" if number == _DEFAULT_PORTS.get(scheme) else f"{scheme}://{host}:{number}"


def _names(value: Names, what: str) -> Tuple[str, ...]:
    """A str ("a, b") or an iterable of str, as a tuple of stripped names."""
    if isinstance(value, str):
        return tuple(split_list(value))
    out = []
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{what}: {item!r} is not a str")
        item = item.strip()
        if item:
            out.append(item)
    return tuple(out)


def _tokens(value: Names, what: str) -> Tuple[str, ...]:
    """Names that must be RFC 9110 tokens (methods, header names) or "*"."""
    names = _names(value, what)
    for name in names:
        if name != "*" and not is_token(name):
            raise ValueError(f"{what}: {name!r} is not a valid name (an RFC 9110 token, or '*')")
    return names


class CORSMiddleware:
    """CORSMiddleware(allow_origins=(), allow_origin_regex=None, allow_methods=("GET",),
    allow_headers=(), allow_credentials=False, expose_headers=(), max_age=600)

    * allow_origins: origins ("https://app.example.com", "http://localhost:5173"),
      "null" (only when listed: the origin of sandboxed frames and file: pages),
      or "*" for any. Matched case-insensitively on scheme and host, with a
      default port (":443" for https) the same as none.
    * allow_origin_regex: a pattern that must match the whole Origin as sent
      (browsers send it lower-case), e.g. r"https://[a-z0-9-]+\\.example\\.com".
    * allow_methods / allow_headers / expose_headers: lists (or "a, b"), or "*".
      Methods are upper-cased; the CORS-safelisted request headers (Accept,
      Accept-Language, Content-Language, Content-Type) are always allowed.
    * allow_credentials: cookies and HTTP auth. The Fetch standard forbids a
      literal "*" then, so "*" settings are answered by echoing the request's
      origin / method / headers (and, for expose_headers, the response's
      header names) instead.
    * max_age: seconds a browser may cache a preflight answer (None: not sent).

    A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
    answered here, whether or not a route exists for its path: 204 with the
    Access-Control-Allow-* headers, or 400 with the reason (and no
    Access-Control-Allow-Origin) when its origin, method or headers are not
    allowed. Any other request runs as usual; an allowed Origin gets
    Access-Control-Allow-Origin (and -Allow-Credentials, -Expose-Headers) on
    the response, whatever it is (errors, streams, event streams); a
    disallowed one gets none. The middleware owns these headers: a handler's
    own Access-Control-Allow-Origin, -Allow-Credentials or -Expose-Headers is
    replaced, or removed when the origin is not allowed. Bad settings are a ValueError (or
    TypeError) when the middleware is added.
    """

    def __init__(self, allow_origins: Names = (), allow_origin_regex: Union[str, Pattern[str], None] = None,
                 allow_methods: Names = ("GET",), allow_headers: Names = (), allow_credentials: bool = False,
                 expose_headers: Names = (), max_age: Optional[int] = 600) -> None:
        if not isinstance(allow_credentials, bool):
            raise TypeError("allow_credentials must be True or False")
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)):
            raise TypeError("max_age must be an int (seconds) or None")
        if max_age is not None and max_age < 0:
            raise ValueError("max_age must be >= 0")
        self.allow_credentials = allow_credentials
        self.max_age = max_age

        origins = _names(allow_origins, "allow_origins")
        self.allow_all_origins = "*" in origins
        keys = set()
        for origin in origins:
            if origin in ("*", "null"):
                keys.add(origin)
                continue
            key = origin_key(origin)
            if key is None:
                raise ValueError(f"allow_origins: {origin!r} is not an origin "
                                 f"(scheme://host[:port], without a path), 'null' or '*'")
            keys.add(key)
        self.origins: FrozenSet[str] = frozenset(keys)
        self.origin_regex: Optional[Pattern[str]] = None
        if allow_origin_regex is not None:
            try:
                self.origin_regex = re.compile(allow_origin_regex)
            except (re.error, TypeError) as exc:
                raise ValueError(f"allow_origin_regex: {exc}") from None

        methods = tuple(m.upper() for m in _tokens(allow_methods, "allow_methods"))
        self.allow_all_methods = "*" in methods
        self.methods: FrozenSet[str] = frozenset(methods)
        self._methods_value = ", ".join(dict.fromkeys(m for m in methods if m != "*"))

        headers = tuple(h.lower() for h in _tokens(allow_headers, "allow_headers"))
        self.allow_all_headers = "*" in headers
        self.headers: FrozenSet[str] = frozenset(headers) | SAFELISTED_HEADERS

        expose = tuple(h.lower() for h in _tokens(expose_headers, "expose_headers"))
        self.expose_all = "*" in expose
        self._expose_value = ", ".join(dict.fromkeys(h for h in expose if h != "*"))

        # Every origin, no credentials: one static answer, the same for all.
        self.static = self.allow_all_origins and not allow_credentials

    # -- matching ------------------------------------------------------------------

    def origin_allowed(self, origin: str) -> bool:
        if origin == "null":
            return "null" in self.origins or self.static
        key = origin_key(origin)
        if key is None:
            return self.static        # "*" without credentials: a static answer fits any
        if self.allow_all_origins or key in self.origins:
            return True
        return self.origin_regex is not None and self.origin_regex.fullmatch(origin) is not None

    @staticmethod
    def _origin(request: Any) -> Optional[str]:
        values = request.headers.getlist("origin")
        return values[0] if len(values) == 1 else None

    @staticmethod
    def _is_preflight(request: Any) -> bool:
        return request.method == "OPTIONS" and "origin" in request.headers \
            and "access-control-request-method" in request.headers

    # -- the two phases -----------------------------------------------------------------

    def on_request(self, request: Any) -> Optional[Response]:
        if request.is_websocket:
            return self.handshake(request)
        if not self._is_preflight(request):
            return None
        return self.preflight(request)

    def handshake(self, request: Any) -> Optional[Response]:
        """A WebSocket handshake: None to let it through, or the 403 refusing it."""
        given = request.headers.getlist("origin")
        if not given:
            return None                       # not a browser: no page to protect
        origin = given[0] if len(given) == 1 else ""
        if self.origin_allowed(origin):
            return None
        key = origin_key(origin)
        if key is not None and key == origin_key(f"{request.scheme}://{request.host}"):
            return None                       # same origin
        return PlainTextResponse("Disallowed WebSocket origin", 403)

    def preflight(self, request: Any) -> Response:
        """The answer to a preflight request."""
        origin = self._origin(request)
        method = request.headers.get("access-control-request-method", "").strip()
        asked = split_list(request.headers.getlist("access-control-request-headers"))
        asked = list(dict.fromkeys(h.lower() for h in asked))

        failed = []
        if origin is None or not self.origin_allowed(origin):
            failed.append("origin")
        if not (is_token(method) and (self.allow_all_methods or method in self.methods)):
            failed.append("method")
        if not all(is_token(h) and (self.allow_all_headers or h in self.headers) for h in asked):
            failed.append("headers")
        if failed:
            return PlainTextResponse(f"Disallowed CORS {', '.join(failed)}", 400, [("vary", _PREFLIGHT_VARY)])

        assert origin is not None
        headers = [("access-control-allow-origin", "*" if self.static else origin)]
        if self.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if self.allow_all_methods:
            # "*" counts as a wildcard only without credentials; the requested method always works
            headers.append(("access-control-allow-methods", method if self.allow_credentials else "*"))
        else:
            headers.append(("access-control-allow-methods", self._methods_value))
        if asked:
            # "*" never covers Authorization (Fetch): name the requested headers then
            wildcard = self.allow_all_headers and not self.allow_credentials and "authorization" not in asked
            headers.append(("access-control-allow-headers", "*" if wildcard else ", ".join(asked)))
        if self.max_age is not None:
            headers.append(("access-control-max-age", str(self.max_age)))
        headers.append(("vary", _PREFLIGHT_VARY))
        return Response(b"", 204, headers)

    def on_response(self, request: Any, response: Response) -> None:
        if self._is_preflight(request):
            return None                # answered (or refused) by on_request above
        headers = response.headers
        if self.static:
            headers["access-control-allow-origin"] = "*"
            if self._expose_value or self.expose_all:
                headers["access-control-expose-headers"] = "*" if self.expose_all else self._expose_value
            return None
        headers.add_vary("Origin")
        origin = self._origin(request)
        if origin is None or not self.origin_allowed(origin):
            for name in _ANSWER_HEADERS:             # the policy is this middleware's, not a handler's
                if name in headers:
                    del headers[name]
            return None
        headers["access-control-allow-origin"] = origin
        if self.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        if self.expose_all and self.allow_credentials:
            # with credentials "*" is a header name: name the response's own headers
            names = [n for n in headers.keys() if not n.startswith("access-control-")
                     and n not in _SAFELISTED_RESPONSE and n not in ("set-cookie", "set-cookie2", "vary")]
            if names:
                headers["access-control-expose-headers"] = ", ".join(names)
        elif self.expose_all or self._expose_value:
            headers["access-control-expose-headers"] = "*" if self.expose_all else self._expose_value
        return None

    def __repr__(self) -> str:
        return (f"CORSMiddleware(origins={sorted(self.origins)!r}, regex={self.origin_regex and self.origin_regex.pattern!r}, "
                f"credentials={self.allow_credentials})")
