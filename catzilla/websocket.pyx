"""WebSockets: the object a WebSocket handler gets.

    @app.websocket("/ws")
    async def echo(ws):
        await ws.accept()
        async for message in ws:         # str for text frames, bytes for binary
            await ws.send(message)

The protocol itself (framing, pings, the close handshake, back-pressure) runs
in the compiled core (catzilla/_core/websocket.pyx); this module is the
handler's view of it."""
import asyncio
import enum
import json as _json

from catzilla._core.websocket cimport WSProtocol, Upgrade, handshake_refusal, new_protocol, new_upgrade
from catzilla.request cimport Request
from catzilla.router cimport Route
from catzilla.exceptions import WebSocketDisconnect
from catzilla.params import register_connection_class

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketState"]

# ends `async for message in ws` without an exception: normal closes
cdef frozenset _NORMAL_CLOSE = frozenset([1000, 1001, 1005])


def open_handshake(Request request not None, Route route not None, dict path_params):
    """The endpoint step of a WebSocket route (the dispatcher calls it, through
    the app's plan, after the middleware's and hooks' on_request): the Response
    refusing a malformed handshake, or the Upgrade that starts the handler
    with this module's WebSocket. The public class is made here, above the
    compiled core, which never imports it."""
    cdef WSProtocol proto
    refusal = handshake_refusal(request)
    if refusal is not None:
        return refusal
    arguments = path_params
    if route.plan is not None:
        # typed parameters are checked before the 101: a RequestValidationError
        # answers the handshake (422) and the handler never runs
        arguments = route.plan.ws_arguments(request, path_params)
    proto = new_protocol(request, route, arguments)
    proto.socket = WebSocket(proto, request, path_params)
    return new_upgrade(proto)


class WebSocketState(enum.IntEnum):
    CONNECTING = 0     # handshake read, not accepted yet
    CONNECTED = 1
    CLOSING = 2        # a close frame was sent or received
    DISCONNECTED = 3   # the TCP connection is gone (or the handshake was refused)


cdef class WebSocket:
    """One WebSocket connection, as its handler sees it."""

    def __init__(self, WSProtocol proto, Request request, dict path_params):
        self.p = proto
        self.request = request
        self.path_params = path_params if path_params is not None else {}

    # -- the handshake request -------------------------------------------------

    @property
    def headers(self):
        return self.request.headers

    @property
    def query_params(self):
        return self.request.query_params

    @property
    def cookies(self):
        return self.request.cookies

    @property
    def client(self):
        return self.request.client

    @property
    def url(self):
        url = self.request.url
        return "ws" + url[4:] if url.startswith("http") else url

    @property
    def scheme(self):
        return "wss" if self.request.scheme == "https" else "ws"

    @property
    def path(self):
        return self.request.path

    @property
    def app(self):
        return self.request.app

    @property
    def subprotocols(self):
        """The subprotocols the client offered (Sec-WebSocket-Protocol), in order."""
        return list(self.p.subprotocols)

    @property
    def client_state(self):
        return WebSocketState(self.p.state)

    # -- the conversation ------------------------------------------------------

    async def accept(self, subprotocol=None, headers=None):
        """Switch protocols (101). `subprotocol` must be one the client offered."""
        self.p.accept(subprotocol, headers)

    async def receive(self):
        """The next message: str (text) or bytes (binary). Raises
        WebSocketDisconnect once the peer has closed or the connection is gone."""
        cdef WSProtocol p = self.p
        while True:
            message = p.take()
            if message is not None:
                return message
            if p.state == 0:
                raise RuntimeError('WebSocket is not connected: call "accept" first')
            if p.finished():
                raise WebSocketDisconnect(p.close_code, p.close_reason)
            await p.wait()

    async def receive_text(self):
        message = await self.receive()
        if not isinstance(message, str):
            raise TypeError("expected a text message, received a binary one")
        return message

    async def receive_bytes(self):
        message = await self.receive()
        if not isinstance(message, bytes):
            raise TypeError("expected a binary message, received a text one")
        return message

    async def receive_json(self):
        """The next message (text or binary) parsed as JSON."""
        return _json.loads(await self.receive())

    async def send(self, data):
        """Send one message: str as text, bytes-like as binary. Waits while the
        peer is not reading (output above the high-water mark)."""
        cdef WSProtocol p = self.p
        drained = p.send(data)
        if drained is not None:
            await asyncio.shield(drained)
            if p.t.closed:
                raise WebSocketDisconnect(p.close_code, p.close_reason)

    async def send_text(self, str data not None):
        await self.send(data)

    async def send_bytes(self, data):
        if isinstance(data, str):
            raise TypeError("send_bytes needs bytes; use send_text for str")
        await self.send(data)

    async def send_json(self, data, *, binary=False):
        text = _json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        await self.send(text.encode("utf-8") if binary else text)

    async def close(self, int code=1000, reason=""):
        """Start the closing handshake (the core waits for the peer's close and
        closes the connection). Before accept: refuse the handshake with 403."""
        self.p.close(code, reason)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except WebSocketDisconnect as exc:
            if exc.code in _NORMAL_CLOSE:
                raise StopAsyncIteration
            raise

    async def iter_text(self):
        async for message in self:
            if not isinstance(message, str):
                raise TypeError("expected a text message, received a binary one")
            yield message

    async def iter_bytes(self):
        async for message in self:
            if not isinstance(message, bytes):
                raise TypeError("expected a binary message, received a text one")
            yield message

    def __repr__(self):
        return f"<WebSocket {self.request.path!r} {self.client_state.name}>"


register_connection_class(WebSocket)     # `ws: WebSocket` in a handler's signature is the socket
