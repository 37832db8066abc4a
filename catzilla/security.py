"""Security schemes as dependencies (FastAPI's names): each reads its
credentials from the request and fills the OpenAPI document's
`components.securitySchemes` and the operation's `security`.

    bearer = HTTPBearer()

    @app.get("/me")
    def me(creds: HTTPAuthorizationCredentials = Depends(bearer)):
        return {"token": creds.credentials}

Missing or malformed credentials answer 401 with a `WWW-Authenticate`
challenge (RFC 9110 §11.6.1; FastAPI before 0.116 answered 403 for some).
With auto_error=False the dependency's value is None instead, for routes that
also serve anonymous clients.
"""
from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any, Dict, Optional, Tuple

from catzilla.exceptions import HTTPException
from catzilla.request import Request

__all__ = ["SecurityBase", "HTTPBearer", "HTTPBasic", "HTTPAuthorizationCredentials", "HTTPBasicCredentials",
           "APIKeyHeader", "APIKeyQuery", "APIKeyCookie"]


class _Credentials:
    """What a scheme read: its fields compared as a whole; the secret one left out of repr."""
    __slots__: Tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and \
            all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in self.__slots__))

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__[:-1])
        return f"{type(self).__name__}({shown}, {self.__slots__[-1]}=...)"


class HTTPAuthorizationCredentials(_Credentials):
    """The scheme and credentials of an `Authorization: <scheme> <credentials>` header."""
    __slots__ = ("scheme", "credentials")

    def __init__(self, scheme: str, credentials: str) -> None:
        self.scheme = scheme
        self.credentials = credentials


class HTTPBasicCredentials(_Credentials):
    """The user name and password of `Authorization: Basic ...`."""
    __slots__ = ("username", "password")

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password


class SecurityBase:
    """A security scheme: `model` is its OpenAPI Security Scheme Object,
    `scheme_name` its key in components.securitySchemes (the class name
    unless given)."""
    model: Dict[str, Any]
    scheme_name: str
    auto_error: bool
    challenge: str

    def __init__(self, model: Dict[str, Any], scheme_name: Optional[str], description: Optional[str],
                 auto_error: bool, challenge: str) -> None:
        if description:
            model["description"] = description
        self.model = model
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = bool(auto_error)
        self.challenge = challenge

    def refuse(self, detail: str) -> Optional[Any]:
        """None (no credentials) for an optional scheme, else the 401."""
        if self.auto_error:
            raise HTTPException(401, detail, {"www-authenticate": self.challenge})
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.scheme_name!r}>"


def _authorization(request: Request) -> Tuple[str, str]:
    """(scheme, credentials) of the Authorization header; ("", "") when absent."""
    value = request.headers.get("authorization") or ""
    scheme, _, credentials = value.strip().partition(" ")
    return scheme, credentials.strip()


class HTTPBearer(SecurityBase):
    """`Authorization: Bearer <token>` -> HTTPAuthorizationCredentials."""

    def __init__(self, *, bearerFormat: Optional[str] = None, scheme_name: Optional[str] = None,
                 description: Optional[str] = None, auto_error: bool = True) -> None:
        model: Dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if bearerFormat:
            model["bearerFormat"] = bearerFormat
        super().__init__(model, scheme_name, description, auto_error, "Bearer")

    def __call__(self, request: Request) -> Optional[HTTPAuthorizationCredentials]:
        scheme, credentials = _authorization(request)
        if not scheme or not credentials:
            return self.refuse("Not authenticated")
        if scheme.lower() != "bearer":
            return self.refuse("Invalid authentication credentials")
        return HTTPAuthorizationCredentials(scheme, credentials)


class HTTPBasic(SecurityBase):
    """`Authorization: Basic base64(user:password)` -> HTTPBasicCredentials."""

    def __init__(self, *, scheme_name: Optional[str] = None, realm: Optional[str] = None,
                 description: Optional[str] = None, auto_error: bool = True) -> None:
        if realm is not None and ('"' in realm or "\\" in realm or "\r" in realm or "\n" in realm):
            raise ValueError("HTTPBasic realm must not contain quotes, backslashes or line breaks")
        super().__init__({"type": "http", "scheme": "basic"}, scheme_name, description, auto_error,
                         f'Basic realm="{realm}"' if realm else "Basic")

    def __call__(self, request: Request) -> Optional[HTTPBasicCredentials]:
        scheme, credentials = _authorization(request)
        if not scheme or not credentials or scheme.lower() != "basic":
            return self.refuse("Not authenticated")
        try:
            decoded = b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):          # UnicodeDecodeError is a ValueError
            return self.refuse("Invalid authentication credentials")
        username, sep, password = decoded.partition(":")
        if not sep:
            return self.refuse("Invalid authentication credentials")
        return HTTPBasicCredentials(username, password)


class _APIKey(SecurityBase):
    where = ""

    def __init__(self, *, name: str, scheme_name: Optional[str] = None, description: Optional[str] = None,
                 auto_error: bool = True) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{type(self).__name__} needs the key's name (name=...)")
        self.name = name
        super().__init__({"type": "apiKey", "in": self.where, "name": name}, scheme_name, description,
                         auto_error, "APIKey")

    def check(self, value: Optional[str]) -> Optional[str]:
        if not value:
            return self.refuse("Not authenticated")
        return value


class APIKeyHeader(_APIKey):
    """An API key in a request header (name: the header's name) -> the key."""
    where = "header"

    def __call__(self, request: Request) -> Optional[str]:
        return self.check(request.headers.get(self.name))


class APIKeyQuery(_APIKey):
    """An API key in a query parameter -> the key."""
    where = "query"

    def __call__(self, request: Request) -> Optional[str]:
        return self.check(request.query_params.get(self.name))


class APIKeyCookie(_APIKey):
    """An API key in a cookie -> the key."""
    where = "cookie"

    def __call__(self, request: Request) -> Optional[str]:
        return self.check(request.cookies.get(self.name))
