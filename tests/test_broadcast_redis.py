"""The Redis backend of the Broadcast hub (catzilla/_broadcast_redis.py)
against a real Debian `redis-server`, started by each test on a free loopback
port in a temporary directory (no persistence), and killed (-9), stopped
(SIGSTOP) or restarted on the same port mid-test.

The backend is driven directly first, with a fake receiver that records the
`deliver` and `gap` calls it receives; the last test runs two server
processes (tests/apps/broadcast_app.py) whose hubs share the Redis, with
SSE subscribers on both.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Awaitable, Callable, List, Optional, Tuple

import pytest

from feeds import Feed, metrics, post, pump_all
from procs import ROOT, free_port, launcher, wait_until

redis = pytest.importorskip("redis", reason="redis-py is not installed (the redis extra, or pip install redis)")

from catzilla._broadcast_redis import RedisBackend, decode_message, encode_message  # noqa: E402

REDIS_SERVER = shutil.which("redis-server") or next(
    (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)), None)

pytestmark = [
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed (scripts/system-deps.sh installs it)"),
    pytest.mark.timeout(60),
]


class RedisServer:
    """One redis-server process on 127.0.0.1:port, that can be killed and
    restarted on the same port."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Optional[subprocess.Popen] = None
        self.logfile = directory / "redis.log"

    def start(self) -> None:
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.dir)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self._answers_ping, 10.0, f"redis-server on port {self.port} to answer PING")

    def _answers_ping(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited ({self.proc.returncode}):\n{self.logfile.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9, and reap it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)   # in case it was stopped
        self.proc.kill()
        self.proc.wait(10)

    def restart(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        self.start()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def client(self) -> "redis.Redis":
        """A plain synchronous redis-py client, for the test's own commands."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.close()


class FakeHub:
    """Records what the backend calls, in order."""

    def __init__(self, fail_on: Optional[str] = None) -> None:
        self.calls: List[tuple] = []
        self.fail_on = fail_on

    def deliver(self, topic: str, event_id: int, event: Optional[str], payload: Any) -> None:
        self.calls.append(("deliver", topic, event_id, event, payload))
        if self.fail_on is not None and payload == self.fail_on:
            raise RuntimeError("hub bug")

    def gap(self, topic: Optional[str], reason: str) -> None:
        self.calls.append(("gap", topic, reason))

    def delivered(self, topic: Optional[str] = None) -> List[Tuple[int, Optional[str], Any]]:
        return [c[2:] for c in self.calls if c[0] == "deliver" and (topic is None or c[1] == topic)]

    def gaps(self) -> List[tuple]:
        return [c for c in self.calls if c[0] == "gap"]


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def run(coro: Awaitable[Any], timeout: float = 45.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def started(url: str, hub: FakeHub, prefix: str = "cz:", **settings: float) -> RedisBackend:
    # Settings are class attributes, read when the backend creates its clients.
    cls = type("TunedBackend", (RedisBackend,), settings) if settings else RedisBackend
    backend = cls(url, prefix, hub)
    await backend.start()
    return backend


def redis_warnings(caplog) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "catzilla" and r.levelno >= logging.WARNING]


# -- the message format -----------------------------------------------------------------

@pytest.mark.parametrize("event,payload", [
    (None, "plain"), ("tick", '{"sym":"ACME","px":12.5}'), ("a b 12 - s", " 3 - b "), (None, ""),
    ("", ""), ("évènement", "données ✓"), (None, b""), ("bin", b"\x00\xff 7 - s\n"), ("12", b"12"),
])
def test_message_round_trip(event, payload):
    event_id = 1795944533100079
    message = b"%d " % event_id + encode_message(event, payload)
    assert decode_message(message) == (event_id, event, payload)
    assert type(decode_message(message)[2]) is type(payload)


@pytest.mark.parametrize("message", [b"", b"12", b"12 s", b"x s - a", b"12 q - a", b"12 s 9 ab", b"12 s x ab",
                                     b"12 s - \xff"])
def test_malformed_messages_are_rejected(message):
    with pytest.raises(ValueError):   # UnicodeDecodeError is a ValueError
        decode_message(message)


def test_payload_must_be_str_or_bytes():
    with pytest.raises(TypeError):
        encode_message(None, 12)   # type: ignore[arg-type]


# -- against redis-server ---------------------------------------------------------------

def test_publish_order_ids_and_round_trip(redis_server):
    sent = [("tick", f"str {i}") if i % 3 == 0 else (None, b"bytes \x00 %d" % i) if i % 3 == 1 else ("", "")
            for i in range(300)]

    async def main():
        hub = FakeHub()
        backend = await started(redis_server.url, hub)
        try:
            ids = []
            for i, (event, payload) in enumerate(sent):
                ids.append(await backend.publish("prices", event, payload))
                if i % 10 == 0:   # another topic interleaved: its own counter
                    await backend.publish("other", None, str(i))
            await until(lambda: len(hub.delivered()) == len(sent) + 30, 10, "every event back")
            return ids, hub
        finally:
            await backend.close()

    ids, hub = run(main())
    # Ids: contiguous per topic, the first a microsecond timestamp of the server's clock.
    assert ids == list(range(ids[0], ids[0] + len(sent)))
    assert abs(ids[0] / 1e6 - time.time()) < 60
    assert hub.delivered("prices") == [(i, e, p) for i, (e, p) in zip(ids, sent)]
    other = hub.delivered("other")
    assert [p for _, _, p in other] == [str(i) for i in range(0, 300, 10)]
    assert [i for i, _, _ in other] == list(range(other[0][0], other[0][0] + 30))
    assert hub.gaps() == []


def test_concurrent_publishes_arrive_in_id_order(redis_server):
    async def main():
        hub = FakeHub()
        backend = await started(redis_server.url, hub)
        try:
            ids = await asyncio.gather(*(backend.publish("t", None, str(i)) for i in range(200)))
            await until(lambda: len(hub.delivered()) == 200, 10, "200 events back")
            return sorted(ids), hub.delivered("t")
        finally:
            await backend.close()

    ids, got = run(main())
    assert ids == list(range(ids[0], ids[0] + 200))
    assert [i for i, _, _ in got] == ids   # Redis order is id order
    assert sorted(int(p) for _, _, p in got) == list(range(200))


def test_two_backends_see_each_other(redis_server):
    async def main():
        hub_a, hub_b, hub_other = FakeHub(), FakeHub(), FakeHub()
        a = await started(redis_server.url, hub_a, prefix="app*[1]:")
        b = await started(redis_server.url, hub_b, prefix="app*[1]:")
        # Another prefix, that the first one's pattern would match were its glob characters not escaped.
        other = await started(redis_server.url, hub_other, prefix="appX1:")
        try:
            ids = []
            for i in range(100):
                ids.append(await (a if i % 2 == 0 else b).publish("feed", "n", f"{i}"))
            await other.publish("feed", None, "not for a or b")
            await until(lambda: len(hub_a.delivered()) == 100 and len(hub_b.delivered()) == 100
                        and len(hub_other.delivered()) == 1, 10, "every event at both")
            await asyncio.sleep(0.2)   # anything extra would show up now
            return ids, hub_a, hub_b, hub_other
        finally:
            for backend in (a, b, other):
                await backend.close()

    ids, hub_a, hub_b, hub_other = run(main())
    assert ids == list(range(ids[0], ids[0] + 100))
    expected = [(i, "n", f"{n}") for n, i in enumerate(ids)]
    assert hub_a.delivered() == expected
    assert hub_b.delivered() == expected
    assert [c[1] for c in hub_a.calls] == ["feed"] * 100
    assert [p for _, _, p in hub_other.delivered()] == ["not for a or b"]


def test_redis_restart_signals_gap_and_ids_keep_growing(redis_server, caplog):
    caplog.set_level(logging.INFO, logger="catzilla")

    async def main():
        hub_a, hub_b = FakeHub(), FakeHub()
        a = await started(redis_server.url, hub_a)
        b = await started(redis_server.url, hub_b)
        try:
            # Both publish before (each pools a connection that Redis's death leaves stale).
            before = [await (a, b)[i % 2].publish("t", None, f"before {i}") for i in range(20)]
            await until(lambda: len(hub_a.delivered()) == len(hub_b.delivered()) == 20, 10, "the first events at both")
            assert a.connected and b.connected
            redis_server.kill()
            await until(lambda: not a.connected and not b.connected, 10, "the subscriptions to drop")
            await asyncio.sleep(1.0)   # an outage of several reconnect attempts
            with pytest.raises(ConnectionError):
                await a.publish("t", None, "lost")
            redis_server.start()   # same port, empty: the id counter is gone
            await until(lambda: hub_a.gaps() and hub_b.gaps(), 10, "the gap at both")
            assert a.connected and b.connected
            # b first: its pooled connection is the stale one, a's failed publish dropped its own.
            after = [await (b, a)[i % 2].publish("t", None, f"after {i}") for i in range(20)]
            await until(lambda: len(hub_a.delivered()) == 40 and len(hub_b.delivered()) == 40, 10,
                        "the later events")
            return before, after, hub_a, hub_b
        finally:
            await a.close()
            await b.close()

    before, after, hub_a, hub_b = run(main())
    assert after[0] > before[-1]   # restarted from the clock, not from 1
    assert after == list(range(after[0], after[0] + 20))
    for hub in (hub_a, hub_b):
        kinds = [c[0] for c in hub.calls]
        assert kinds == ["deliver"] * 20 + ["gap"] + ["deliver"] * 20
        assert hub.gaps() == [("gap", None, "redis reconnected")]
        assert [p for _, _, p in hub.delivered()] == [f"before {i}" for i in range(20)] + \
            [f"after {i}" for i in range(20)]
    # One warning per backend for the whole outage, whatever the number of attempts.
    lost = [m for m in redis_warnings(caplog) if "subscription" in m and "is down" in m]
    assert len(lost) == 2, redis_warnings(caplog)


def test_publish_while_down_fails_promptly(redis_server):
    async def main():
        hub = FakeHub()
        backend = await started(redis_server.url, hub)
        try:
            redis_server.kill()
            t0 = time.monotonic()
            for _ in range(5):
                with pytest.raises(ConnectionError) as info:
                    await backend.publish("t", "e", "x")
                assert isinstance(info.value.__cause__, redis.exceptions.RedisError)
            return time.monotonic() - t0
        finally:
            await backend.close()

    # Refused connections fail at once; the bound only guards against retries or hangs.
    assert run(main()) < 2.0


def test_unresponsive_redis_is_detected(redis_server, caplog):
    """SIGSTOP: the TCP connections stay open but nothing answers. publish()
    times out as a ConnectionError, the subscription's PING watchdog declares
    it lost, and after SIGCONT the hub hears of the gap and events flow again."""
    caplog.set_level(logging.INFO, logger="catzilla")
    fast = dict(socket_timeout=1.0, connect_timeout=1.0, ping_interval=0.3, ping_timeout=0.5)

    async def main():
        hub = FakeHub()
        backend = await started(redis_server.url, hub, **fast)
        try:
            first = await backend.publish("t", None, "first")
            await until(hub.delivered, 10, "the first event")     # before Redis freezes, under load too
            redis_server.pause()
            t0 = time.monotonic()
            with pytest.raises(ConnectionError):
                await backend.publish("t", None, "stuck")
            waited = time.monotonic() - t0
            await until(lambda: any("subscription" in m and "is down" in m for m in redis_warnings(caplog)), 10,
                        "the watchdog to notice")
            redis_server.resume()
            await until(hub.gaps, 10, "the gap")
            # The timed-out publish may or may not have run once Redis woke up.
            later = await backend.publish("t", None, "later")
            await until(lambda: hub.delivered() and hub.delivered()[-1][2] == "later", 10, "the later event")
            return first, later, waited, hub
        finally:
            redis_server.resume()
            await backend.close()

    first, later, waited, hub = run(main())
    assert 0.5 < waited < 5.0   # the socket timeout (1 s), not a hang
    assert later > first
    assert hub.delivered()[0] == (first, None, "first")
    assert hub.gaps() == [("gap", None, "redis reconnected")]


def test_start_while_redis_is_down(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="catzilla")
    server = RedisServer(tmp_path)   # not started yet

    async def main():
        hub = FakeHub()
        t0 = time.monotonic()
        backend = await started(server.url, hub)
        start_took = time.monotonic() - t0
        try:
            await asyncio.get_running_loop().run_in_executor(None, server.start)
            await until(hub.gaps, 10, "the subscription")
            event_id = await backend.publish("t", None, "hello")
            await until(hub.delivered, 10, "the event")
            return start_took, event_id, hub
        finally:
            await backend.close()

    try:
        start_took, event_id, hub = run(main())
    finally:
        server.close()
    assert start_took < 2.0   # start() does not wait for Redis to come up
    assert hub.calls == [("gap", None, "redis reconnected"), ("deliver", "t", event_id, None, "hello")]
    assert len([m for m in redis_warnings(caplog) if "subscription" in m and "is down" in m]) == 1


def test_hub_errors_and_foreign_messages_do_not_break_the_subscription(redis_server, caplog):
    async def main():
        hub = FakeHub(fail_on="boom")
        backend = await started(redis_server.url, hub)
        try:
            await backend.publish("t", None, "one")
            await backend.publish("t", None, "boom")
            client = redis_server.client()
            client.publish("cz:t:t", b"not a catzilla message")
            client.publish("cz:t:t", b"nor this")
            client.close()
            await backend.publish("t", None, "two")
            await until(lambda: len(hub.delivered()) == 3, 10, "the events")
            return hub
        finally:
            await backend.close()

    hub = run(main())
    assert [p for _, _, p in hub.delivered()] == ["one", "boom", "two"]
    assert hub.gaps() == []   # no reconnect
    assert any(r.name == "catzilla" and "FakeHub.deliver() failed" in r.getMessage() for r in caplog.records)
    assert len([m for m in redis_warnings(caplog) if "malformed" in m]) == 1


def test_close_leaves_no_tasks_or_connections(redis_server):
    async def clients() -> int:
        # Our own connection included.
        return await asyncio.get_running_loop().run_in_executor(None, lambda: len(redis_server.client().client_list()))

    async def main():
        ours = asyncio.all_tasks()   # this test's own (this one, the wait_for() around it)
        baseline = await clients()
        hub = FakeHub()
        backend = await started(redis_server.url, hub)
        await asyncio.gather(*(backend.publish("t", None, str(i)) for i in range(20)))   # several pooled connections
        await until(lambda: len(hub.delivered()) == 20, 10, "the events")
        during = await clients()
        await backend.close()
        await backend.close()   # idempotent
        after = await clients()
        # A closed backend can serve again (the hub's close() allows it), and close again.
        await backend.start()
        await backend.publish("t", None, "again")
        await until(lambda: hub.delivered()[-1][2] == "again", 10, "the event after a restart")
        await backend.close()
        after_again = await clients()
        # close() while the subscriber waits out a back-off must be prompt too.
        down = await started(redis_server.url, FakeHub())
        redis_server.kill()
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        await down.close()
        close_took = time.monotonic() - t0
        others = asyncio.all_tasks() - ours
        return baseline, during, after, after_again, close_took, others

    gc.collect()            # what earlier tests left behind warns now, not below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        baseline, during, after, after_again, close_took, others = run(main())
        gc.collect()
    assert during > baseline + 1   # the subscription and the publishing pool
    assert after == after_again == baseline
    assert close_took < 1.0
    assert others == set()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == [], \
        [str(w.message)[:200] for w in caught if issubclass(w.category, ResourceWarning)][:3]


# -- two server processes sharing the Redis ------------------------------------------------

APP = ROOT / "tests" / "apps" / "broadcast_app.py"


def id_data(feed: Feed) -> List[Tuple[int, str]]:
    """(id, data) of the events a feed received (those with an id)."""
    return [(int(e["id"]), e["data"]) for e in feed.events if "id" in e]


def read(feeds: List[Feed], until: Callable[[], Any], timeout: float, what: str) -> None:
    """pump_all(), failing as soon as a feed's connection closed."""
    pump_all(feeds, lambda: until() or any(f.closed for f in feeds), timeout, what)
    assert not [f for f in feeds if f.closed], f"a feed closed while waiting for {what}"


@pytest.mark.timeout(60)
def test_two_servers_share_topics_through_redis_and_survive_its_restart(redis_server, tmp_path):
    topic = "news"
    with launcher(tmp_path) as run:
        servers = [run.start([sys.executable, str(APP)], BROADCAST_URL=redis_server.url) for _ in range(2)]
        ports = [s.port for s in servers]
        wait_until(lambda: all(metrics(p)["connected"] for p in ports), 10, "both hubs on Redis")
        # Two subscribers on each server, attached before anything is published.
        feeds = [Feed(p, f"/feed/{topic}") for p in ports for _ in range(2)]
        try:
            read(feeds, lambda: all(f.head is not None for f in feeds), 10, "the feeds' heads")
            wait_until(lambda: all(metrics(p)["subscribers"] == 2 for p in ports), 10, "the subscribers")

            def publish_alternately(tag: str, n: int) -> List[Tuple[int, str]]:
                sent = []
                for i in range(n):
                    reply = post(ports[i % 2], f"/publish/{topic}", f"{tag} {i}".encode())
                    sent.append((reply["id"], f"{tag} {i}"))
                return sent

            before = publish_alternately("before", 20)
            ids = [i for i, _ in before]
            assert ids == list(range(ids[0], ids[0] + 20))   # one sequence for both servers
            read(feeds, lambda: all(len(id_data(f)) == 20 for f in feeds), 10, "the first events")
            assert all(id_data(f) == before for f in feeds)

            # Redis dies mid-stream: publishing fails cleanly, the feeds stay open.
            redis_server.kill()
            wait_until(lambda: not any(metrics(p)["connected"] for p in ports), 10, "the hubs to notice")
            post(ports[0], f"/publish/{topic}", b"lost", expect=503)
            redis_server.start()   # same port, empty
            read(feeds, lambda: all(any(e.get("event") == "gap" for e in f.events) for f in feeds), 15,
                 "the gap signal on every feed")

            after = publish_alternately("after", 20)
            ids = [i for i, _ in after]
            assert ids == list(range(ids[0], ids[0] + 20))
            assert ids[0] > before[-1][0]
            read(feeds, lambda: all(len(id_data(f)) == 40 for f in feeds), 10, "the later events")
        finally:
            for f in feeds:
                f.close()
        for f in feeds:
            # Still the same connection (never closed: checked by pump), everything in order.
            assert id_data(f) == before + after
            assert f.events[0] == {"retry": "3000"}
            first_gap = next(k for k, e in enumerate(f.events) if e.get("event") == "gap")
            assert [(int(e["id"]), e["data"]) for e in f.events[1:first_gap]] == before
            assert f.events[first_gap] == {"event": "gap", "data": '{"reason":"redis reconnected"}'}
            # then the later events, with no second gap for the restarted counter's jump
            assert [(int(e["id"]), e["data"]) for e in f.events[first_gap + 1:]] == after
        for s in servers:
            assert s.proc.poll() is None, s.text()
            assert "Traceback" not in s.stderr, s.stderr
