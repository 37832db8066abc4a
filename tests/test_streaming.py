"""The streaming contract (design.md §3) over real sockets against a server
running in its own process (its RSS and GIL are its own)."""
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import psutil
import pytest

from procs import ROOT, launcher, wait_until
from wire import Closed, RawClient, parse_response

APP = str(ROOT / "tests" / "apps" / "stream_app.py")


@pytest.fixture(scope="module")
def server():
    """stream_app.py in its own process (a procs.Proc, its port from the banner)."""
    with launcher(ROOT) as run:
        yield run.start([sys.executable, APP], PORT="0")


HIGH_WATER = 256 * 1024       # stream_app's Catzilla(high_water=...)


def connect(port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def send_get(s, path, version="1.1", extra=""):
    s.sendall(f"GET {path} HTTP/{version}\r\nHost: t\r\n{extra}\r\n".encode())


class Reader(RawClient):
    """Reads responses off a connected socket, by the tests' one response reader."""

    def __init__(self, s):
        super().__init__(None, timeout=10, sock=s)

    def exactly(self, n):
        return self._exactly(n)

    def head(self):
        r = self.read_head()
        return r.status, {k.lower(): v for k, v in r.header_list}

    def chunk(self):
        """The next chunk, or None after the last one (which has no trailers)."""
        assert self.reader.framing == "chunked"
        data = self.read_chunk()
        if data is None:
            assert self.reader.trailers == []
        return data

    def until_close(self):
        while self._fill():
            pass
        return self.take_buffered()


def get_json(port, path):
    with connect(port) as s:
        send_get(s, path)
        r = Reader(s)
        status, headers = r.head()
        return status, json.loads(r.exactly(int(headers["content-length"])))


def timed_plain_request(port):
    t0 = time.perf_counter()
    with connect(port) as s:
        send_get(s, "/")
        r = Reader(s)
        status, headers = r.head()
        body = r.exactly(int(headers["content-length"]))
    return status, body, time.perf_counter() - t0


@pytest.mark.serial
def test_chunks_arrive_as_a_paced_generator_yields_them_and_others_are_not_stalled(server):
    port = server.port
    s = connect(port)
    t0 = time.perf_counter()
    send_get(s, "/paced?n=5&gap=0.5&tag=timing")
    r = Reader(s)
    status, headers = r.head()
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    arrivals, plain_latencies = [], []
    for i in range(5):
        data = r.chunk()
        arrivals.append(time.perf_counter() - t0)
        assert data == f"chunk {i}\n".encode()
        if i < 4:
            status2, body2, elapsed = timed_plain_request(port)   # while the generator sleeps
            assert (status2, body2) == (200, b"ok")
            plain_latencies.append(elapsed)
    assert r.chunk() is None
    s.close()
    assert arrivals[0] < 0.2, arrivals
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert all(0.35 <= g <= 0.65 for g in gaps), gaps
    assert max(plain_latencies) < 0.05, plain_latencies


@pytest.mark.serial
def test_async_generator_chunks_are_paced_too(server):
    port = server.port
    s = connect(port)
    t0 = time.perf_counter()
    send_get(s, "/apaced?n=4&gap=0.3")
    r = Reader(s)
    assert r.head()[0] == 200
    arrivals = []
    while r.chunk() is not None:
        arrivals.append(time.perf_counter() - t0)
    s.close()
    assert len(arrivals) == 4
    assert arrivals[0] < 0.2
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert all(0.2 <= g <= 0.45 for g in gaps), gaps


@pytest.mark.slow
def test_slow_reader_keeps_memory_flat_and_the_generator_is_not_run_ahead(server):
    port = server.port
    ps = psutil.Process(server.proc.pid)
    _, before = get_json(port, "/state")
    s = connect(port, rcvbuf=65536)
    send_get(s, "/endless")
    r = Reader(s)
    assert r.head()[0] == 200
    # The baseline once the unread stream has filled the buffers up to the high-water
    # mark and the generator is held back (pulled no longer grows).
    seen = [before["pulled"]]

    def held_back() -> bool:
        pulled = get_json(port, "/state")[1]["pulled"]
        steady = pulled == seen[-1] and pulled - before["pulled"] >= HIGH_WATER
        seen.append(pulled)
        return steady
    wait_until(held_back, 5, "the unread stream to be held back")
    rss0 = ps.memory_info().rss
    read = 0
    peak = rss0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        read += len(s.recv(65536))
        peak = max(peak, ps.memory_info().rss)
        time.sleep(0.1)
    _, after = get_json(port, "/state")
    s.close()
    pulled = after["pulled"] - before["pulled"]
    assert read > 3 * 1024 * 1024                  # the client really read for 10 s
    assert peak - rss0 < 4 * 1024 * 1024, (rss0, peak)
    # pulled <= read + high-water mark + a 64 KiB block + what the kernel buffers on both ends
    kernel = 4 * 1024 * 1024 + 256 * 1024
    slack = HIGH_WATER + 65536 + kernel
    assert pulled <= read + slack, (pulled, read, slack)


@pytest.mark.parametrize("route", ["/paced?n=1000&gap=0.05", "/apaced?n=1000&gap=0.05"])
def test_client_disconnect_closes_the_generator_promptly(server, route):
    port = server.port
    tag = "disc-" + route[1:3] + str(time.monotonic_ns())
    s = connect(port)
    send_get(s, f"{route}&tag={tag}")
    r = Reader(s)
    assert r.head()[0] == 200
    assert r.chunk() == b"chunk 0\n"
    assert r.chunk() == b"chunk 1\n"
    s.close()
    wait_until(lambda: tag in get_json(port, "/state")[1]["finally"], 1.0,
               "the generator's finally: to run after the disconnect")
    assert timed_plain_request(port)[:2] == (200, b"ok")


def test_exception_mid_stream_aborts_without_the_last_chunk(server):
    port = server.port
    for route in ("/fails", "/afails"):
        s = connect(port)
        send_get(s, route)
        r = Reader(s)
        assert r.head()[0] == 200
        assert r.chunk() == b"first\n"
        with pytest.raises(Closed):        # closed without "0\r\n\r\n"
            r.chunk()
        s.close()
    assert timed_plain_request(port)[:2] == (200, b"ok")


def test_http10_client_gets_the_raw_body_and_a_close(server):
    port = server.port
    with connect(port) as s:
        send_get(s, "/lines?n=1000", version="1.0")
        data = Reader(s).until_close()
    r = parse_response(data)
    assert b"chunked" not in r.raw_head.lower() and b"connection: close" in r.raw_head.lower()
    assert r.body == "".join(f"Data {i}\n" for i in range(1000)).encode()


def test_head_on_a_stream_sends_headers_only(server):
    port = server.port
    with connect(port) as s:
        s.sendall(b"HEAD /paced?n=3&gap=0.01 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        r = Reader(s)
        status, headers = r.head()
        assert status == 200 and headers["transfer-encoding"] == "chunked"
        status, headers = r.head()          # the next response follows at once: no body came
        assert status == 200 and r.exactly(int(headers["content-length"])) == b"ok"


def test_returned_generator_and_list_stream(server):
    port = server.port
    for path, expected in (("/returned-generator", b"item 0\nitem 1\nitem 2\n"), ("/list", b"abc")):
        with connect(port) as s:
            send_get(s, path)
            r = Reader(s)
            assert r.head()[0] == 200
            body = b""
            while (c := r.chunk()) is not None:
                body += c
            assert body == expected


def test_chunk_size_lines_on_the_wire(server):
    sizes = [1, 9, 10, 15, 16, 17, 255, 256, 4095, 4096, 65535, 65536, 65537, 1 << 20, 3_000_001]
    with connect(server.port) as s:
        send_get(s, "/sizes?n=" + ",".join(map(str, sizes)), extra="Connection: close\r\n")
        raw = Reader(s).until_close()
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert body == b"".join(b"%x\r\n%s\r\n" % (n, b"x" * n) for n in sizes) + b"0\r\n\r\n"


def test_million_lines_byte_exact_through_curl(server):
    port = server.port
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl not installed (scripts/system-deps.sh installs it)")
    # curl is not ours: keep a sanitizer runtime preloaded for the server out of it
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run([curl, "-sS", "--raw", "-o", "-", f"http://127.0.0.1:{port}/lines"],
                         capture_output=True, timeout=60, check=True, env=env).stdout
    # --raw keeps the chunk framing (without the head): read it strictly as a chunked
    # body, which must end with the last chunk, no trailers and nothing after
    r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + out)
    assert r.trailers == []
    expected = "".join(f"Data {i}\n" for i in range(1_000_000)).encode()
    assert r.body == expected
    decoded = subprocess.run([curl, "-sS", f"http://127.0.0.1:{port}/lines"], capture_output=True,
                             timeout=60, check=True, env=env).stdout
    assert decoded == expected


def test_million_lines_through_the_test_client():
    sys.path.insert(0, str(ROOT / "tests" / "apps"))
    import stream_app
    from catzilla.testing import TestClient
    with TestClient(stream_app.app) as client:
        r = client.get("/lines")
        assert r.status_code == 200
        assert r.content == "".join(f"Data {i}\n" for i in range(1_000_000)).encode()
        with client.stream("GET", "/paced?n=3&gap=0.01") as st:
            assert list(st.iter_bytes()) == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]


@pytest.mark.slow
@pytest.mark.serial
def test_thousand_concurrent_async_streams_progress_together(server):
    port = server.port

    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /apaced?n=6&gap=0.5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = await reader.read()
        writer.close()
        return data

    async def all_of_them():
        return await asyncio.gather(*(one() for _ in range(1000)))

    t0 = time.monotonic()
    results = asyncio.run(all_of_them())
    elapsed = time.monotonic() - t0
    for data in results:
        r = parse_response(data)              # a stream cut before its last chunk raises Closed
        assert (r.version, r.status, r.reason, r.chunked, r.trailers) == ("HTTP/1.1", 200, "OK", True, [])
        assert b"chunk 5\n" in r.body
    assert elapsed < 5.0, elapsed        # 5 pauses of 0.5 s: 2.5 s of the generator's own time
