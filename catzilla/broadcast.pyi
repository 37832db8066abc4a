"""Type stub for catzilla/broadcast.pyx: named topics fanned out to SSE and
WebSocket subscribers by the compiled core, in one process or through Redis.
A hub is a component of one app (Catzilla.add_broadcast): started and stopped
with it."""
import concurrent.futures
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from catzilla.app import Catzilla
from catzilla.response import Response
from catzilla.websocket import WebSocket

__all__ = ["Broadcast"]

_Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]
_Message = Union[str, bytes]

class Broadcast:
    @property
    def url(self) -> Optional[str]: ...
    @property
    def prefix(self) -> str: ...
    @property
    def app(self) -> Optional[Catzilla]:
        """The app this hub serves now (the Catzilla), or None when it is not serving."""
    def __init__(self, url: Optional[str] = None, *, replay: int = 100,
                 replay_seconds: Optional[float] = None, max_pending: int = 262144,
                 policy: str = "drop-oldest", ping: float = 15.0, retry: int = 3000,
                 prefix: str = "catzilla:") -> None: ...
    def topic(self, name: str, *, replay: Optional[int] = None, replay_seconds: Optional[float] = None,
              max_pending: Optional[int] = None, policy: Optional[str] = None) -> None:
        """Settings for one topic (those not given keep the hub's defaults)."""
    def sse(self, topic: str, last_event_id: Optional[str] = None, *, headers: _Headers = None) -> Response:
        """A text/event-stream response subscribed to `topic`, replaying what
        followed `last_event_id` (or sending a `reset` event when it is gone)."""
    async def attach(self, ws: WebSocket, topic: str,
                     on_message: Optional[Callable[[_Message], Optional[Awaitable[None]]]] = None) -> None:
        """Push every event of `topic` to an accepted WebSocket until it closes."""
    async def publish(self, topic: str, data: Any, *, event: Optional[str] = None) -> int:
        """Send `data` to every subscriber of `topic`; returns the event id."""
    def publish_threadsafe(self, topic: str, data: Any, *,
                           event: Optional[str] = None) -> "concurrent.futures.Future[int]":
        """publish() from any thread, once the server has started."""
    async def start(self, app: Catzilla) -> None:
        """Serve `app` on the running loop (the app calls it as it starts serving);
        RuntimeError if another app serves the hub now."""
    async def close(self) -> None:
        """Stop: feeds end, attached WebSockets close (1001), the backend disconnects."""
    def metrics(self) -> Dict[str, Any]:
        """Subscribers per topic; events published, delivered, dropped; slow disconnects."""
