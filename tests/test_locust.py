"""loadtests/locustfile.py against a real Catzilla server: Locust runs headless for a few
seconds with the HTTP user types (then, in a second run, the upload and WebSocket users), and
its CSV stats must show traffic for each, no failures, and the streaming metrics (time to
first chunk, chunks per response). Then Locust against `catzilla run --workers 2`: across two
SIGHUP reloads (no failure, every stream read to its last item, only the new code answers once
the old workers are gone) and across a SIGKILLed worker (at most its in-flight requests fail)."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import procs
from procs import launcher, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCUSTFILE = os.path.join(ROOT, "loadtests", "locustfile.py")
TOKENS = 20   # chunks the test app's /stream/tokens sends

pytestmark = pytest.mark.slow      # each run of Locust takes seconds

APP = textwrap.dedent(f"""
    import asyncio
    import sys

    sys.path.insert(0, {ROOT!r})

    from catzilla import Catzilla, StreamingResponse

    app = Catzilla()


    @app.get("/")
    def home(request):
        return "Hello, World!"


    @app.get("/json")
    def json_route(request):
        return {{"message": "Hello, World!"}}


    @app.get("/stream/tokens")
    async def tokens(request):
        async def generate():
            for i in range({TOKENS}):
                await asyncio.sleep(0.01)
                yield f"token{{i}} "
        return StreamingResponse(generate())


    app.listen(0, "127.0.0.1", banner=True)
""")


UPLOAD_BYTES = 1_000_003   # not a multiple of the 64 KiB pieces: the last one is short

# POST /upload and /ws/echo as the demo app has them (examples/app.py), each in its own app so
# that each test needs only its own feature
APP_HEAD = textwrap.dedent(f"""
    import hashlib
    import sys

    sys.path.insert(0, {ROOT!r})

    from catzilla import Catzilla

    app = Catzilla()


    @app.get("/")
    def home(request):
        return "Hello, World!"
""")

UPLOAD_ROUTE = textwrap.dedent("""
    @app.post("/upload")
    async def upload(request):
        digest = hashlib.sha256()
        n = 0
        async for chunk in request.stream():
            digest.update(chunk)
            n += len(chunk)
        return {"bytes": n, "sha256": digest.hexdigest()}
""")

WS_ROUTE = textwrap.dedent("""
    @app.websocket("/ws/echo")
    async def echo(ws):
        await ws.accept()
        async for message in ws:
            await ws.send(message)
""")

LISTEN = '\napp.listen(0, "127.0.0.1", banner=True)\n'


def _serve(tmp_path, source: str):
    (tmp_path / "locust_target.py").write_text(source)
    with launcher(tmp_path) as run:
        server = run.start([sys.executable, "locust_target.py"])
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
def server_url(tmp_path):
    yield from _serve(tmp_path, APP)


@pytest.fixture
def upload_url(tmp_path):
    yield from _serve(tmp_path, APP_HEAD + UPLOAD_ROUTE + LISTEN)


@pytest.fixture
def ws_url(tmp_path):
    yield from _serve(tmp_path, APP_HEAD + WS_ROUTE + LISTEN)


def read_stats(path: str) -> dict:
    with open(path, newline="") as f:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(f)}


def run_locust(url: str, prefix: str, users: list, extra_env: dict) -> str:
    """Locust headless for 8 s against url with the named user classes; -> its output (checked: exit 0)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOCUST_", "STREAM_", "UPLOAD_", "WS_", "SSE_", "CATZILLA_HOST"))}
    env.update(extra_env)
    cmd = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "-u", "6", "-r", "6", "-t", "8s",
           "--host", url, "--exit-code-on-error", "1", "--csv", prefix, "--only-summary",
           "--stop-timeout", "5", "--loglevel", "WARNING", *users]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=45, cwd=ROOT, env=env)
    elapsed = time.monotonic() - t0
    output = (r.stdout + r.stderr)[-3000:]
    assert r.returncode == 0, f"locust exited with {r.returncode}:\n{output}"
    assert elapsed < 40, f"locust took {elapsed:.1f} s"
    return output


@pytest.mark.timeout(60)
def test_locust_headless_run(server_url, tmp_path):
    prefix = str(tmp_path / "run")
    output = run_locust(server_url, prefix, ["PlainUser", "JsonUser", "StreamUser"], {})

    stats = read_stats(prefix + "_stats.csv")
    for key in [("GET", "/"), ("GET", "/json"), ("GET", "/stream/tokens"), ("TTFC", "ttfc /stream/tokens")]:
        assert key in stats, f"no stats row {key}; rows: {sorted(stats)}\n{output}"
        assert int(stats[key]["Request Count"]) > 0, f"{key}: no requests"
        assert int(stats[key]["Failure Count"]) == 0, f"{key}: failures\n{output}"
    total = stats[("", "Aggregated")]
    assert int(total["Failure Count"]) == 0

    stream = stats[("GET", "/stream/tokens")]
    ttfc = stats[("TTFC", "ttfc /stream/tokens")]
    assert int(ttfc["Request Count"]) == int(stream["Request Count"])
    # each token arrives as its own chunk, 10 ms apart: many chunks, and the first long before the last
    assert float(ttfc["Average Content Size"]) >= TOKENS / 2, ttfc
    assert float(ttfc["Average Response Time"]) < float(stream["Average Response Time"]), (ttfc, stream)
    assert float(stream["Average Response Time"]) >= TOKENS * 10 * 0.9, stream


@pytest.mark.timeout(60)
def test_locust_upload_user(upload_url, tmp_path):
    prefix = str(tmp_path / "run")
    output = run_locust(upload_url, prefix, ["UploadUser"], {"UPLOAD_BYTES": str(UPLOAD_BYTES)})
    stats = read_stats(prefix + "_stats.csv")
    row = stats.get(("POST", "/upload"))
    assert row is not None, f"no upload row; rows: {sorted(stats)}\n{output}"
    assert int(row["Request Count"]) > 0, row
    assert int(row["Failure Count"]) == 0, f"failures\n{output}"
    assert float(row["Average Content Size"]) == UPLOAD_BYTES   # convention: the bytes uploaded


@pytest.mark.timeout(60)
def test_locust_websocket_user(ws_url, tmp_path):
    prefix = str(tmp_path / "run")
    output = run_locust(ws_url, prefix, ["WebSocketUser"], {"WS_MESSAGE_BYTES": "100"})
    stats = read_stats(prefix + "_stats.csv")
    for key in [("WS", "/ws/echo"), ("WS", "connect /ws/echo")]:
        assert key in stats, f"no stats row {key}; rows: {sorted(stats)}\n{output}"
        assert int(stats[key]["Request Count"]) > 0, f"{key}: no requests"
        assert int(stats[key]["Failure Count"]) == 0, f"{key}: failures\n{output}"
    assert float(stats[("WS", "/ws/echo")]["Average Content Size"]) == 100   # the message size
    # every user holds one socket for the whole run: 6 handshakes, no reconnects
    assert int(stats[("WS", "connect /ws/echo")]["Request Count"]) == 6, stats[("WS", "connect /ws/echo")]


HUB_ROUTES = textwrap.dedent("""
    import asyncio
    import time
    from catzilla import Broadcast
    hub = Broadcast()
    @app.get("/live/feed")
    def feed(request):
        return hub.sse("live", last_event_id=request.headers.get("last-event-id"))
    @app.on_startup
    async def publisher():
        async def run():
            while True:
                await hub.publish("live", {"t": time.time() * 1000}, event="stats")
                await asyncio.sleep(0.05)
        app.publisher = asyncio.get_running_loop().create_task(run())
""")


@pytest.fixture
def hub_url(tmp_path):
    yield from _serve(tmp_path, APP_HEAD + HUB_ROUTES + LISTEN)


@pytest.mark.timeout(60)
def test_locust_sse_subscriber_user(hub_url, tmp_path):
    """Six subscribers, each resubscribing with Last-Event-ID every 2 s: every
    event is a latency row, no id is skipped or repeated across the reconnects."""
    prefix = str(tmp_path / "run")
    output = run_locust(hub_url, prefix, ["SSESubscriberUser"], {"SSE_HOLD": "2"})
    stats = read_stats(prefix + "_stats.csv")
    delivery, connect = stats.get(("SSE", "delivery /live/feed")), stats.get(("SSE", "connect /live/feed"))
    assert delivery is not None and connect is not None, f"rows: {sorted(stats)}\n{output}"
    assert int(delivery["Request Count"]) > 6 * 50, delivery          # ~20 events/s per user for 8 s
    assert int(delivery["Failure Count"]) == 0, f"lost or repeated events\n{output}"
    assert int(connect["Request Count"]) >= 12 and int(connect["Failure Count"]) == 0, connect   # resubscribed
    assert not [k for k in stats if k[0] == "SSE" and k[1].split()[0] in ("gap", "dropped", "reset")], stats


# -- a supervisor under Locust load: SIGHUP reload, a SIGKILLed worker ------------------------------

WORKERS_APP = '''
import asyncio
import os
from catzilla import Catzilla, StreamingResponse

app = Catzilla()


@app.get("/")
def home(request):
    return f"{VERSION} {os.getpid()}"


@app.get("/stream/tokens")
async def tokens(request):
    async def generate():
        for i in range(20):
            await asyncio.sleep(0.025)
            yield f"{VERSION} token{i} "
        yield "done\\n"
    return StreamingResponse(generate())
'''

USERS = 8


def _write_version(path, version: str) -> None:
    path.write_text(f"VERSION = {version!r}\n" + WORKERS_APP)


def start_locust(url: str, prefix: str, seconds: int) -> subprocess.Popen:
    """Locust headless in the background: USERS users, half plain GET /, half reading
    whole 20-token streams (each checked to end with "done\\n")."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOCUST_", "STREAM_", "UPLOAD_", "WS_", "SSE_", "CATZILLA_HOST"))}
    env.update(STREAM_END="done\n", STREAM_MIN_CHUNKS="21")
    cmd = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "-u", str(USERS), "-r", str(USERS),
           "-t", f"{seconds}s", "--host", url, "--exit-code-on-error", "1", "--csv", prefix, "--only-summary",
           "--stop-timeout", "5", "--loglevel", "WARNING", "PlainUser", "StreamUser"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish_locust(p: subprocess.Popen, prefix: str, timeout: float) -> tuple:
    """(exit code, output tail, stats rows) once Locust has ended by itself."""
    output, _ = p.communicate(timeout=timeout)
    return p.returncode, output[-3000:], read_stats(prefix + "_stats.csv")


class Probe:
    """GET / on a fresh connection every 20 ms from a thread: (monotonic time, body) of each answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: list = []
        self.errors: list = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            try:
                status, _, body = procs.get(self.port, "/", timeout=5)
                self.answers.append((time.monotonic(), status, body.decode()))
            except OSError as exc:
                self.errors.append(repr(exc))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)

    def versions_since(self, t: float) -> set:
        return {body.split()[0] for at, _, body in list(self.answers) if at > t}


@pytest.fixture
def workers_server(tmp_path):
    """`catzilla run czapp:app --workers 2` (version "v1"), ready."""
    _write_version(tmp_path / "czapp.py", "v1")
    with launcher(tmp_path) as run:
        yield run("czapp:app", "--workers", "2", "--shutdown-timeout", "10", workers=2), tmp_path


@pytest.mark.timeout(60)
def test_locust_across_sighup_reloads_sees_no_failure_and_no_cut_stream(workers_server):
    """Two reloads (v1 -> v2 -> v3) under Locust: zero failed requests, every
    stream complete, and once a reload's old workers are gone only the new code answers."""
    server, tmp_path = workers_server
    prefix = str(tmp_path / "run")
    locust = start_locust(f"http://127.0.0.1:{server.port}", prefix, seconds=12)
    probe = Probe(server.port)
    try:
        time.sleep(3)
        before = set(server.workers())
        for n, version in enumerate(("v2", "v3"), 1):
            _write_version(tmp_path / "czapp.py", version)
            server.send(signal.SIGHUP)
            server.wait_output(r"reload done: 2 new worker\(s\) serving; 2 old", count=n, timeout=15)
            old = before
            wait_until(lambda: not (server.workers() & old), 15, "the old workers to finish")
            gone_at = time.monotonic()
            before = set(server.workers())
            assert len(before) == 2 and not before & old, (before, old)
            wait_until(lambda: len([a for a in probe.answers if a[0] > gone_at]) >= 20, 10, "answers")
            assert probe.versions_since(gone_at) == {version}, probe.answers[-20:]
            time.sleep(1.5)
        code, output, stats = finish_locust(locust, prefix, timeout=40)
    finally:
        probe.close()
        if locust.poll() is None:
            locust.kill()
            locust.wait(10)
    assert code == 0, f"locust exited with {code}:\n{output}"
    total = stats[("", "Aggregated")]
    assert int(total["Failure Count"]) == 0, output
    plain, stream = stats[("GET", "/")], stats[("GET", "/stream/tokens")]
    assert int(plain["Request Count"]) > 100 and int(plain["Failure Count"]) == 0, plain
    # every stream read to its last item ("done\n", checked by StreamUser with STREAM_END)
    assert int(stream["Request Count"]) > 20 and int(stream["Failure Count"]) == 0, stream
    versions = [body.split()[0] for _, _, body in probe.answers]
    assert versions[0] == "v1" and versions[-1] == "v3" and {"v1", "v2", "v3"} <= set(versions), versions
    assert not probe.errors and all(status == 200 for _, status, _ in probe.answers), probe.errors[:5]
    assert "reload failed" not in server.stderr
    assert server.stop() == 0


@pytest.mark.timeout(60)
def test_locust_a_sigkilled_worker_costs_only_its_in_flight_requests(workers_server):
    server, tmp_path = workers_server
    prefix = str(tmp_path / "run")
    locust = start_locust(f"http://127.0.0.1:{server.port}", prefix, seconds=9)
    probe = Probe(server.port)
    try:
        time.sleep(3)
        original = set(server.workers())
        victim = min(original)
        os.kill(victim, signal.SIGKILL)
        server.wait_output(rf"worker {victim} exited \(killed by SIGKILL\); starting a new one", timeout=10)
        replacement = wait_until(lambda: (server.workers() - original) or None, 10, "a replacement worker")
        killed_at = time.monotonic()
        assert len(replacement) == 1 and victim not in server.workers()
        new_pid = next(iter(replacement))
        assert new_pid != victim
        server.wait_output(rf"worker {new_pid} serving", timeout=10)
        wait_until(lambda: any(body.split()[1] == str(new_pid) for at, _, body in list(probe.answers)
                               if at > killed_at), 10, "an answer from the replacement")
        code, output, stats = finish_locust(locust, prefix, timeout=40)
    finally:
        probe.close()
        if locust.poll() is None:
            locust.kill()
            locust.wait(10)
    total = stats[("", "Aggregated")]
    failures = int(total["Failure Count"])
    # at most the requests in flight on the killed worker: one per user at a time
    assert failures <= USERS, output
    assert code == (1 if failures else 0), output
    assert int(total["Request Count"]) > 200, total
    assert server.workers() == (original - {victim}) | replacement
    assert server.stop() == 0
