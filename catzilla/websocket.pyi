"""Type stub for catzilla/websocket.pyx: the object a WebSocket handler gets.

    @app.websocket("/ws")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws:         # str for text frames, bytes for binary
            await ws.send(message)
"""
import enum
from typing import Any, AsyncIterator, Mapping, Optional, Sequence, Tuple, Union

from catzilla.datastructures import Headers, QueryParams
from catzilla.exceptions import WebSocketDisconnect as WebSocketDisconnect
from catzilla.request import Request

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketState"]

_Message = Union[str, bytes]
_Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]

class WebSocketState(enum.IntEnum):
    CONNECTING = 0
    CONNECTED = 1
    CLOSING = 2
    DISCONNECTED = 3

class WebSocket:
    @property
    def request(self) -> Request:
        """The handshake request."""
    @property
    def path_params(self) -> dict[str, Any]: ...
    def __init__(self, proto: Any, request: Request, path_params: Optional[dict[str, Any]]) -> None:
        """Made by the dispatcher for each handshake (open_handshake); handlers receive it."""
    @property
    def headers(self) -> Headers: ...
    @property
    def query_params(self) -> QueryParams: ...
    @property
    def cookies(self) -> dict[str, str]: ...
    @property
    def client(self) -> tuple[Any, ...] | str | None: ...
    @property
    def url(self) -> str:
        """ws://host/path?query (wss:// behind a TLS proxy, with ProxyHeadersMiddleware)"""
    @property
    def scheme(self) -> str:
        """"ws", or "wss" when the handshake came over https (as a trusted proxy forwarded)."""
    @property
    def path(self) -> str: ...
    @property
    def app(self) -> Any: ...
    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered (Sec-WebSocket-Protocol), in order."""
    @property
    def client_state(self) -> WebSocketState: ...
    async def accept(self, subprotocol: Optional[str] = None, headers: _Headers = None) -> None:
        """Switch protocols (101). `subprotocol` must be one the client offered
        (ValueError otherwise); `headers` are added to the 101 response."""
    async def receive(self) -> _Message:
        """The next message: str (text) or bytes (binary). WebSocketDisconnect once
        the peer has closed or the connection is gone."""
    async def receive_text(self) -> str: ...
    async def receive_bytes(self) -> bytes: ...
    async def receive_json(self) -> Any: ...
    async def send(self, data: Union[str, bytes, bytearray, memoryview]) -> None:
        """str as a text message, bytes-like as binary; waits while the peer is not reading."""
    async def send_text(self, data: str) -> None: ...
    async def send_bytes(self, data: Union[bytes, bytearray, memoryview]) -> None: ...
    async def send_json(self, data: Any, *, binary: bool = False) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake; before accept, refuse with HTTP 403."""
    def __aiter__(self) -> "WebSocket": ...
    async def __anext__(self) -> _Message:
        """The next message; iteration ends on a normal close (1000, 1001, no code)."""
    def iter_text(self) -> AsyncIterator[str]: ...
    def iter_bytes(self) -> AsyncIterator[bytes]: ...


def open_handshake(request: Request, route: Any, path_params: Optional[dict[str, Any]]) -> Any:
    """The endpoint step of a WebSocket route, run by the dispatcher after the
    middleware's and hooks' on_request: the Response refusing a malformed
    handshake, or the upgrade (status 101) that starts the handler."""
