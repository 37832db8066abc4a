"""Redis pub/sub backend of the Broadcast hub (``Broadcast("redis://...")``);
the backend interface is described in catzilla/broadcast.pyx.

Every process publishes through one Lua script that assigns the event id and
publishes atomically, so the id order of a topic is its order on the Redis
channel, and every process subscribes to all topics with one PSUBSCRIBE: the
hub keeps (or drops) what it receives. A background task reads the
subscription, hands each event to the hub's receiver (``receiver.deliver()``)
and, when the connection is lost, reconnects with back-off and then tells it
(``receiver.gap()``) that events may have been missed.

Wire format of a channel message (bytes; fields separated by single spaces)::

    <id> <kind> <event-length> <event><payload>

``kind`` is ``s`` (the payload is UTF-8 text, delivered as str) or ``b``
(raw bytes, delivered as bytes); ``event-length`` is the byte length of the
UTF-8 event name, or ``-`` when there is no event name (the event field is then
empty). The first three fields never contain a space, so the message splits
unambiguously whatever the event name and payload contain.
"""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Callable, Optional, Tuple, Union

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("Broadcast over Redis needs redis-py: the redis extra, or pip install redis") from exc
try:
    from redis.maint_notifications import MaintNotificationsConfig
except ImportError:  # older redis-py: no maintenance notifications
    MaintNotificationsConfig = None  # type: ignore[misc,assignment]

__all__ = ["RedisBackend", "encode_message", "decode_message"]

logger = logging.getLogger("catzilla")

# KEYS[1] = the topic's id counter, ARGV[1] = its channel, ARGV[2] = the message
# without its id. A counter that INCR creates (a new topic, or a Redis that
# restarted without persistence) starts at the server's clock in microseconds,
# so ids never go backwards. string.format('%d'): Lua 5.1 prints numbers above
# 1e14 in exponent form with tostring(); doubles are exact up to 2**53.
_PUBLISH_LUA = """
local id = redis.call('INCR', KEYS[1])
if id == 1 then
  local t = redis.call('TIME')
  id = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[1], string.format('%d', id))
end
redis.call('PUBLISH', ARGV[1], string.format('%d', id) .. ' ' .. ARGV[2])
return id
"""

# redis-py 8 speaks RESP3 and then enables maintenance notifications, with
# which its pool skips the check that drops a pooled connection the server
# closed: the first publish after a Redis restart would fail on the dead one.
_NO_MAINT_NOTIFICATIONS = ({"maint_notifications_config": MaintNotificationsConfig(enabled=False)}
                           if MaintNotificationsConfig is not None else {})

Payload = Union[str, bytes]


def encode_message(event: Optional[str], payload: Payload) -> bytes:
    """The message without its id (the Lua script prepends ``<id> ``)."""
    if isinstance(payload, str):
        kind, body = b"s", payload.encode("utf-8")
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        kind, body = b"b", bytes(payload)
    else:
        raise TypeError(f"payload must be str or bytes, not {type(payload).__name__}")
    if event is None:
        return kind + b" - " + body
    name = event.encode("utf-8")
    return b"%s %d %s%s" % (kind, len(name), name, body)


def decode_message(data: bytes) -> Tuple[int, Optional[str], Payload]:
    """``(id, event, payload)`` of a channel message; ValueError if malformed."""
    parts = data.split(b" ", 3)
    if len(parts) != 4:
        raise ValueError("too few fields")
    raw_id, kind, length, rest = parts
    if not raw_id.isdigit():
        raise ValueError("bad id")
    if length == b"-":
        event = None
    else:
        if not length.isdigit() or int(length) > len(rest):
            raise ValueError("bad event length")
        n = int(length)
        event, rest = rest[:n].decode("utf-8"), rest[n:]
    if kind == b"s":
        payload: Payload = rest.decode("utf-8")
    elif kind == b"b":
        payload = rest
    else:
        raise ValueError("bad payload kind")
    return int(raw_id), event, payload


def _glob_escape(text: str) -> str:
    """text as a literal inside a PSUBSCRIBE pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisBackend:
    """Publishes and receives the hub's events through Redis pub/sub.

    ``url`` is a redis-py URL (``redis://host:port/db``, ``rediss://``,
    ``unix://``); its query string may override the socket timeouts below.
    ``prefix`` starts every key and channel name this backend uses.
    ``receiver`` gets the events received (its ``deliver`` and ``gap``).
    """

    name = "redis"

    #: Seconds to wait for a TCP connection, and for any reply, before Redis
    #: counts as unreachable (so publish() fails promptly instead of hanging).
    connect_timeout = 2.0
    socket_timeout = 5.0
    #: The subscription sends PING after this many idle seconds, and counts the
    #: connection as lost when nothing at all arrives for ping_timeout after
    #: that (a half-open TCP connection never reports an error by itself).
    ping_interval = 5.0
    ping_timeout = 5.0
    #: Reconnect back-off: first delay, doubling up to the cap, each jittered.
    backoff_first = 0.05
    backoff_cap = 2.0
    #: Connections publish() may use at once.
    publish_connections = 8

    def __init__(self, url: str, prefix: str, receiver: Any) -> None:
        self.url = url
        self.prefix = prefix
        self.receiver = receiver
        self._seq_prefix = prefix + "seq:"
        self._channel_prefix = (prefix + "t:").encode("utf-8")
        self._pattern = _glob_escape(prefix + "t:") + "*"
        self._task: Optional["asyncio.Task[None]"] = None
        self._malformed = 0
        #: True while the subscription is up (the hub's metrics report it).
        self.connected = False
        self._new_clients()   # parses the URL now, so a bad one fails at Broadcast()

    def _new_clients(self) -> None:
        # Clients connect on first use and bind to no event loop before, so a
        # closed backend can start again (on another loop too) with a fresh pair.
        self._pub = self._client(self.publish_connections)
        self._sub = self._client(1)
        self._script = self._pub.register_script(_PUBLISH_LUA)

    def _client(self, connections: int) -> "aioredis.Redis":
        # A blocking pool: a burst of concurrent publishes waits (up to the
        # socket timeout) for one of a few connections rather than opening one
        # each. retries=0: redis-py would otherwise retry (and reconnect) inside
        # a call; publish() reports the failure at once, and the subscriber
        # runs its own reconnect loop so that it knows when to signal a gap.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, max_connections=connections, timeout=self.socket_timeout,
            socket_connect_timeout=self.connect_timeout, socket_timeout=self.socket_timeout,
            retry=Retry(NoBackoff(), 0), decode_responses=False, **_NO_MAINT_NOTIFICATIONS)
        return aioredis.Redis(connection_pool=pool)

    # -- the backend interface ----------------------------------------------------------

    async def start(self) -> None:
        """Start the subscriber task; returns after its first attempt to
        subscribe (subscribed, or failed and retrying in the background)."""
        if self._task is not None:
            raise RuntimeError("RedisBackend.start() called twice")
        first: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(first), name="catzilla-broadcast-redis")
        await asyncio.wait({first, self._task}, return_when=asyncio.FIRST_COMPLETED)

    async def publish(self, topic: str, event: Optional[str], payload: Payload) -> int:
        """Publish one event; returns its id. Raises ConnectionError (the
        builtin; the redis-py error is its __cause__) while Redis is unreachable."""
        message = encode_message(event, payload)
        try:
            return int(await self._script(keys=[self._seq_prefix + topic],
                                          args=[self._channel_prefix + topic.encode("utf-8"), message]))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise ConnectionError(f"Redis at {self.url} is unreachable: {exc}") from exc

    async def close(self) -> None:
        """Stop the subscriber task and close every connection. Idempotent;
        start() (or publish()) may follow, with new connections."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # wait() does not raise the task's CancelledError
        self.connected = False
        clients = (self._sub, self._pub)
        self._new_clients()
        for client in clients:
            await _aclose(client)
            await _aclose(client.connection_pool)

    # -- the subscriber -----------------------------------------------------------------

    async def _run(self, first: "asyncio.Future[None]") -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        down_since: Optional[float] = None
        while True:
            pubsub = self._sub.pubsub()
            try:
                await self._subscribe(pubsub)
                self.connected = True
                if down_since is not None:
                    logger.info("Broadcast: Redis at %s is back after %.1f s; subscribers were told of the gap",
                                self.url, loop.time() - down_since)
                if failures:
                    # Events published meanwhile never reached this process.
                    self._tell(self.receiver.gap, None, "redis reconnected")
                failures, down_since = 0, None
                if not first.done():
                    first.set_result(None)
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection: reconnect
                self.connected = False
                if down_since is None:
                    down_since = loop.time()
                    logger.warning("Broadcast: Redis subscription at %s is down (%s: %s); reconnecting "
                                   "with back-off", self.url, type(exc).__name__, exc)
                failures += 1
                if not first.done():
                    first.set_result(None)
            finally:
                await _aclose(pubsub)
            delay = min(self.backoff_cap, self.backoff_first * 2 ** min(failures - 1, 30))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _subscribe(self, pubsub: Any) -> None:
        """PSUBSCRIBE and wait for Redis to confirm it (from then on every
        publish is received)."""
        loop = asyncio.get_running_loop()
        await pubsub.psubscribe(self._pattern)
        deadline = loop.time() + self.socket_timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RedisTimeoutError("no PSUBSCRIBE confirmation")
            msg = await pubsub.get_message(timeout=remaining)
            if msg is not None and msg["type"] == "psubscribe":
                return

    async def _pump(self, pubsub: Any) -> None:
        """Hand every received event to the hub; returns only by an exception."""
        loop = asyncio.get_running_loop()
        ping_sent: Optional[float] = None
        while True:
            msg = await pubsub.get_message(timeout=self.ping_timeout if ping_sent is not None else self.ping_interval)
            if msg is None:
                if ping_sent is None:
                    await pubsub.ping()
                    ping_sent = loop.time()
                elif loop.time() - ping_sent >= self.ping_timeout:
                    raise RedisTimeoutError(f"no reply to PING in {self.ping_timeout} s")
                continue
            ping_sent = None
            if msg["type"] == "pmessage":
                self._received(msg["channel"], msg["data"])

    def _received(self, channel: bytes, data: bytes) -> None:
        try:
            if not channel.startswith(self._channel_prefix):
                raise ValueError("channel outside the prefix")
            topic = channel[len(self._channel_prefix):].decode("utf-8")
            event_id, event, payload = decode_message(data)
        except (ValueError, UnicodeDecodeError) as exc:
            # Someone else publishing on our channels: skip, say so once.
            self._malformed += 1
            if self._malformed == 1:
                logger.warning("Broadcast: ignoring a malformed message on Redis channel %r (%s)", channel, exc)
            return
        self._tell(self.receiver.deliver, topic, event_id, event, payload)

    @staticmethod
    def _tell(method: Callable[..., None], *args: Any) -> None:
        # A failure inside the receiver is a bug to log, not a reason to drop
        # the Redis connection.
        try:
            method(*args)
        except Exception:
            logger.exception("Broadcast: %s() failed", method.__qualname__)


async def _aclose(obj: Any) -> None:
    """Close a redis-py client, PubSub or pool (aclose() from redis-py 5.0.1;
    close() or, for a pool, disconnect() before)."""
    closer = getattr(obj, "aclose", None) or getattr(obj, "close", None) or obj.disconnect
    try:
        await closer()
    except Exception as exc:  # closing a broken connection may fail: nothing left to do
        logger.debug("Broadcast: closing a Redis connection failed: %r", exc)
