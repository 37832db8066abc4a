"""Broadcast: named topics fanned out to SSE and WebSocket subscribers.

    hub = app.add_broadcast(Broadcast())                              # in-process
    hub = app.add_broadcast(Broadcast("redis://127.0.0.1:6379/0"))    # every worker and host

    @app.get("/feed/{topic}")
    def feed(request, topic):
        return hub.sse(topic, last_event_id=request.headers.get("last-event-id"))

    @app.websocket("/ws/{topic}")
    async def ws_feed(ws, topic):
        await ws.accept()
        await hub.attach(ws, topic)

    await hub.publish("prices", {"sym": "ACME", "px": 12.5}, event="tick")

A hub is a component of one app: the app starts it when it starts serving
(after its startup hooks) and closes it when it stops (before its shutdown
hooks), and no other app does. A hub the app was not given with
add_broadcast() joins the app whose handler first uses it (its first SSE
subscriber or attached WebSocket) and starts then; give it to the app up front
when it must serve before that (publish_threadsafe, a Redis subscription that
fills the replay ring, the warning about workers > 1 and an in-process hub).

An event is encoded once and written to every subscriber by the compiled core
(catzilla/_core/fanout.pyx). Python here handles the API, the topics' settings,
the backend and the keep-alive timer: once per event or per second, never per
subscriber.

The backend interface (MemoryBackend here; RedisBackend in
catzilla/_broadcast_redis.py). A backend is made for one hub's Topics, its
receiver, and has:

    name: str                       "memory", "redis": reported by metrics()
    connected: bool                 False while it cannot receive
    async start()                   begin delivering to the receiver (the hub is serving)
    async publish(topic, event, payload) -> int
                                    send one event (payload: str or bytes, event:
                                    str or None) to every process's receiver; the id
    async close()                   stop; start() may follow

and calls only the receiver's two methods, on the hub's loop:
receiver.deliver(topic, event_id, event, payload) and
receiver.gap(topic or None, reason) (events may have been missed)."""
import asyncio
import json
import time

from catzilla._core.fanout cimport (Topic, Subscriber, Event, FeedPump, Wording, new_event, ws_frame,
                                    NO_REPLAY, REPLAY_RESET, POLICY_DROP_OLDEST, POLICY_DISCONNECT)
from catzilla._core.transport cimport Transport
from catzilla._core.websocket cimport WSProtocol
from catzilla.request cimport Request
from catzilla.response cimport BodyInfo, Response, body_info
from catzilla.websocket cimport WebSocket
from catzilla.exceptions import WebSocketDisconnect
from catzilla.sse import ServerSentEvent

__all__ = ["Broadcast"]

cdef dict _POLICIES = {"drop-oldest": POLICY_DROP_OLDEST, "disconnect": POLICY_DISCONNECT}
cdef bytes _CT_SSE = b"text/event-stream; charset=utf-8"
cdef BodyInfo _FEED = body_info("stream", None, False)   # a feed is shared: never filtered


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


cdef Event make_event(long long event_id, object event, object payload, bint ws):
    """One event in every framing, encoded once. payload: str, or bytes (UTF-8
    text for SSE, a binary message on WebSockets); ws: make the WebSocket form too."""
    cdef bytes text = ServerSentEvent(payload, event=event, id=str(event_id) if event_id else None).encode()
    return new_event(event_id, text, ws_frame(payload) if ws else None)


cdef Event _notice(str name, dict data, bint ws):
    # Hub notices carry no id, so a client's Last-Event-ID stays its last real
    # event; on WebSockets they are JSON text {"event": name, "data": data}.
    if ws:
        return make_event(0, name, json.dumps({"event": name, "data": data}, separators=(",", ":")), True)
    return make_event(0, name, json.dumps(data, separators=(",", ":")), False)


cdef int _tell_all(Topic t, str name, dict data) except -1:
    return t.signal(_notice(name, data, False), _notice(name, data, True))


cdef class _Wording(Wording):
    """The notices the core sends by itself (see fanout.pxd)."""

    cdef Event dropped(self, long long skipped, bint ws):
        return _notice("dropped", {"dropped": skipped}, ws)

    cdef Event reset(self, long long last_id):
        return _notice("reset", {"last_id": last_id}, False)


cdef _Wording _WORDING = _Wording()


cdef dict _checked(dict s):
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


cdef class Topics:
    """A hub's topics by name, with their settings: what its backend delivers to."""

    cdef dict topics                 # name -> Topic
    cdef dict settings               # the defaults
    cdef dict overrides              # name -> settings for that topic

    def __init__(self, dict settings):
        self.settings = _checked(settings)
        self.topics = {}
        self.overrides = {}

    cdef Topic get(self, str name):
        cdef Topic t = self.topics.get(name)
        cdef dict s
        if t is None:
            s = self.overrides.get(name, self.settings)
            t = Topic(name, _POLICIES[s["policy"]], s["max_pending"], s["replay"],
                      s["replay_seconds"] or 0.0, _WORDING)
            self.topics[name] = t
        return t

    cdef configure(self, str name, dict given):
        cdef dict s = dict(self.overrides.get(name, self.settings))
        cdef Topic t
        for key, value in given.items():
            if value is not None:
                s[key] = value
        self.overrides[name] = _checked(s)
        t = self.topics.get(name)
        if t is not None:
            t.policy = _POLICIES[s["policy"]]
            t.max_pending = s["max_pending"]
            t.replay_seconds = s["replay_seconds"] or 0.0
            t.set_replay(s["replay"])

    cpdef deliver(self, str topic, long long event_id, event, payload):
        """One published event, to this process's subscribers of `topic`."""
        cdef Topic t = self.get(topic)
        if t.last_id and event_id <= t.last_id:
            return                                  # already seen
        if t.last_id and event_id != t.last_id + 1:
            _tell_all(t, "gap", {"missed": event_id - t.last_id - 1})
        t.emit(make_event(event_id, event, payload, True))

    def gap(self, topic, str reason):
        """Events of `topic` (None: of every topic) may have been missed."""
        cdef Topic t
        for t in ([self.topics[topic]] if topic in self.topics else []) if topic is not None \
                else list(self.topics.values()):
            t.forget()
            _tell_all(t, "gap", {"reason": reason})


cdef class MemoryBackend:
    """One process: an event goes straight to its receiver. Ids count up per
    topic from the clock (microseconds) at the topic's first event, so they do
    not go backwards when the process restarts."""

    cdef Topics receiver
    cdef readonly str name
    cdef readonly bint connected

    def __init__(self, Topics receiver):
        self.receiver = receiver
        self.name = "memory"
        self.connected = True

    async def start(self):
        pass

    async def publish(self, str topic, event, payload):
        cdef Topic t = self.receiver.get(topic)
        cdef long long event_id = t.last_id + 1 if t.last_id else time.time_ns() // 1000
        self.receiver.deliver(topic, event_id, event, payload)
        return event_id

    async def close(self):
        pass


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
    SSE clients (0: none). topic() overrides the defaults per topic.

    Give it to its app with app.add_broadcast(hub) (see the module docstring)."""

    cdef readonly object url
    cdef readonly str prefix
    cdef readonly object app         # the app it serves now, or None
    cdef Topics topics
    cdef object backend
    cdef int retry
    cdef double ping
    cdef Event ping_event
    cdef object loop
    cdef object timer
    cdef object starting             # the backend's start, when a handler's first use started the hub

    def __init__(self, url=None, *, replay=100, replay_seconds=None, max_pending=256 * 1024,
                 policy="drop-oldest", ping=15.0, retry=3000, prefix="catzilla:"):
        self.topics = Topics({"replay": replay, "replay_seconds": replay_seconds,
                              "max_pending": max_pending, "policy": policy})
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError("retry must be an int >= 0 (milliseconds)")
        if ping is None or ping < 0:
            raise ValueError("ping must be >= 0 seconds (0: no keep-alive comments)")
        self.url = url
        self.prefix = prefix
        self.retry = retry
        self.ping = float(ping)
        self.ping_event = new_event(0, b": ping\n\n", None)    # an SSE comment: no WebSocket form
        if url is None:
            self.backend = MemoryBackend(self.topics)
        else:
            if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"Broadcast url must be redis://, rediss:// or unix://, not {url!r}")
            try:
                from catzilla._broadcast_redis import RedisBackend
            except ImportError as exc:
                raise ImportError("Broadcast(url) needs redis-py: pip install 'catzilla[redis]'") from exc
            self.backend = RedisBackend(url, prefix, self.topics)

    def topic(self, name, *, replay=None, replay_seconds=None, max_pending=None, policy=None):
        """Settings for one topic (those not given keep the hub's defaults)."""
        self.topics.configure(_topic_name(name), {"replay": replay, "replay_seconds": replay_seconds,
                                                  "max_pending": max_pending, "policy": policy})

    # -- subscribing ---------------------------------------------------------------

    def sse(self, topic, last_event_id=None, *, headers=None):
        """A text/event-stream response subscribed to `topic`. last_event_id:
        the client's Last-Event-ID header: the events after it are replayed
        first, or a `reset` event says they are gone."""
        return FeedResponse(self, self.topics.get(_topic_name(topic)), last_event_id, headers)

    async def attach(self, WebSocket ws not None, topic, on_message=None):
        """Push every event of `topic` to an accepted WebSocket until it closes.
        Messages the client sends go to on_message(message) (sync or async)
        when given, else are discarded."""
        cdef Topic t = self.topics.get(_topic_name(topic))
        cdef WSProtocol proto = ws.p
        cdef Subscriber sub
        if proto.state == 0:
            raise RuntimeError('WebSocket is not connected: call "accept" first')
        if self.app is not ws.app:
            self.joined(ws.app)
        if self.starting is not None:
            await asyncio.shield(self.starting)
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
        payload = _payload(data)
        return await self.backend.publish(name, _event_name(event), payload)

    def publish_threadsafe(self, topic, data, *, event=None):
        """publish() from any thread: returns a concurrent.futures.Future of the event id."""
        if self.loop is None or self.loop.is_closed():
            raise RuntimeError("this Broadcast is not serving yet: publish from a thread once its app "
                               "serves (app.add_broadcast(hub) starts it with the app)")
        return asyncio.run_coroutine_threadsafe(self.publish(topic, data, event=event), self.loop)

    # -- lifecycle: the app's ---------------------------------------------------------

    async def start(self, app):
        """Serve `app` on the running loop: the keep-alive timer, the backend's
        connection. The app calls it as it starts serving; a hub serves one app
        at a time (RuntimeError if another serves it now)."""
        if self.bind(app):
            await self.backend.start()
        elif self.starting is not None:
            await asyncio.shield(self.starting)

    cdef bint bind(self, object app) except -1:
        """Serve `app` on the running loop; False if it does already."""
        if self.app is not None:
            if self.app is not app:
                raise RuntimeError(f"this Broadcast serves another app ({self.app!r}): one hub "
                                   f"serves one app at a time; give each app its own")
            return False
        self.loop = asyncio.get_running_loop()
        self.app = app
        if self.ping > 0:
            self.timer = self.loop.call_later(self.ping, self._tick)
        return True

    cdef int joined(self, object app) except -1:
        """A handler of `app` uses this hub, which `app` does not serve: it
        becomes one of the app's (stopped with it) and starts now."""
        app.add_broadcast(self)
        if self.bind(app):
            self.starting = self.loop.create_task(self.backend.start())
        return 0

    def _tick(self):
        cdef Topic t
        self.timer = self.loop.call_later(self.ping, self._tick)
        for t in list(self.topics.topics.values()):
            t.ping(self.ping_event, self.ping)

    async def close(self):
        """Stop: SSE feeds end, attached WebSockets are closed (1001), the
        backend disconnects. The app that serves the hub calls it as it stops;
        the hub can serve again afterwards."""
        cdef Topic t
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for t in list(self.topics.topics.values()):
            t.close_all()
        starting, self.starting = self.starting, None
        if starting is not None and not starting.done():
            starting.cancel()
            await asyncio.wait({starting})
        await self.backend.close()
        self.loop = None
        self.app = None

    def metrics(self):
        """Subscribers per topic and events published, delivered, dropped, and
        slow subscribers disconnected, per topic and in total; the backend and
        whether it is connected."""
        cdef Topic t
        topics = {t.name: t.metrics() for t in self.topics.topics.values()}
        total = {k: sum(m[k] for m in topics.values())
                 for k in ("subscribers", "published", "delivered", "dropped", "slow_disconnects")}
        total["topics"] = topics
        total["backend"] = self.backend.name
        total["connected"] = bool(self.backend.connected)
        return total

    def __repr__(self):
        return f"<Broadcast {self.url or 'in-process'} {len(self.topics.topics)} topics>"


cdef class FeedResponse(Response):
    """A text/event-stream response subscribed to a topic (Broadcast.sse)."""

    cdef Broadcast hub
    cdef Topic topic
    cdef bytes retry
    cdef long long replay_after

    def __init__(self, Broadcast hub, Topic topic, last_event_id, headers=None):
        Response.__init__(self, b"", 200, headers)
        self._ct = _CT_SSE
        self.hub = hub
        self.topic = topic
        self.retry = b"retry: %d\n\n" % hub.retry if hub.retry > 0 else None
        if last_event_id is None:
            self.replay_after = NO_REPLAY
        else:
            try:
                self.replay_after = int(last_event_id)
            except (TypeError, ValueError):
                self.replay_after = REPLAY_RESET       # not one of ours: the client is told to reset
            if self.replay_after < 0:
                self.replay_after = REPLAY_RESET
        self.headers.setdefault("cache-control", "no-cache")
        self.headers.setdefault("x-accel-buffering", "no")

    cdef int send(self, Transport t, Request req) except -1:
        cdef bint chunked
        cdef FeedPump pump = FeedPump.__new__(FeedPump)
        if self.hub.app is not req.app:
            self.hub.joined(req.app)
        pump.sub = Subscriber.__new__(Subscriber)
        pump.sub.topic = self.topic
        pump.retry = self.retry
        pump.replay_after = self.replay_after
        chunked = t.write_stream_head(self.status_code, self._ct, self._headers)
        return t.start_stream(self.status_code, pump, chunked, None, 0.0, b"", None)

    cdef BodyInfo describe(self):
        """A feed's events are encoded once for every subscriber: never wrapped."""
        return _FEED
