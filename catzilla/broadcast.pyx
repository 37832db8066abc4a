"""Broadcast: named topics fanned out to SSE and WebSocket subscribers.

    hub = Broadcast()                               # in-process
    hub = Broadcast("redis://127.0.0.1:6379/0")     # every worker and host through Redis pub/sub

    @app.get("/feed/{topic}")
    def feed(request, topic):
        return hub.sse(topic, last_event_id=request.headers.get("last-event-id"))

    @app.websocket("/ws/{topic}")
    async def ws_feed(ws, topic):
        await ws.accept()
        await hub.attach(ws, topic)

    await hub.publish("prices", {"sym": "ACME", "px": 12.5}, event="tick")

An event is encoded once and written to every subscriber by the compiled core
(catzilla/_core/fanout.pyx). Python here handles the API, the topics' settings,
the backend (Redis) and the keep-alive timer: once per event or per second,
never per subscriber."""
import asyncio
import json
import logging
import time
import weakref

from catzilla._core.fanout cimport (Topic, Subscriber, Event, make_event,
                                    FeedResponse, POLICY_DROP_OLDEST, POLICY_DISCONNECT)
from catzilla._core.websocket cimport WSProtocol
from catzilla.websocket cimport WebSocket
from catzilla.exceptions import WebSocketDisconnect

__all__ = ["Broadcast"]

cdef object _log = logging.getLogger("catzilla")
cdef dict _POLICIES = {"drop-oldest": POLICY_DROP_OLDEST, "disconnect": POLICY_DISCONNECT}
cdef object _hubs = weakref.WeakSet()      # every Broadcast, for the server's start and stop


cdef object _payload(object data):
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"broadcast data must be str, bytes or JSON-serialisable, "
                        f"not {type(data).__name__}") from exc


cdef str _topic_name(object name):
    if not isinstance(name, str):
        raise TypeError(f"a topic name is a str, not {type(name).__name__}")
    if not name or len(<str>name) > 256 or any(c in <str>name for c in "\0\r\n"):
        raise ValueError(f"a topic name is 1..256 characters without NUL, CR or LF: {name!r}")
    return <str>name


cdef object _event_name(object event):
    if event is None:
        return None
    if not isinstance(event, str):
        raise TypeError(f"event must be a str, not {type(event).__name__}")
    if not event or any(c in <str>event for c in "\0\r\n"):
        raise ValueError(f"event must be a non-empty line without NUL: {event!r}")
    return event


cdef class Broadcast:
    """Broadcast(url=None, *, replay=100, replay_seconds=None, max_pending=262144,
    policy="drop-oldest", ping=15.0, retry=3000, prefix="catzilla:")

    url: None for an in-process hub (one process: with workers > 1 each worker
    has its own), or "redis://host:port/db" to share topics between processes
    and machines (needs the `redis` extra). replay / replay_seconds: how many
    recent events (and for how long) each topic keeps for SSE clients that
    reconnect with Last-Event-ID. max_pending: bytes a subscriber may have
    queued; past it `policy` applies: "drop-oldest" skips events until the
    client catches up, then sends a `dropped` event and goes on with the
    newest; "disconnect" closes the connection (an EventSource reconnects with
    Last-Event-ID and is replayed). ping: seconds of silence before an SSE
    keep-alive comment (0: none). retry: the reconnection delay (ms) sent to
    SSE clients (0: none). topic() overrides the defaults per topic."""

    cdef readonly object url
    cdef readonly str prefix
    cdef object backend
    cdef dict topics                 # name -> Topic
    cdef dict settings               # the defaults
    cdef dict overrides              # name -> settings for that topic
    cdef int retry
    cdef double ping
    cdef Event ping_event
    cdef object loop
    cdef object timer
    cdef object __weakref__

    def __init__(self, url=None, *, replay=100, replay_seconds=None, max_pending=256 * 1024,
                 policy="drop-oldest", ping=15.0, retry=3000, prefix="catzilla:"):
        self.settings = self._checked({"replay": replay, "replay_seconds": replay_seconds,
                                       "max_pending": max_pending, "policy": policy})
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError("retry must be an int >= 0 (milliseconds)")
        if ping is None or ping < 0:
            raise ValueError("ping must be >= 0 seconds (0: no keep-alive comments)")
        self.url = url
        self.prefix = prefix
        self.retry = retry
        self.ping = float(ping)
        self.ping_event = make_event(0, None, None, False)
        self.topics = {}
        self.overrides = {}
        if url is None:
            self.backend = None
        else:
            if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"Broadcast url must be redis://, rediss:// or unix://, not {url!r}")
            try:
                from catzilla._broadcast_redis import RedisBackend
            except ImportError as exc:
                raise ImportError("Broadcast(url) needs redis-py: pip install 'catzilla[redis]'") from exc
            self.backend = RedisBackend(url, prefix)
        _hubs.add(self)

    cdef dict _checked(self, dict s):
        if s["policy"] not in _POLICIES:
            raise ValueError(f"policy must be 'drop-oldest' or 'disconnect', not {s['policy']!r}")
        if isinstance(s["replay"], bool) or not isinstance(s["replay"], int) or s["replay"] < 0:
            raise ValueError("replay must be an int >= 0 (events kept per topic)")
        if s["replay_seconds"] is not None and not s["replay_seconds"] > 0:
            raise ValueError("replay_seconds must be > 0 or None")
        if isinstance(s["max_pending"], bool) or not isinstance(s["max_pending"], int) \
                or s["max_pending"] < 1024:
            raise ValueError("max_pending must be an int >= 1024 (bytes)")
        return s

    def topic(self, name, *, replay=None, replay_seconds=None, max_pending=None, policy=None):
        """Settings for one topic (those not given keep the hub's defaults)."""
        cdef str n = _topic_name(name)
        cdef dict s = dict(self.overrides.get(n, self.settings))
        cdef Topic t
        for key, value in (("replay", replay), ("replay_seconds", replay_seconds),
                           ("max_pending", max_pending), ("policy", policy)):
            if value is not None:
                s[key] = value
        self.overrides[n] = self._checked(s)
        t = self.topics.get(n)
        if t is not None:
            t.policy = _POLICIES[s["policy"]]
            t.max_pending = s["max_pending"]
            t.replay_seconds = s["replay_seconds"] or 0.0
            t.set_replay(s["replay"])

    cdef Topic _get(self, str name):
        cdef Topic t = self.topics.get(name)
        cdef dict s
        if t is None:
            s = self.overrides.get(name, self.settings)
            t = Topic(name, _POLICIES[s["policy"]], s["max_pending"], s["replay"],
                      s["replay_seconds"] or 0.0)
            self.topics[name] = t
        return t

    # -- subscribing ---------------------------------------------------------------

    def sse(self, topic, last_event_id=None, *, headers=None):
        """A text/event-stream response subscribed to `topic`. last_event_id:
        the client's Last-Event-ID header: the events after it are replayed
        first, or a `reset` event says they are gone."""
        self._bind()
        return FeedResponse(self._get(_topic_name(topic)), self.retry, last_event_id, headers)

    async def attach(self, WebSocket ws not None, topic, on_message=None):
        """Push every event of `topic` to an accepted WebSocket until it closes.
        Messages the client sends go to on_message(message) (sync or async)
        when given, else are discarded."""
        cdef Topic t = self._get(_topic_name(topic))
        cdef WSProtocol proto = ws.p
        cdef Subscriber sub
        if proto.state == 0:
            raise RuntimeError('WebSocket is not connected: call "accept" first')
        self._bind()
        sub = t.attach_ws(proto)
        try:
            while True:
                message = await ws.receive()
                if on_message is not None:
                    result = on_message(message)
                    if asyncio.iscoroutine(result):
                        await result
        except WebSocketDisconnect:
            pass
        finally:
            t.detach(sub)

    # -- publishing ----------------------------------------------------------------

    async def publish(self, topic, data, *, event=None):
        """Send `data` (str, bytes, or JSON-serialisable) to every subscriber of
        `topic` (on every process with a Redis url); returns the event id."""
        cdef str name = _topic_name(topic)
        cdef Topic t
        cdef long long event_id
        payload = _payload(data)
        event = _event_name(event)
        if self.backend is not None:
            self._bind()
            return await self.backend.publish(name, event, payload)
        t = self._get(name)
        event_id = t.last_id + 1 if t.last_id else time.time_ns() // 1000
        self._deliver(name, event_id, event, payload)
        return event_id

    def publish_threadsafe(self, topic, data, *, event=None):
        """publish() from any thread: returns a concurrent.futures.Future of the event id."""
        if self.loop is None or self.loop.is_closed():
            raise RuntimeError("this Broadcast is not serving yet: publish from a thread once "
                               "the server has started")
        return asyncio.run_coroutine_threadsafe(self.publish(topic, data, event=event), self.loop)

    # -- what the backend calls, on the loop -----------------------------------------

    def _deliver(self, str topic, long long event_id, event, payload):
        cdef Topic t = self._get(topic)
        if t.last_id and event_id <= t.last_id:
            return                                  # already seen
        if t.last_id and event_id != t.last_id + 1:
            t.send_signal("gap", {"missed": event_id - t.last_id - 1})
        t.emit(make_event(event_id, event, payload, True))

    def _gap(self, topic, str reason):
        cdef Topic t
        for t in ([self.topics[topic]] if topic in self.topics else []) if topic is not None \
                else list(self.topics.values()):
            t.forget()
            t.send_signal("gap", {"reason": reason})

    # -- lifecycle ---------------------------------------------------------------------

    def _bind(self):
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
            if self.ping > 0:
                self.timer = self.loop.call_later(self.ping, self._tick)

    async def _start(self):
        self._bind()
        if self.backend is not None:
            await self.backend.start(self)

    def _tick(self):
        cdef Topic t
        self.timer = self.loop.call_later(self.ping, self._tick)
        for t in list(self.topics.values()):
            t.ping(self.ping_event, self.ping)

    async def close(self):
        """Stop: SSE feeds end, attached WebSockets are closed (1001), the
        backend disconnects. The hub can serve again afterwards."""
        cdef Topic t
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for t in list(self.topics.values()):
            t.close_all()
        if self.backend is not None:
            await self.backend.close()
        self.loop = None

    def metrics(self):
        """Subscribers per topic and events published, delivered, dropped, and
        slow subscribers disconnected, per topic and in total."""
        cdef Topic t
        topics = {t.name: t.metrics() for t in self.topics.values()}
        total = {k: sum(m[k] for m in topics.values())
                 for k in ("subscribers", "published", "delivered", "dropped", "slow_disconnects")}
        total["topics"] = topics
        total["backend"] = "memory" if self.backend is None else "redis"
        if self.backend is not None:
            total["connected"] = bool(getattr(self.backend, "connected", False))
        return total

    def __repr__(self):
        return f"<Broadcast {self.url or 'in-process'} {len(self.topics)} topics>"


async def serving_started():
    """The server started on this loop: hubs bind to it (and connect their backend)."""
    for hub in list(_hubs):
        await hub._start()


async def serving_stopped():
    for hub in list(_hubs):
        await hub.close()


def in_process_hubs():
    """Hubs without a backend (a warning with workers > 1: each worker has its own)."""
    return [hub for hub in _hubs if hub.url is None]
