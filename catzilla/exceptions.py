"""Exceptions a handler may raise to answer with an HTTP error."""
from __future__ import annotations

from http import HTTPStatus
from typing import Mapping, Optional


class HTTPException(Exception):
    """Raise to answer with `status_code` and a plain-text `detail` (default: the reason phrase)."""

    def __init__(self, status_code: int, detail: Optional[str] = None,
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

    def __repr__(self) -> str:
        return f"HTTPException({self.status_code}, {self.detail!r})"


class ClientDisconnect(Exception):
    """Raised by `request.stream()` / `await request.body()` when the client went away
    before sending the whole body."""
