"""Request bodies handed to async handlers as they arrive (design.md §8):
`request.stream()`, `await request.body()` on a streamed body, limits,
Expect: 100-continue, back-pressure, full duplex, disconnects."""
import asyncio
import hashlib
import json
import os
import socket
import threading
import time

from catzilla import Catzilla, ClientDisconnect, PlainTextResponse, Request, StreamingResponse
from wire import RawClient, chunked

MiB = 1 << 20


def make_app(**settings):
    app = Catzilla(**settings)
    state = {"disconnected": threading.Event(), "release": None, "seen": []}

    @app.post("/hash")
    async def hash_body(request: Request):
        h = hashlib.sha256()
        n = chunks = 0
        async for chunk in request.stream():
            h.update(chunk)
            n += len(chunk)
            chunks += 1
        return {"bytes": n, "sha256": h.hexdigest(), "chunks": chunks}

    @app.post("/limited")
    async def limited(request: Request):
        n = 0
        async for chunk in request.stream(max_size=100_000):
            n += len(chunk)
        return {"bytes": n}

    @app.post("/whole")
    async def whole(request: Request):
        body = await request.body()
        return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(), "type": type(body).__name__}

    @app.post("/json")
    async def json_body(request: Request):
        return {"got": await request.json()}

    @app.post("/deny")
    async def deny(request: Request):
        return PlainTextResponse("no", 401)

    @app.post("/sync")
    def sync_body(request: Request):
        return {"bytes": len(request.body)}

    @app.post("/gated")
    async def gated(request: Request):
        while not state["release"].is_set():
            await asyncio.sleep(0.02)
        n = 0
        async for chunk in request.stream():
            n += len(chunk)
        return {"bytes": n}

    @app.post("/watch")
    async def watch(request: Request):
        try:
            async for _ in request.stream():
                pass
        except ClientDisconnect:
            state["disconnected"].set()
            raise
        return "done"

    @app.post("/ndjson")
    async def ndjson(request: Request):
        async def echo():
            pending = b""
            async for chunk in request.stream():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    item = json.loads(line)
                    yield json.dumps({"echo": item}) + "\n"
        return StreamingResponse(echo(), media_type="application/x-ndjson")

    @app.get("/")
    def home(request: Request):
        return "home"

    return app, state


def head(path, length=None, extra=""):
    framing = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    return f"POST {path} HTTP/1.1\r\nHost: t\r\n{framing}{extra}\r\n".encode()


def test_content_length_body_streams_in_pieces(serve):
    app, _ = make_app()
    addr = serve(app)
    data = os.urandom(3 * MiB + 17)
    with RawClient(addr) as c:
        c.send(head("/hash", len(data)))
        for i in range(0, len(data), 100_000):
            c.send(data[i:i + 100_000])
        r = c.read_response()
        assert r.status == 200
        assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()
        assert r.json()["bytes"] == len(data)
        # keep-alive: the next request on the same connection is answered
        assert c.request("GET", "/").body == b"home"


def test_chunked_body_is_dechunked_and_the_next_request_follows(serve):
    app, _ = make_app()
    addr = serve(app)
    parts = [os.urandom(n) for n in (1, 5000, 70_000, 300_000, 3)]
    with RawClient(addr) as c:
        raw = head("/hash") + chunked(*parts, trailers=b"X-T: 1\r\n") + b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
        c.send_slowly(raw, step=4093)
        r = c.read_response()
        assert r.json()["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
        assert c.read_response().body == b"home"      # pipelined behind the streamed body


def test_await_body_reads_a_streamed_body_whole_under_max_body(serve):
    app, _ = make_app(max_body=2 * MiB)
    addr = serve(app)
    data = os.urandom(2 * MiB)
    with RawClient(addr) as c:
        c.send(head("/whole", len(data)))
        time.sleep(0.05)                               # the handler starts before the body is here
        c.send(data)
        r = c.read_response()
        assert r.json() == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "type": "bytes"}


def test_await_body_over_max_body_is_413_without_reading(serve):
    app, _ = make_app(max_body=1000)
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/whole", 10 * MiB))               # no body sent: the answer must not wait for it
        r = c.read_response()
        assert r.status == 413
        c.wait_closed()


def test_streamed_json(serve):
    app, _ = make_app()
    addr = serve(app)
    body = json.dumps({"k": list(range(50_000))}).encode()
    with RawClient(addr) as c:
        c.send(head("/json"))
        c.send_slowly(chunked(body), step=65536)
        assert c.read_response().json() == {"got": {"k": list(range(50_000))}}


def test_stream_max_size_content_length_is_413_before_reading(serve):
    app, _ = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/limited", 100_001))
        assert c.read_response().status == 413
        c.wait_closed()


def test_stream_max_size_chunked_is_413_and_close(serve):
    app, _ = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/limited"))
        for part in (b"a" * 60_000, b"b" * 60_000):    # no last chunk: the limit must do
            c.send(b"%x\r\n%s\r\n" % (len(part), part))
        r = c.read_response()
        assert r.status == 413
        c.wait_closed()


def test_stream_max_size_allows_a_body_of_exactly_the_limit(serve):
    app, _ = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/limited"))
        c.send(chunked(b"a" * 50_000, b"b" * 50_000))
        assert c.read_response().json() == {"bytes": 100_000}


def test_expect_continue_is_answered_at_the_first_read(serve):
    app, _ = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/hash", 5, "Expect: 100-continue\r\n"))
        interim = c.read_head()
        assert interim.status == 100
        c.send(b"hello")
        r = c.read_response()
        assert r.json()["sha256"] == hashlib.sha256(b"hello").hexdigest()


def test_a_handler_that_answers_without_reading_gets_no_100_and_the_connection_closes(serve):
    app, _ = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/deny", 10 * MiB, "Expect: 100-continue\r\n"))
        r = c.read_response(skip_interim=False)
        assert r.status == 401                         # no 100 Continue before it
        c.wait_closed()                                # the unread body cannot be told from a request


def test_an_unread_body_without_expect_closes_after_the_response(serve):
    app, _ = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/deny", 1 * MiB) + b"x" * 1000)
        assert c.read_response().status == 401
        c.wait_closed()


def test_sync_handlers_still_get_the_whole_body(serve):
    app, _ = make_app()
    addr = serve(app)
    data = b"z" * 500_000
    with RawClient(addr) as c:
        c.send(head("/sync", len(data)))
        c.send_slowly(data, step=100_000, pause=0.01)
        assert c.read_response().json() == {"bytes": len(data)}


def test_a_fast_client_is_paused_by_tcp_not_buffered(serve):
    """The handler does not read yet: the server stops reading at its high-water
    mark, so the client can only fill the kernel's socket buffers."""
    app, state = make_app()
    state["release"] = threading.Event()
    addr = serve(app)
    total = 256 * MiB
    with RawClient(addr) as c:
        c.send(head("/gated", total))
        c.sock.setblocking(False)
        sent = 0
        block = b"\0" * MiB
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                sent += c.sock.send(block)
            except BlockingIOError:
                time.sleep(0.05)
        # kernel buffers (a few MiB each way at most) + the server's high-water mark
        assert sent < 32 * MiB, f"the server kept reading: {sent / MiB:.1f} MiB taken"
        state["release"].set()
        c.sock.setblocking(True)
        while sent < total:
            sent += c.sock.send(block[:min(MiB, total - sent)])
        assert c.read_response().json() == {"bytes": total}


def test_many_small_chunks_through_a_paused_reader(serve):
    """The framing of chunks already decoded is dropped as the handler reads: with
    it counted, 8,000+ chunks of a paused upload never fell below the low-water
    mark again and the server stopped reading for good."""
    app, state = make_app()
    state["release"] = threading.Event()
    addr = serve(app)
    parts = [bytes([i % 251]) * 16 for i in range(60_000)]
    raw = head("/gated") + chunked(*parts)
    with RawClient(addr) as c:
        sender = threading.Thread(target=c.send, args=(raw,))
        sender.start()
        time.sleep(0.3)                                # the server pauses at its high-water mark
        state["release"].set()
        sender.join(20)
        assert c.read_response().json() == {"bytes": 16 * 60_000}


def test_full_duplex_ndjson_echo(serve):
    app, _ = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/ndjson"))
        r = c.read_head()
        assert r.status == 200 and r.header("content-type").startswith("application/x-ndjson")
        for i in range(20):                            # each reply arrives before the next line is sent
            line = json.dumps({"n": i}).encode() + b"\n"
            c.send(b"%x\r\n%s\r\n" % (len(line), line))
            assert json.loads(c.read_chunk()) == {"echo": {"n": i}}
        c.send(b"0\r\n\r\n")
        assert c.read_chunk() is None and c.reader.trailers == []


def test_a_client_that_goes_away_mid_body_raises_client_disconnect(serve):
    app, state = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/watch", 10 * MiB) + b"x" * 100_000)
        time.sleep(0.1)
        c.reset()
    assert state["disconnected"].wait(5.0)
    with RawClient(addr) as c:                         # and the server serves on
        assert c.request("GET", "/").body == b"home"


def test_a_streamed_body_that_stops_arriving_is_408(serve):
    app, _ = make_app(body_timeout=1.0)
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/hash", 1000) + b"x" * 10)
        r = c.read_response()
        assert r.status == 408
        c.wait_closed()


def test_malformed_chunked_streamed_body_is_400(serve):
    app, _ = make_app()
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/hash") + b"5\r\nhello\r\nzz\r\n")
        assert c.read_response().status == 400
        c.wait_closed()


def test_request_body_property_explains_while_the_body_is_arriving(serve):
    app = Catzilla()
    seen = {}

    @app.post("/p")
    async def p(request: Request):
        try:
            len(request.body)
        except RuntimeError as exc:
            seen["error"] = str(exc)
        return {"n": len(await request.body())}

    addr = serve(app)
    with RawClient(addr) as c:
        c.send(head("/p", 100_000))
        time.sleep(0.05)
        c.send(b"q" * 100_000)
        assert c.read_response().json() == {"n": 100_000}
    assert "await request.body()" in seen["error"]


def multipart(boundary, *parts):
    out = b""
    for headers, content in parts:
        out += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_streamed_multipart_form_spools_files_and_closes_them_after_the_response(serve):
    app = Catzilla()
    kept = {}

    @app.post("/form")
    async def form(request: Request):
        data = await request.form()
        f = data["file"]
        kept["file"] = f
        return {"title": data["title"], "size": f.size, "sha256": hashlib.sha256(f.read()).hexdigest(),
                "closed": f.closed}

    addr = serve(app)
    content = os.urandom(3 * MiB)
    body = multipart("b0undary",
                     ('Content-Disposition: form-data; name="title"', "café".encode()),
                     ('Content-Disposition: form-data; name="file"; filename="x.bin"', content))
    with RawClient(addr) as c:
        c.send(head("/form", len(body), "Content-Type: multipart/form-data; boundary=b0undary\r\n"))
        c.send_slowly(body, step=65536)
        r = c.read_response()
    assert r.json() == {"title": "café", "size": len(content),
                        "sha256": hashlib.sha256(content).hexdigest(), "closed": False}
    assert kept["file"].closed                         # its temporary file is deleted with the request


def test_streamed_multipart_limits(serve):
    app = Catzilla()

    @app.post("/form")
    async def form(request: Request):
        return {"n": len(await request.form())}

    addr = serve(app)
    ct = "Content-Type: multipart/form-data; boundary=zz\r\n"
    many = multipart("zz", *[(f'Content-Disposition: form-data; name="f{i}"', b"v") for i in range(1001)])
    big_field = multipart("zz", ('Content-Disposition: form-data; name="f"', b"v" * (MiB + 1)))
    broken = b"--zz\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nvalue without an end"
    for body, status in ((many, 413), (big_field, 413), (broken, 400)):
        with RawClient(addr) as c:
            c.send(head("/form", None, ct))
            c.send(chunked(body))
            assert c.read_response().status == status
