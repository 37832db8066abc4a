"""Server-sent events (WHATWG HTML, "Server-sent events").

ServerSentEvent formats one event; EventSourceResponse streams a sync or async
iterable of events (ServerSentEvent, dict of fields, or str/bytes data) as
text/event-stream, with a comment line as keep-alive when the source has
produced nothing for `ping` seconds.

Wire format: every field is written "name: value" (the parser strips exactly
one space after the colon, so values that begin with a space survive), data
is split on CRLF, CR and LF into one "data:" line per line (the client joins
them with LF), and a blank line ends the event."""
import asyncio
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from catzilla.response cimport StreamingResponse

cdef object _LINE_BREAK = re.compile(r"\r\n|\r|\n")
cdef object _END = object()
cdef frozenset _FIELDS = frozenset(("data", "event", "id", "retry", "comment"))

# Sync sources are pulled on these threads (one item at a time per stream), so
# a source that blocks between events does not stall the loop; a separate pool
# from asyncio's default executor, which resolvers and user code share.
SYNC_THREADS = 64
cdef object _executor = None
cdef object _executor_lock = threading.Lock()


def _forget_executor():
    # a forked worker inherits the pool object but none of its threads
    global _executor, _executor_lock
    _executor = None
    _executor_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_executor)


def _sync_executor():
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="catzilla-sse")
    return _executor


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

    data: str (bytes are decoded as UTF-8); dict, list, tuple, numbers, bool
    are sent as JSON. Line breaks in data become several data: lines.
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
                data = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
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
    raise TypeError(f"EventSourceResponse items must be ServerSentEvent, dict or str, "
                    f"not {type(item).__name__}")


async def _anext(ait):
    try:
        return await ait.__anext__()
    except StopAsyncIteration:
        return _END


def _close_quietly(it):
    try:
        it.close()
    except BaseException:
        import logging
        logging.getLogger("catzilla").warning("closing an event source raised", exc_info=True)


def _close_in_worker(executor, it):
    try:
        executor.submit(_close_quietly, it)
    except RuntimeError:            # the pool is shut down (interpreter exit): close here
        _close_quietly(it)


async def _event_stream(source, double ping, bytes ping_bytes, executor):
    """The body of an EventSourceResponse: encoded events, and ping_bytes
    whenever the source is silent for `ping` seconds (ping <= 0: never).

    The source's next item is a single pending future that a ping never
    cancels, so a ping cannot interrupt the source. When this generator is
    closed or cancelled (the client went away) the source is closed too: an
    async source has its pending step cancelled, then aclose(); a sync source
    is closed on a worker thread once its pending next() has returned."""
    cdef bint is_async = hasattr(source, "__aiter__")
    cdef bint inline_sync = not is_async and isinstance(source, (list, tuple))
    cdef bint exhausted = False
    loop = asyncio.get_running_loop()
    ait = source.__aiter__() if is_async else None
    it = None if is_async else iter(source)
    pending = None          # asyncio future for the next item
    cf = None               # the concurrent.futures.Future behind it, for a sync source
    if not is_async and not inline_sync and executor is None:
        executor = _sync_executor()
    try:
        while True:
            if inline_sync:                 # a list or tuple cannot block
                item = next(it, _END)
            elif is_async and ping <= 0:    # no timer: step the source directly
                try:
                    item = await ait.__anext__()
                except StopAsyncIteration:
                    item = _END
            else:
                if pending is None:
                    if is_async:
                        pending = loop.create_task(_anext(ait))
                    else:
                        cf = executor.submit(next, it, _END)
                        pending = asyncio.wrap_future(cf, loop=loop)
                if ping > 0 and not pending.done():
                    done, _ = await asyncio.wait((pending,), timeout=ping)
                    if not done:
                        yield ping_bytes
                        continue
                item = await pending
                pending = None
                cf = None
            if item is _END:
                exhausted = True
                break
            yield encode_item(item)
    finally:
        if cf is not None:
            # next() may still be running on a worker: close the iterator
            # there once it has returned (closing it now would fail)
            pending.cancel()
            cf.add_done_callback(lambda _f, it=it: _close_in_worker(executor, it))
            it = None
        elif pending is not None:
            if not pending.done():
                pending.cancel()
                await asyncio.wait((pending,))
            if not pending.cancelled():
                pending.exception()         # retrieved: no "never retrieved" warning
        if not exhausted:
            if is_async:
                aclose = getattr(ait, "aclose", None)
                if aclose is not None:
                    await aclose()
            elif it is not None and hasattr(it, "close"):
                if inline_sync:
                    _close_quietly(it)
                else:
                    _close_in_worker(executor, it)


cdef class _EventBody:
    """The response's content: the encoding generator is made when the server
    starts iterating (never for a HEAD request), so an unsent body leaves no
    unstarted coroutine behind."""
    cdef object source
    cdef double ping
    cdef bytes ping_bytes
    cdef object executor

    def __aiter__(self):
        return _event_stream(self.source, self.ping, self.ping_bytes, self.executor)


cdef class EventSourceResponse(StreamingResponse):
    """EventSourceResponse(content, *, ping=15.0, status=200, headers=None, ping_message=": ping")

    content: a sync or async iterable of ServerSentEvent, dict (keys data,
    event, id, retry, comment) or str (data). Sync iterables are pulled on
    worker threads. Sends Content-Type: text/event-stream, Cache-Control:
    no-cache and X-Accel-Buffering: no (headers given here override or add).
    When nothing was sent for `ping` seconds, `ping_message` (a comment line)
    is sent to keep proxies and clients from timing out; ping=None or 0
    disables it. When the client goes away the source is closed (its
    finally: blocks run)."""

    cdef readonly object source
    cdef readonly double ping

    def __init__(self, content, *, ping=15.0, int status=200, headers=None, str ping_message=": ping",
                 status_code=None, executor=None):
        cdef _EventBody body
        if isinstance(content, (ServerSentEvent, dict, str, bytes, bytearray, memoryview)):
            content = (content,)
        elif not (hasattr(content, "__aiter__") or hasattr(content, "__iter__")):
            raise TypeError(f"EventSourceResponse content must be an iterable or async iterable "
                            f"of events, not {type(content).__name__}")
        if not ping_message.startswith(":") or "\r" in ping_message or "\n" in ping_message:
            raise ValueError("ping_message must be one comment line starting with ':'")
        self.ping = 0.0 if ping is None else float(ping)
        if self.ping < 0:
            raise ValueError("ping must be >= 0 (0 or None: no keep-alive comments)")
        self.source = content
        body = _EventBody.__new__(_EventBody)
        body.source = content
        body.ping = self.ping
        body.ping_bytes = (ping_message + "\n\n").encode("utf-8")
        body.executor = executor
        StreamingResponse.__init__(self, body, status, headers, "text/event-stream; charset=utf-8",
                                   status_code=status_code)
        have = {n.lower() for n, _ in self._headers}
        if b"cache-control" not in have:
            self._headers.append((b"Cache-Control", b"no-cache"))
        if b"x-accel-buffering" not in have:
            self._headers.append((b"X-Accel-Buffering", b"no"))
