"""permessage-deflate (RFC 7692): offer negotiation and per-connection compression state."""
from typing import TypedDict

from typing_extensions import Buffer

EXTENSION: str

class PMDParams(TypedDict):
    server_no_context_takeover: bool
    client_no_context_takeover: bool
    server_max_window_bits: int
    client_max_window_bits: int

def negotiate(offer: str | bytes) -> tuple[str, PMDParams] | None: ...

class PerMessageDeflate:
    @property
    def max_size(self) -> int: ...
    @property
    def error(self) -> int: ...
    def __init__(self, params: PMDParams | dict[str, object], max_size: int, level: int = 6, *,
                 client: bool = False) -> None: ...
    def feed_bytes(self, data: Buffer) -> int: ...
    def finish_message(self) -> bytes | None: ...
    def compress_message(self, data: Buffer) -> bytes: ...
