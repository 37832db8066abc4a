"""Type stub for catzilla/sse.pyx: server-sent events."""
from typing import Any, AsyncIterable, Iterable, Mapping, Optional, Sequence, Tuple, Union

from catzilla.response import StreamingResponse

_Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]
# ServerSentEvent, a dict of its fields, str/bytes data, or a model/dataclass/list (JSON data)
_Item = Union["ServerSentEvent", Mapping[str, Any], str, bytes, Any]

class ServerSentEvent:
    """One event. data: str/bytes (UTF-8) as is, anything else as JSON; split on
    CRLF/CR/LF into several data: lines. event/id: one line (ValueError on
    CR/LF, and on NUL in id). retry: milliseconds, int >= 0. comment: ':' lines."""

    data: Optional[str]
    event: Optional[str]
    id: Optional[str]
    retry: Optional[int]
    comment: Optional[str]

    def __init__(self, data: Any = None, *, event: Optional[str] = None, id: Optional[str] = None,
                 retry: Optional[int] = None, comment: Optional[str] = None) -> None: ...
    def encode(self) -> bytes:
        """The event on the wire (UTF-8), ending with a blank line."""
    def __bytes__(self) -> bytes: ...

def encode_item(item: _Item) -> bytes:
    """A ServerSentEvent, a dict of its fields, str/bytes data, or a model,
    dataclass or list (sent as JSON data), on the wire."""

class EventSourceResponse(StreamingResponse):
    """text/event-stream from a sync or async iterable of events (streamed by the
    same pumps as any StreamingResponse, each item encoded as an event), with
    Cache-Control: no-cache, X-Accel-Buffering: no, and `ping_message` sent
    whenever the source has been silent for `ping` seconds (None/0: never)."""

    source: Any

    def __init__(self, content: Union[Iterable[_Item], AsyncIterable[_Item], _Item],
                 status_code: Optional[int] = None, headers: _Headers = None, *,
                 ping: Optional[float] = 15.0, ping_message: str = ": ping",
                 status: Optional[int] = None, background: Any = None) -> None: ...
