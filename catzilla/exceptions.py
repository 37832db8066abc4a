"""Exceptions a handler may raise to answer with an HTTP error."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any, Dict, List, Mapping, Optional, Sequence


class HTTPException(Exception):
    """Raise to answer with `status_code`. By default the answer is JSON
    `{"detail": detail}` (any JSON value; default: the reason phrase) with
    `headers`; an exception handler for HTTPException or for the status code
    answers otherwise. The server's own errors (404, 405, a 413 for a body
    over max_body, a 400 for a malformed request...) are HTTPExceptions too."""

    def __init__(self, status_code: int, detail: Any = None,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        if not 400 <= status_code <= 599:
            raise ValueError("HTTPException status_code must be 400..599")
        if detail is None:
            try:
                detail = HTTPStatus(status_code).phrase
            except ValueError:
                detail = "Error"
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers) if headers else None

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"HTTPException({self.status_code}, {self.detail!r})"


class RequestValidationError(Exception):
    """The parameters or body of a request failed the endpoint's declared types:
    `errors()` lists every failing one (FastAPI's entries: type, loc, msg, input,
    and ctx when there is one), `body` is the request body that was validated
    (None when none was read). The default answer is 422 `{"detail": errors}`;
    an exception handler registered for this class answers instead."""

    def __init__(self, errors: Sequence[Dict[str, Any]], *, body: Any = None) -> None:
        super().__init__(errors)
        self._errors = list(errors)
        self.body = body

    def errors(self) -> List[Dict[str, Any]]:
        return self._errors

    def __str__(self) -> str:
        lines = [f"{len(self._errors)} validation error{'' if len(self._errors) == 1 else 's'}:"]
        for e in self._errors:
            lines.append(f"  {' -> '.join(map(str, e.get('loc', ())))}: {e.get('msg')} ({e.get('type')})")
        return "\n".join(lines)


class ClientDisconnect(Exception):
    """Raised by `request.stream()` / `await request.body()` when the client went away
    before sending the whole body."""


class WebSocketDisconnect(Exception):
    """Raised by a WebSocket's receive (and send) once the peer is gone: `code` is
    the close code it sent (1005 when its close frame had none), 1006 when the
    connection dropped without a close frame, or the code the server failed the
    connection with (1002 protocol error, 1007 invalid data, 1009 too big)."""

    def __init__(self, code: int = 1000, reason: Optional[str] = None) -> None:
        super().__init__(code, reason or "")
        self.code = code
        self.reason = reason or ""

    def __repr__(self) -> str:
        return f"WebSocketDisconnect({self.code}, {self.reason!r})"
