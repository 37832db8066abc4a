"""Limits and timeouts (design.md §4, §5): 414, 431, 413, header/body/idle
timeouts (slowloris), many concurrent connections, clients that vanish, and
random garbage that must never bring the server down."""
import asyncio
import logging
import random
import select
import socket
import threading
import time

import pytest

from catzilla import Catzilla, Response
from wire import Closed, RawClient, build_request, chunked, get, parse_responses
from procs import wait_until


def make_app(**settings):
    app = Catzilla(**settings)

    @app.get("/")
    def root(request):
        return "root"

    @app.get("/n/{i:int}")
    def number(request, i):
        return f"n={i}"

    @app.route("/echo", methods=["POST", "PUT"])
    def echo(request):
        return Response(request.body)

    @app.get("/any/{rest:path}")
    def anything(request, rest):
        return f"len={len(rest)}"

    return app


@pytest.fixture
def no_server_errors(caplog):
    """Fails the test if the server logged an error (a crash in connection
    handling, not a handler's exception)."""
    caplog.set_level(logging.WARNING, logger="catzilla")
    yield
    bad = [r for r in caplog.records if r.name.startswith("catzilla") and r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


# --------------------------------------------------------------------------
# 414 / 431

def test_414_uri_too_long(serve):
    addr = serve(make_app())   # default max_request_line 8192
    with RawClient(addr, timeout=3) as c:
        c.send(build_request("GET", "/any/" + "a" * 9000))
        r = c.read_response()
        assert r.status == 414
        assert r.header("connection", "").lower() == "close"
        c.wait_closed(3)


def test_414_sent_before_the_request_line_ends(serve):
    addr = serve(make_app(max_request_line=1024))
    with RawClient(addr, timeout=3) as c:
        c.send(b"GET /" + b"a" * 2000)           # no CRLF: still the request line
        assert c.read_response().status == 414
        c.wait_closed(3)


def test_request_line_limit_boundary(serve):
    addr = serve(make_app(max_request_line=1024))
    fixed = len("GET /any/ HTTP/1.1")
    for extra, status in ((0, 200), (-1, 200), (1, 414)):
        target_len = 1024 - fixed + extra
        with RawClient(addr, timeout=3) as c:
            c.send(build_request("GET", "/any/" + "b" * target_len))
            r = c.read_response()
            assert r.status == status, (extra, r)
            if status == 200:
                assert r.body == f"len={target_len}".encode()


def test_431_for_a_huge_header(serve):
    addr = serve(make_app(max_head_bytes=8192))
    with RawClient(addr, timeout=3) as c:
        c.send(build_request("GET", "/", headers={"X-Huge": "h" * 10_000}))
        r = c.read_response()
        assert r.status == 431
        c.wait_closed(3)
    # a big header below the limit is fine
    r = get(addr, "/", headers={"X-Big": "h" * 7000})
    assert r.status == 200


def test_431_sent_before_the_endless_head_ends(serve):
    addr = serve(make_app(max_head_bytes=8192))
    with RawClient(addr, timeout=3) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Endless: " + b"e" * 9000)   # head never finished
        assert c.read_response().status == 431
        c.wait_closed(3)


def test_431_with_default_max_head_bytes(serve):
    addr = serve(make_app())   # 64 KiB
    with RawClient(addr, timeout=3) as c:
        c.send(build_request("GET", "/", headers={f"X-H{i}": "v" * 1000 for i in range(70)}))
        assert c.read_response().status == 431


def test_431_for_too_many_headers(serve):
    addr = serve(make_app(max_headers=20))
    headers = {f"X-H{i}": str(i) for i in range(19)}   # + Host = 20: the limit
    r = get(addr, "/", headers=headers)
    assert r.status == 200
    headers["X-One-More"] = "1"
    with RawClient(addr, timeout=3) as c:
        c.send(build_request("GET", "/", headers=headers))
        assert c.read_response().status == 431
        c.wait_closed(3)


def test_431_for_too_many_headers_default_limit(serve):
    addr = serve(make_app())   # max_headers 100
    with RawClient(addr, timeout=3) as c:
        c.send(build_request("GET", "/", headers={f"X-H{i}": "1" for i in range(150)}))
        assert c.read_response().status == 431


# --------------------------------------------------------------------------
# 413

def test_413_content_length_over_max_body(serve):
    addr = serve(make_app(max_body=10_000))
    assert get(addr, "/echo", method="POST", body=b"a" * 10_000).status == 200
    with RawClient(addr, timeout=3) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10001\r\n\r\n")
        assert c.read_response().status == 413     # not waiting for the 10001 bytes
        c.wait_closed(3)


def test_413_huge_content_length_with_default_limit(serve):
    addr = serve(make_app())
    with RawClient(addr, timeout=3) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n")
        assert c.read_response().status == 413
        c.wait_closed(3)


def test_413_chunked_body_over_max_body(serve):
    addr = serve(make_app(max_body=10_000))
    with RawClient(addr, timeout=3) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            c.send(b"1000\r\n" + b"c" * 4096 + b"\r\n")
        assert c.read_response().status == 413
        c.wait_closed(3)


def test_chunked_body_of_exactly_max_body_is_accepted(serve):
    addr = serve(make_app(max_body=10_000))
    with RawClient(addr, timeout=3) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunked(b"a" * 5000, b"b" * 5000))
        r = c.read_response()
        assert (r.status, len(r.body)) == (200, 10_000)


def test_413_for_a_chunk_size_over_max_body_without_waiting_for_its_data(serve):
    # The declared chunk size alone proves the body is too large, just as a
    # too-large Content-Length does: answer now, do not wait for the data.
    addr = serve(make_app(max_body=10_000, body_timeout=30.0))
    with RawClient(addr, timeout=3) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"ffffffffffffffff\r\n" + b"x" * 100)
        r = c.read_response()
        assert r.status == 413
        c.wait_closed(3)


# --------------------------------------------------------------------------
# timeouts

def test_slowloris_cut_off_at_header_timeout_while_others_are_served(serve):
    addr = serve(make_app(header_timeout=1.0, keepalive_timeout=30.0))
    slow = RawClient(addr, timeout=5)
    good = RawClient(addr, timeout=2)
    answered = 0
    try:
        slow.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        t0 = time.monotonic()
        closed_after = None
        while time.monotonic() - t0 < 6:
            try:
                slow.send(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - t0
                break
            # another client is served meanwhile, without delay
            t1 = time.monotonic()
            r = good.request("GET", f"/n/{answered}")
            assert r.body == f"n={answered}".encode()
            assert time.monotonic() - t1 < 0.5
            answered += 1
            ready, _, _ = select.select([slow.sock], [], [], 0.5)
            if ready:
                data = slow.wait_closed(3)
                closed_after = time.monotonic() - t0
                if data:
                    assert [r.status for r in parse_responses(data)] == [408]
                break
        assert closed_after is not None, "the slowloris client was never cut off"
        assert 0.9 <= closed_after <= 3.5, closed_after
        assert answered >= 2
    finally:
        slow.close()
        good.close()


def test_idle_keep_alive_connection_closed_after_keepalive_timeout(serve):
    addr = serve(make_app(keepalive_timeout=1.0))
    with RawClient(addr) as c:
        assert c.request("GET", "/").body == b"root"
        t0 = time.monotonic()
        assert c.wait_closed(5) == b""
        elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed <= 3.5, elapsed


@pytest.mark.slow
def test_keep_alive_connection_in_use_is_not_closed(serve):
    addr = serve(make_app(keepalive_timeout=1.0))
    with RawClient(addr) as c:
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < 2.5:       # busy well past the idle timeout
            assert c.request("GET", f"/n/{i}").body == f"n={i}".encode()
            time.sleep(0.3)
            i += 1


def test_connection_that_never_sends_is_closed(serve):
    addr = serve(make_app(keepalive_timeout=1.0, header_timeout=1.0))
    with RawClient(addr) as c:
        t0 = time.monotonic()
        c.wait_closed(5)
        assert time.monotonic() - t0 <= 3.5


def test_body_timeout(serve):
    addr = serve(make_app(body_timeout=1.0, keepalive_timeout=30.0))
    with RawClient(addr, timeout=5) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        t0 = time.monotonic()
        data = c.wait_closed(5)
        elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed <= 3.5, elapsed
    assert [r.status for r in parse_responses(data)] == [408]


def test_body_timeout_bounds_a_dripping_body(serve):
    # A body that keeps arriving, one byte every 0.3 s, is still cut off.
    addr = serve(make_app(body_timeout=1.0, keepalive_timeout=30.0))
    with RawClient(addr, timeout=5) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
        t0 = time.monotonic()
        data = None
        while time.monotonic() - t0 < 6:
            try:
                c.send(b"x")
            except (BrokenPipeError, ConnectionResetError):
                data = b""
                break
            if select.select([c.sock], [], [], 0.3)[0]:
                data = c.wait_closed(3)
                break
        elapsed = time.monotonic() - t0
    assert data is not None, "the dripping body was never cut off"
    assert elapsed <= 3.5
    if data:
        assert [r.status for r in parse_responses(data)] == [408]


# --------------------------------------------------------------------------
# many connections, vanishing clients

def test_200_concurrent_connections(serve):
    n = 200
    app = make_app()
    arrived = {"count": 0}
    everyone = asyncio.Event()

    @app.get("/barrier/{i:int}")
    async def barrier(request, i):
        # Every request waits until all 200 are in the server at once.
        arrived["count"] += 1
        if arrived["count"] == n:
            everyone.set()
        try:
            await asyncio.wait_for(everyone.wait(), 10)
        except asyncio.TimeoutError:
            return f"timeout {i} with {arrived['count']}"
        return f"ok {i}"

    addr = serve(app)
    clients = []
    try:
        for i in range(n):
            c = RawClient(addr, timeout=15)
            c.send(build_request("GET", f"/barrier/{i}"))
            clients.append(c)
        for i, c in enumerate(clients):
            r = c.read_response()
            assert (r.status, r.body) == (200, f"ok {i}".encode())
        # and again, synchronously, on every connection (all kept alive)
        for i, c in enumerate(clients):
            assert c.request("GET", f"/n/{i}").body == f"n={i}".encode()
    finally:
        for c in clients:
            c.close()


def test_clients_that_disconnect_mid_request_do_not_disturb_others(serve, no_server_errors):
    app = make_app()
    cancelled = []
    started = threading.Event()

    @app.get("/slow")
    async def slow(request):
        started.set()
        try:
            await asyncio.sleep(2)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "slow"

    addr = serve(app)
    with RawClient(addr) as good:
        assert good.request("GET", "/n/0").body == b"n=0"
        # 1. half a request line, then FIN
        c = RawClient(addr)
        c.send(b"GET /n/1 HT")
        c.close()
        # 2. head done, half the body, then RST
        c = RawClient(addr)
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"x" * 500)
        c.reset()
        # 3. half a chunked body, then FIN
        c = RawClient(addr)
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        c.close()
        # 4. waiting for an async handler, then gone
        c = RawClient(addr)
        c.send(build_request("GET", "/slow"))
        assert started.wait(2)
        c.reset()
        # 5. pipelined requests with big responses, never read, then RST
        c = RawClient(addr)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.send(b"".join(build_request("POST", "/echo", b"y" * 50_000) for _ in range(20)))
        assert c.sock.recv(1, socket.MSG_PEEK), "no response began"     # the server is answering
        c.reset()
        for i in range(20):
            assert good.request("GET", f"/n/{i}").body == f"n={i}".encode()
        wait_until(lambda: cancelled, 2, "the handler of a vanished client to be cancelled")
        assert cancelled == [True]
        assert good.request("GET", "/n/99").body == b"n=99"


# --------------------------------------------------------------------------
# garbage

SEEDS = [
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /n/12?x=1&y=%20 HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\nCookie: a=b\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
    b"GET /any/a/b/../%2e%2e/c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET http://h/any/x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
]
SPECIAL = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b":", b";", b"%", b"?", b"/", b"\xff", b"\x7f",
           b"0", b"9", b"f", b"-", b",", b"\"", b"\r\n\r\n", b"Transfer-Encoding: chunked\r\n",
           b"Content-Length: 3\r\n", b"Host: x\r\n", b"HTTP/1.1", b"%00", b"%zz", b"%c3%28"]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:                      # flip a byte
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:                             # insert a special token
            data[pos:pos] = rng.choice(SPECIAL)
        elif op == 2 and data:                    # delete a span
            del data[pos:pos + rng.randint(1, 8)]
        elif op == 3:                             # duplicate a span
            span = data[pos:pos + rng.randint(1, 30)]
            data[pos:pos] = span
        elif op == 4:                             # truncate
            del data[pos:]
        else:                                     # append another request
            data += rng.choice(SEEDS)
    return bytes(data)


def payloads(rng, count):
    for i in range(count):
        kind = i % 4
        if kind == 0:
            yield bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
        elif kind == 1:   # printable noise with CRLFs
            yield bytes(rng.choice(b"GETPOS /:HTP1.\r\n abcdef0123456789;=%-") for _ in range(rng.randint(1, 300)))
        else:
            yield mutate(rng, rng.choice(SEEDS))


ALLOWED_STATUSES = {100, 200, 204, 400, 404, 405, 408, 413, 414, 431, 505}


@pytest.mark.timeout(120)
def test_10000_garbage_payloads_never_crash_the_server(serve, no_server_errors):
    addr = serve(make_app(max_body=4096, header_timeout=2.0, body_timeout=2.0))
    rng = random.Random(20240521)
    t_start = time.monotonic()
    batch = []
    seen = {}

    def finish(items):
        for payload, c in items:
            try:
                data = c.read_until_close(5)
            except socket.timeout:
                raise AssertionError(f"no close after the client's FIN for payload {payload!r}")
            finally:
                c.close()
            if data:
                assert data.startswith(b"HTTP/1.1 "), (payload, data[:200])
                try:
                    responses = parse_responses(data)
                except Closed:
                    # a response cut short by our own early close is fine
                    responses = []
                for r in responses:
                    assert r.status in ALLOWED_STATUSES, (payload, r)
                    seen[r.status] = seen.get(r.status, 0) + 1

    for payload in payloads(rng, 10_000):
        c = RawClient(addr, timeout=5)
        try:
            c.send(payload)
            c.shutdown_write()          # we are done: the server must not wait for more
        except (BrokenPipeError, ConnectionResetError):
            pass
        batch.append((payload, c))
        if len(batch) == 64:
            finish(batch)
            batch = []
    finish(batch)
    elapsed = time.monotonic() - t_start
    assert elapsed < 90, elapsed
    assert seen.get(400, 0) > 100 and seen.get(200, 0) > 10, seen   # the mix reached both paths
    with RawClient(addr) as c:
        for i in range(3):
            assert c.request("GET", f"/n/{i}").body == f"n={i}".encode()
