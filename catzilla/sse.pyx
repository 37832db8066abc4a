"""Server-sent events (WHATWG HTML, "Server-sent events").

ServerSentEvent formats one event; EventSourceResponse streams a sync or async
iterable of events (ServerSentEvent, dict of fields, str/bytes data, or a
model, dataclass or list sent as JSON data) as text/event-stream, with a
comment line as keep-alive when the source has produced nothing for `ping`
seconds.

Wire format: every field is written "name: value" (the parser strips exactly
one space after the colon, so values that begin with a space survive), data
is split on CRLF, CR and LF into one "data:" line per line (the client joins
them with LF), and a blank line ends the event."""
import re

from catzilla.models cimport encode_json, is_model
from catzilla.response cimport StreamingResponse

cdef object _LINE_BREAK = re.compile(r"\r\n|\r|\n")
cdef frozenset _FIELDS = frozenset(("data", "event", "id", "retry", "comment"))

cdef str _text(object value, str what):
    if isinstance(value, str):
        return <str>value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"SSE {what} must be str, not {type(value).__name__}")


cdef str _single_line(object value, str what):
    cdef str s = _text(value, what)
    if "\r" in s or "\n" in s:
        raise ValueError(f"SSE {what} must not contain CR or LF: {s!r}")
    return s


cdef class ServerSentEvent:
    """ServerSentEvent(data=None, *, event=None, id=None, retry=None, comment=None)

    data: str (bytes are decoded as UTF-8); anything else (dict, list, a
    model, numbers, bool...) is sent as JSON (catzilla.models.encode_json).
    Line breaks in data become several data: lines.
    event, id: one line (ValueError on CR/LF; id must not contain NUL, which
    clients would ignore). retry: reconnection time in milliseconds (int >= 0).
    comment: lines starting with ':' (ignored by clients; line breaks allowed)."""

    cdef readonly object data          # str or None
    cdef readonly object event
    cdef readonly object id
    cdef readonly object retry
    cdef readonly object comment

    def __init__(self, data=None, *, event=None, id=None, retry=None, comment=None):
        if data is not None:
            if isinstance(data, (str, bytes, bytearray, memoryview)):
                data = _text(data, "data")
            else:
                data = encode_json(data).decode("utf-8")
        self.data = data
        self.event = None if event is None else _single_line(event, "event")
        if id is not None:
            id = _single_line(id, "id")
            if "\0" in id:
                raise ValueError("SSE id must not contain NUL")
        self.id = id
        if retry is not None:
            if isinstance(retry, bool) or not isinstance(retry, int):
                raise TypeError(f"SSE retry must be an int (milliseconds), not {type(retry).__name__}")
            if retry < 0:
                raise ValueError("SSE retry must be >= 0")
        self.retry = retry
        self.comment = None if comment is None else _text(comment, "comment")

    cpdef bytes encode(self):
        """The event on the wire, UTF-8, ending with a blank line."""
        cdef list out = []
        cdef str line
        if self.comment is not None:
            for line in _LINE_BREAK.split(self.comment):
                out.append(": " + line + "\n" if line else ":\n")
        if self.event is not None:
            out.append("event: " + self.event + "\n")
        if self.id is not None:
            out.append("id: " + self.id + "\n")
        if self.retry is not None:
            out.append(f"retry: {self.retry}\n")
        if self.data is not None:
            for line in _LINE_BREAK.split(self.data):
                out.append("data: " + line + "\n")
        out.append("\n")
        return "".join(out).encode("utf-8")

    def __bytes__(self):
        return self.encode()

    def __eq__(self, other):
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        o = <ServerSentEvent>other
        return (self.data, self.event, self.id, self.retry, self.comment) == \
            (o.data, o.event, o.id, o.retry, o.comment)

    def __hash__(self):
        return hash((self.data, self.event, self.id, self.retry, self.comment))

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in (("data", self.data), ("event", self.event),
                                                       ("id", self.id), ("retry", self.retry),
                                                       ("comment", self.comment)) if v is not None)
        return f"ServerSentEvent({fields})"


cpdef bytes encode_item(object item):
    """One item of an EventSourceResponse source, on the wire."""
    if isinstance(item, ServerSentEvent):
        return (<ServerSentEvent>item).encode()
    if isinstance(item, (str, bytes, bytearray, memoryview)):
        return ServerSentEvent(item).encode()
    if isinstance(item, dict):
        unknown = set(item) - _FIELDS
        if unknown:
            raise ValueError(f"unknown SSE field(s) {sorted(map(str, unknown))}; "
                             f"use data, event, id, retry, comment")
        return ServerSentEvent(**item).encode()
    if isinstance(item, (list, tuple)) or is_model(type(item)):     # typed items: the event's data
        return ServerSentEvent(item).encode()
    raise TypeError(f"EventSourceResponse items must be ServerSentEvent, dict (of fields), str, "
                    f"a model or a list, not {type(item).__name__}")


cdef class EventSourceResponse(StreamingResponse):
    """EventSourceResponse(content, status_code=200, headers=None, *, ping=15.0, ping_message=": ping")

    content: a sync or async iterable of ServerSentEvent, dict (keys data,
    event, id, retry, comment), str (data), or a model / dataclass / pydantic
    model / list (its JSON is the data). It is streamed by the same pumps
    as any StreamingResponse (sync iterables on the worker threads), each item
    encoded as an event. Sends Content-Type: text/event-stream, Cache-Control:
    no-cache and X-Accel-Buffering: no (headers given here override or add).
    When nothing was sent for `ping` seconds, `ping_message` (a comment line)
    is sent to keep proxies and clients from timing out, without interrupting
    the source; ping=None or 0 disables it. When the client goes away the
    source is closed (its finally: blocks run)."""

    cdef readonly object source

    def __init__(self, content, status_code=None, headers=None, *, ping=15.0, str ping_message=": ping",
                 status=None, background=None):
        if isinstance(content, (ServerSentEvent, dict, str, bytes, bytearray, memoryview)) \
                or is_model(type(content)):          # one event (a pydantic model is iterable)
            content = (content,)
        elif not (hasattr(content, "__aiter__") or hasattr(content, "__iter__")):
            raise TypeError(f"EventSourceResponse content must be an iterable or async iterable "
                            f"of events, not {type(content).__name__}")
        if not ping_message.startswith(":") or "\r" in ping_message or "\n" in ping_message:
            raise ValueError("ping_message must be one comment line starting with ':'")
        ping = 0.0 if ping is None else float(ping)
        if ping < 0:
            raise ValueError("ping must be >= 0 (0 or None: no keep-alive comments)")
        StreamingResponse.__init__(self, content, status_code, headers, background=background, status=status,
                                   content_type="text/event-stream; charset=utf-8")
        self.source = content
        self.encode = encode_item
        self.ping = ping
        self.ping_bytes = (ping_message + "\n\n").encode("utf-8")
        self.headers.setdefault("cache-control", "no-cache")
