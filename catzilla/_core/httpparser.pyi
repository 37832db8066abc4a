"""Test-facing wrapper of the C HTTP/1.1 parser (include/cz_http.c)."""
from typing import TypedDict, type_check_only

from typing_extensions import Self

class ParseError(ValueError):
    status: int
    reason: str
    def __init__(self, status: int, reason: str) -> None: ...

@type_check_only  # a stub-only name: parse_request returns a plain dict
class ParsedRequest(TypedDict):
    method: bytes
    target: bytes
    version: int  # minor version: 0 or 1
    headers: list[tuple[bytes, bytes]]
    head_length: int  # bytes through the blank line
    content_length: int  # -1 when absent
    chunked: bool
    conn_close: bool
    keep_alive: bool
    expect_continue: bool
    upgrade: bool
    has_host: bool

def parse_request(
    data: bytes,
    max_request_line: int = 8192,
    max_head_bytes: int = 65536,
    max_headers: int = 100,
) -> ParsedRequest | None: ...

class ChunkedDecoder:
    def __new__(cls, max_trailer_bytes: int = 8192) -> Self: ...
    def feed(self, data: bytes) -> tuple[bytes, bool, bytes]: ...
    @property
    def done(self) -> bool: ...
    @property
    def remaining(self) -> int: ...
    @property
    def trailer_bytes(self) -> int: ...
