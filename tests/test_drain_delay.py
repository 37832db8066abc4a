"""drain_delay through real processes and sockets: on SIGTERM the server keeps
serving for drain_delay seconds while its health path answers 503, then stops
accepting and drains. What a load balancer sees: a prober opening a new
connection every few tens of milliseconds gets 200, then 503, then connection
refused, in that order; the load it sends (keep-alive and new connections),
stopped once the prober has seen the 503, loses no request."""
from __future__ import annotations

import signal
import textwrap
import threading
import time
from typing import List

import pytest

import procs
from procs import launcher
from wire import RawClient

APP = '''
from catzilla import Catzilla

app = Catzilla(health_path="/healthz", drain_delay=1.5)

@app.get("/")
def home(request):
    return "hello"
'''

TIMEOUT = 30.0          # the whole run's bound


class Prober(threading.Thread):
    """GET /healthz on a new connection every 30 ms until a connection is refused;
    `seen` is the outcome of each probe: 200, 503 or "refused" (or what failed);
    `times` when each was known."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.seen: List[object] = []
        self.times: List[float] = []
        self.unhealthy = threading.Event()
        self.done = threading.Event()

    def probe(self) -> object:
        try:
            return procs.get(self.port, "/healthz", timeout=5)[0]
        except ConnectionRefusedError:
            return "refused"
        except OSError as exc:           # a reset or a close without an answer
            return f"{type(exc).__name__}: {exc}"

    def run(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        try:
            while time.monotonic() < deadline:
                outcome = self.probe()
                self.times.append(time.monotonic())
                self.seen.append(outcome)
                if outcome == 503:
                    self.unhealthy.set()
                if outcome == "refused":
                    return
                self.done.wait(0.03)
        finally:
            self.done.set()


class Load(threading.Thread):
    """GET / alternately on a kept-alive connection and on a new one, until the
    prober has seen the 503; every answer must be a 200 "hello"."""

    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = stop
        self.ok = 0
        self.failures: List[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        client = None
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    client = client or RawClient(("127.0.0.1", self.port), timeout=5)
                    r = client.request("GET", "/")
                    status, body = r.status, r.body
                    if r.header("connection") == "close":
                        client.close()
                        client = None
                    if (status, body) == (200, b"hello"):
                        status, _, body = procs.get(self.port, "/", timeout=5)
                except Exception as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    return
                if (status, body) != (200, b"hello"):
                    self.failures.append(f"{status} {body!r}")
                    return
                self.ok += 2
                self.stop.wait(0.01)
        finally:
            if client is not None:
                client.close()


def runs(seen: List[object]) -> List[object]:
    """The outcomes with repeats collapsed: [200, 200, 503, 503, "refused"] -> [200, 503, "refused"]."""
    return [x for i, x in enumerate(seen) if i == 0 or seen[i - 1] != x]


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_health_path_fails_for_drain_delay_then_the_port_closes_and_no_request_fails(tmp_path, workers):
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    with launcher(tmp_path) as run:
        server = run("czapp:app", "--workers", workers, workers=int(workers))
        prober = Prober(server.port)
        prober.start()
        load = [Load(server.port, prober.unhealthy) for _ in range(3)]
        for t in load:
            t.start()
        # Healthy and under load first.
        procs.wait_until(lambda: prober.seen.count(200) >= 3 and all(t.ok >= 20 for t in load)
                         or prober.done.is_set(), TIMEOUT, "healthy probes and served load")
        sent = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert prober.unhealthy.wait(TIMEOUT), prober.seen
        server.proc.send_signal(signal.SIGTERM)      # ignored: it neither cuts the delay nor the drain
        assert prober.done.wait(TIMEOUT), prober.seen
        for t in load:
            t.join(TIMEOUT)
        assert runs(prober.seen) == [200, 503, "refused"], runs(prober.seen)
        assert [t.failures for t in load] == [[], [], []]
        # The port stayed open for the whole delay, the second SIGTERM notwithstanding
        # (a lower bound: a slow machine only lengthens it).
        assert prober.times[-1] - sent >= 1.5, prober.times[-1] - sent
        assert server.wait_exit(15) == 0, server.stderr
        server.wait_output(r"drain_delay: serving 1.5 s more while /healthz answers 503, then draining",
                           count=int(workers), timeout=1)


@pytest.mark.slow
def test_a_reload_retires_the_old_workers_without_the_delay(tmp_path):
    """On SIGHUP the new workers accept on the same socket, so the old ones stop
    accepting at once: their health never fails (a balancer would see 503 from one
    probe to the next otherwise), and only the final stop has the delay."""
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    with launcher(tmp_path) as run:
        server = run("czapp:app", "--workers", "2", workers=2)
        prober = Prober(server.port)
        prober.start()
        procs.wait_until(lambda: prober.seen.count(200) >= 2 or prober.done.is_set(), TIMEOUT, "healthy probes")
        server.send(signal.SIGHUP)
        server.wait_output(r"reload done", timeout=TIMEOUT)
        server.wait_output(r"worker \d+ stopped", count=2, timeout=TIMEOUT)
        assert "drain_delay" not in server.stderr
        seen = len(prober.seen)
        procs.wait_until(lambda: len(prober.seen) >= seen + 2 or prober.done.is_set(), TIMEOUT, "probes after")
        server.proc.send_signal(signal.SIGTERM)
        assert prober.done.wait(TIMEOUT), prober.seen
        assert runs(prober.seen) == [200, 503, "refused"], runs(prober.seen)
        assert server.wait_exit(15) == 0, server.stderr
        server.wait_output(r"drain_delay: serving 1.5 s more", count=2, timeout=1)
