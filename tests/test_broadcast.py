"""Broadcast hub over real sockets: fan-out to many SSE subscribers in order,
a stalled subscriber (budget, drop-oldest, disconnect), Last-Event-ID replay,
WebSocket subscribers, keep-alive, shutdown, metrics, definition errors."""
import json
import os
import sys
import threading
import time

import pytest

from catzilla import Broadcast, Catzilla
from catzilla.testing import TestClient
from feeds import Feed, metrics, post, pump_all
from procs import ROOT, launcher, wait_until

APP = str(ROOT / "tests" / "apps" / "broadcast_app.py")
SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")      # scripts/asan.sh


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server():
    with launcher(ROOT) as run:
        p = run.start([sys.executable, APP], PORT="0", PING="0.4")
        yield p


def subscribe(port, topic, n, **kw):
    feeds = [Feed(port, f"/feed/{topic}", **kw) for _ in range(n)]
    pump_all(feeds, lambda: all(f.head is not None and f.events for f in feeds), 30,
             f"{n} subscribers to get their head and retry:")
    return feeds


def test_a_thousand_subscribers_receive_every_event_in_order(server):
    port = server.port
    feeds = subscribe(port, "many", 1000)
    for f in feeds:
        assert "200 OK" in f.head.splitlines()[0]
        assert "text/event-stream" in f.head and "cache-control: no-cache" in f.head.lower()
        assert f.events[0] == {"retry": "3000"}
    assert metrics(port)["topics"]["many"]["subscribers"] == 1000
    post(port, "/pace/many?n=30&gap=0.01")
    pump_all(feeds, lambda: all(len(f.data_events()) >= 30 for f in feeds), 60, "30 events on each")
    first_id = None
    for f in feeds:
        got = f.data_events()
        assert [json.loads(e["data"])["seq"] for e in got] == list(range(30))
        ids = [int(e["id"]) for e in got]
        assert ids == list(range(ids[0], ids[0] + 30))           # contiguous, in order
        first_id = first_id or ids[0]
        assert ids[0] == first_id                                 # the same ids for everyone
    m = metrics(port)["topics"]["many"]
    assert m["published"] == 30 and m["delivered"] == 30 * 1000 and m["dropped"] == 0
    for f in feeds:
        f.close()
    wait_until(lambda: metrics(port)["topics"]["many"]["subscribers"] == 0, 10, "unsubscribed")


@pytest.mark.slow
def test_a_stalled_subscriber_neither_delays_the_others_nor_grows_memory(server):
    port = server.port
    others = subscribe(port, "stall", 50)

    def latencies(feeds, n, size):
        before = [len(f.data_events()) for f in feeds]
        post(port, f"/pace/stall?n={n}&gap=0.02&size={size}")
        pump_all(feeds, lambda: all(len(f.data_events()) >= b + n for f, b in zip(feeds, before)), 60,
                 f"{n} events")
        lat = []
        for f, b in zip(feeds, before):
            timed = [(e, at) for e, at in zip(f.events, f.arrived) if "data" in e and "event" not in e]
            lat += [at - json.loads(e["data"])["t"] for e, at in timed[b:]]
        lat.sort()
        return lat[len(lat) * 99 // 100] / 1e9

    base = latencies(others, 50, 16384)
    stalled = Feed(port, "/feed/stall", rcvbuf=4096)    # reads nothing from here on
    wait_until(lambda: metrics(port)["topics"]["stall"]["subscribers"] == 51, 10, "the stalled one")
    rss0 = rss_kib(server.proc.pid)
    # ~10 s of 16 KiB events (8 MiB) that the stalled subscriber never reads
    during = max(latencies(others, 100, 16384) for _ in range(5))
    rss1 = rss_kib(server.proc.pid)
    m = metrics(port)["topics"]["stall"]
    assert m["dropped"] > 300                    # the stalled one skipped most of them
    if not SANITIZED:                            # ASan's quarantine keeps freed memory resident
        assert rss1 - rss0 < 6 * 1024, (rss0, rss1)   # its budget (256 KiB) is all it costs
    assert during < max(3 * base, base + 0.1), (base, during)
    # it reads again: what was queued, then at the next event a "dropped" marker and that event
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        stalled.pump()
        time.sleep(0.01)
    queued = len(stalled.events)
    post(port, "/pace/stall?n=1&gap=0")
    pump_all([stalled], lambda: len(stalled.data_events()) > 0 and len(stalled.events) >= queued + 2, 20,
             "the marker and the newest event")
    marker, newest = stalled.events[queued], stalled.events[queued + 1]
    assert marker["event"] == "dropped" and "id" not in marker
    assert json.loads(marker["data"])["dropped"] > 300
    assert json.loads(newest["data"])["seq"] == 0
    for f in others + [stalled]:
        f.close()


def test_disconnect_policy_closes_the_slow_subscriber_only(server):
    port = server.port
    good = subscribe(port, "kick", 5)
    slow = Feed(port, "/feed/kick", rcvbuf=4096)
    wait_until(lambda: metrics(port)["topics"]["kick"]["subscribers"] == 6, 10, "subscribed")
    post(port, "/pace/kick?n=400&gap=0.002&size=16384")   # beyond what the kernel buffers
    pump_all(good, lambda: all(len(f.data_events()) >= 400 for f in good), 30, "400 events")
    m = metrics(port)["topics"]["kick"]
    assert m["slow_disconnects"] == 1 and m["subscribers"] == 5
    slow.sock.setblocking(True)
    slow.sock.settimeout(10)
    assert slow.pump() is False                        # read until the server closed
    assert not slow.ended                              # cut, no last chunk: the client reconnects
    for f in good:
        assert [json.loads(e["data"])["seq"] for e in f.data_events()] == list(range(400))
        f.close()
    slow.close()


def test_last_event_id_replays_the_missed_events_without_gap_or_duplicate(server):
    port = server.port
    first = subscribe(port, "replay", 1)[0]
    ids = [post(port, "/publish/replay", f"m{i}".encode())["id"] for i in range(5)]
    pump_all([first], lambda: len(first.data_events()) == 5, 10, "5 events")
    seen = first.data_events()
    assert [e["data"] for e in seen] == [f"m{i}" for i in range(5)]
    last = seen[2]["id"]                       # it had read up to m2 when the connection dropped
    first.close()
    ids += [post(port, "/publish/replay", f"m{i}".encode())["id"] for i in range(5, 8)]
    again = Feed(port, "/feed/replay", headers=f"Last-Event-ID: {last}\r\n")
    pump_all([again], lambda: len(again.data_events()) == 5, 10, "the replay")
    post(port, "/publish/replay", b"m8")
    pump_all([again], lambda: len(again.data_events()) == 6, 10, "a live event after the replay")
    got = again.data_events()
    assert [e["data"] for e in got] == [f"m{i}" for i in range(3, 9)]
    assert [int(e["id"]) for e in got] == list(range(int(last) + 1, int(last) + 7))
    assert not any(e.get("event") == "reset" for e in again.events)
    # up to date: nothing replayed, nothing reset
    current = Feed(port, "/feed/replay", headers=f"Last-Event-ID: {got[-1]['id']}\r\n")
    # too old (the ring keeps 100), or not an id of ours: a reset event
    old = Feed(port, "/feed/replay", headers=f"Last-Event-ID: {int(ids[0]) - 1000}\r\n")
    junk = Feed(port, "/feed/replay", headers="Last-Event-ID: yesterday\r\n")
    pump_all([current, old, junk], lambda: all(f.events for f in (current, old, junk))
             and len(old.events) >= 2 and len(junk.events) >= 2, 10, "heads")
    assert current.events == [{"retry": "3000"}]
    for f in (old, junk):
        assert f.events[1]["event"] == "reset" and "id" not in f.events[1]
    for f in (again, current, old, junk):
        f.close()


def test_http10_subscriber_gets_the_events_unframed(server):
    f = Feed(server.port, "/feed/ten", http10=True)
    pump_all([f], lambda: f.events, 10, "retry")
    post(server.port, "/publish/ten?event=note", b"hello")
    pump_all([f], lambda: len(f.events) >= 2, 10, "an event")
    assert "Transfer-Encoding" not in f.head and f.events[1] == {"event": "note", "id": f.events[1]["id"],
                                                                 "data": "hello"}
    f.close()


def test_idle_feeds_get_keepalive_comments(server):
    f = Feed(server.port, "/feed/quiet")
    pump_all([f], lambda: any("comment" in e for e in f.events), 5, "a ping comment")
    f.close()


# -- in-process: WebSockets, threads, shutdown, settings --------------------------------


def make_app(**kw):
    app = Catzilla()
    hub = Broadcast(**kw)
    received = []

    @app.get("/feed/{topic}")
    def feed(request, topic):
        return hub.sse(topic, last_event_id=request.headers.get("last-event-id"))

    @app.websocket("/ws/{topic}")
    async def ws_feed(ws, topic):
        await ws.accept()
        await hub.attach(ws, topic, on_message=received.append)

    @app.post("/publish/{topic}")
    async def publish(request, topic):
        return {"id": await hub.publish(topic, await request.json(), event=request.query_params.get("event"))}

    return app, hub, received


def test_websocket_subscribers_get_each_event_as_one_message():
    app, hub, received = make_app()
    with TestClient(app) as client:
        with client.websocket_connect("/ws/w") as a, client.websocket_connect("/ws/w") as b:
            wait_until(lambda: hub.metrics()["subscribers"] == 2, 5, "two subscribers")
            client.post("/publish/w", json={"x": 1})
            client.post("/publish/w", json="text")
            for ws in (a, b):
                assert ws.receive_json() == {"x": 1}
                assert ws.receive_text() == "text"          # a str is sent as it is
            a.send_text("hi from a")
            wait_until(lambda: received == ["hi from a"], 5, "on_message")
            box = []                  # from another thread (the client runs the loop while it waits)
            threading.Thread(target=lambda: box.append(hub.publish_threadsafe("w", b"\x00\x01"))).start()
            wait_until(lambda: box, 5, "the thread")
            assert a.receive_bytes() == b"\x00\x01" and b.receive_bytes() == b"\x00\x01"
            assert box[0].result(5) > 0
        wait_until(lambda: hub.metrics()["subscribers"] == 0, 5, "detached on close")
        assert hub.metrics()["topics"]["w"]["delivered"] == 6


def test_shutdown_ends_feeds_cleanly(serve):
    app, hub, _ = make_app()
    addr = serve(app, shutdown_timeout=5.0)
    f = Feed(addr.port, "/feed/s")
    pump_all([f], lambda: f.events, 5, "retry")
    t0 = time.monotonic()
    addr.stop()
    pump_all([f], lambda: f.ended, 5, "the last chunk")
    assert time.monotonic() - t0 < 4          # not held until the shutdown deadline
    f.close()


def test_a_hub_serves_the_app_it_was_given_to_and_no_other():
    """add_broadcast: the hub starts and stops with its app; another app's
    server starting and stopping in the same process leaves it alone."""
    app, hub, _ = make_app()
    assert app.add_broadcast(hub) is hub and app.add_broadcast(hub) is hub
    assert app.broadcasts == (hub,)
    other = Catzilla()

    @other.get("/")
    def home(request):
        return "other"

    assert hub.app is None
    with TestClient(app) as client:
        assert hub.app is app                       # started with the app, before any subscriber
        client.post("/publish/t", json="x")
        with client.stream("GET", "/feed/t") as feed:
            assert feed.status_code == 200
            with TestClient(other) as second:       # another app's whole lifecycle
                assert second.get("/").text == "other"
            assert hub.app is app and hub.metrics()["subscribers"] == 1
            assert hub.metrics()["topics"]["t"]["published"] == 1
            assert (hub.metrics()["backend"], hub.metrics()["connected"]) == ("memory", True)
            for other_app in (other, Catzilla()):   # a hub serves one app at a time
                with pytest.raises(RuntimeError, match="another app"):
                    client.loop.run_until_complete(hub.start(other_app))
    assert hub.app is None                          # stopped with its app
    with pytest.raises(RuntimeError, match="not serving"):
        hub.publish_threadsafe("t", "x")
    with TestClient(other):
        assert hub.app is None and other.broadcasts == ()
    with pytest.raises(TypeError, match="Broadcast"):
        app.add_broadcast(object())


def test_a_hub_used_without_being_added_joins_the_app_at_its_first_subscriber():
    app, hub, _ = make_app()
    with TestClient(app) as client:
        assert hub.app is None and app.broadcasts == ()
        with client.websocket_connect("/ws/j") as ws:
            wait_until(lambda: hub.metrics()["subscribers"] == 1, 5, "the subscriber")
            assert hub.app is app and app.broadcasts == (hub,)
            client.post("/publish/j", json="hello")
            assert ws.receive_text() == "hello"
            with client.stream("GET", "/feed/j") as feed:         # a second use: the same hub, served once
                assert feed.status_code == 200
                wait_until(lambda: hub.metrics()["subscribers"] == 2, 5, "the SSE subscriber")
    assert hub.app is None and hub.metrics()["subscribers"] == 0   # stopped with the app it joined
    with TestClient(app) as client:                                # and started with it from then on
        assert hub.app is app


def test_definition_errors_are_clear():
    with pytest.raises(ValueError, match="policy"):
        Broadcast(policy="drop-newest")
    with pytest.raises(ValueError, match="max_pending"):
        Broadcast(max_pending=10)
    with pytest.raises(ValueError, match="redis"):
        Broadcast("http://example.com")
    hub = Broadcast()
    with pytest.raises(ValueError, match="topic"):
        hub.sse("bad\nname")
    with pytest.raises(TypeError, match="topic"):
        hub.topic(42)
    with pytest.raises(RuntimeError, match="not serving"):
        Broadcast().publish_threadsafe("t", "x")


def test_publish_rejects_bad_data_and_event_names():
    import asyncio
    hub = Broadcast()

    async def main():
        with pytest.raises(TypeError, match="JSON"):
            await hub.publish("t", object())
        with pytest.raises(ValueError, match="event"):
            await hub.publish("t", "x", event="a\nb")
        assert await hub.publish("t", "ok") > 0
        await hub.close()
    asyncio.run(main())


def test_workers_with_an_in_process_hub_warn_at_start(tmp_path):
    (tmp_path / "hubapp.py").write_text(
        "from catzilla import Broadcast, Catzilla\n"
        "app = Catzilla()\nhub = app.add_broadcast(Broadcast())\n"
        "@app.get('/')\ndef home(request):\n    return 'ok'\n")
    with launcher(tmp_path) as run:
        p = run("hubapp:app", "--workers", "2", "--port", "0", workers=2)
        assert "in-process Broadcast" in p.text()
