"""Typed responses and streams over real sockets: a returned model is JSON; a
StreamingResponse with media_type application/jsonl sends each item as one JSON line in
its own chunk; an EventSourceResponse sends models and lists as JSON data. They run on
the same pumps as any stream: paced by the source, the source closed when the client
leaves, a bad item cuts the stream."""
import asyncio
import dataclasses
import json
import threading
from typing import Optional

import pytest

from catzilla import BaseModel, Catzilla, EventSourceResponse, Field, ServerSentEvent, StreamingResponse
from catzilla.models import encode_json
from procs import wait_until
from wire import RawClient, parse_sse

pydantic = pytest.importorskip("pydantic")


class Token(BaseModel):
    index: int = Field(ge=0)
    text: str
    logprob: Optional[float] = None


class PToken(pydantic.BaseModel):
    index: int
    text: str


@dataclasses.dataclass
class Point:
    x: int
    y: int


state = {}


def flag(name):
    done = threading.Event()
    state[name] = done
    return done


@pytest.fixture
def addr(serve):
    app = Catzilla()

    @app.get("/model")
    def model(request):
        return Token(index=1, text="hi")

    @app.get("/models")
    def models(request):
        return [Token(index=i, text=str(i)) for i in range(3)]

    @app.get("/dataclass")
    def dataclass(request):
        return Point(1, 2)

    @app.get("/pydantic")
    def pyd(request):
        return PToken(index=5, text="p")

    @app.get("/items.jsonl")
    def jsonl(request):
        items = [Token(index=0, text="a"), {"plain": "dict"}, PToken(index=2, text="c"), Point(3, 4), [1, 2],
                 b'{"raw":"bytes"}\n']
        return StreamingResponse(iter(items), media_type="application/jsonl")

    @app.get("/ndjson")
    async def ndjson(request):
        async def gen():
            for i in range(3):
                yield Token(index=i, text="t")
        return StreamingResponse(gen(), media_type="application/x-ndjson")

    @app.get("/paced.jsonl")
    def paced(request):
        go = flag("paced-go")
        done = flag("paced-done")

        def gen():
            try:
                yield Token(index=0, text="first")
                assert go.wait(5)               # the test lets the next item exist
                yield Token(index=1, text="second")
            finally:
                done.set()
        return StreamingResponse(gen(), media_type="application/jsonl")

    @app.get("/forever.jsonl")
    async def forever(request):
        done = flag("forever-done")

        async def gen():
            try:
                i = 0
                while True:
                    yield Token(index=i, text="x" * 10)
                    i += 1
                    await asyncio.sleep(0.01)
            finally:
                done.set()
        return StreamingResponse(gen(), media_type="application/jsonl")

    @app.get("/bad.jsonl")
    def bad(request):
        done = flag("bad-done")

        def gen():
            try:
                yield Token(index=0, text="ok")
                yield object()                  # not encodable: the stream is cut
            finally:
                done.set()
        return StreamingResponse(gen(), media_type="application/jsonl")

    @app.get("/events")
    async def events(request):
        async def gen():
            yield Token(index=0, text="hello")
            yield PToken(index=1, text="p")
            yield [Point(1, 2)]
            yield ServerSentEvent(Token(index=3, text="as data"), event="token", id="3")
            yield {"data": "fields", "event": "done"}
            yield "plain"
        return EventSourceResponse(gen(), ping=None)

    @app.get("/events-forever")
    async def events_forever(request):
        done = flag("events-done")

        async def gen():
            try:
                i = 0
                while True:
                    yield Token(index=i, text="tick")
                    i += 1
                    await asyncio.sleep(0.01)
            finally:
                done.set()
        return EventSourceResponse(gen(), ping=0.5)

    return serve(app)


def test_returned_models_are_json(addr):
    for path, body in [("/model", {"index": 1, "text": "hi", "logprob": None}),
                       ("/models", [{"index": i, "text": str(i), "logprob": None} for i in range(3)]),
                       ("/dataclass", {"x": 1, "y": 2}),
                       ("/pydantic", {"index": 5, "text": "p"})]:
        with RawClient(addr) as c:
            r = c.request("GET", path)
        assert (r.status, r.header("content-type")) == (200, "application/json"), path
        assert json.loads(r.body) == body, path


def test_jsonl_sends_one_json_line_per_item_each_in_its_own_chunk(addr):
    with RawClient(addr) as c:
        c.send(b"GET /items.jsonl HTTP/1.1\r\nHost: t\r\n\r\n")
        head = c.read_head()
        assert (head.status, head.header("content-type")) == (200, "application/jsonl")
        chunks = []
        while (piece := c.read_chunk()) is not None:
            chunks.append(piece)
    assert chunks == [b'{"index":0,"text":"a","logprob":null}\n', b'{"plain":"dict"}\n',
                      b'{"index":2,"text":"c"}\n', b'{"x":3,"y":4}\n', b"[1,2]\n", b'{"raw":"bytes"}\n']
    assert [json.loads(line) for line in chunks][0] == {"index": 0, "text": "a", "logprob": None}


def test_ndjson_from_an_async_generator(addr):
    with RawClient(addr) as c:
        r = c.request("GET", "/ndjson")
    assert r.chunked and r.header("content-type") == "application/x-ndjson"
    assert r.body.splitlines() == [encode_json(Token(index=i, text="t")) for i in range(3)]


def test_each_line_leaves_before_the_next_item_exists(addr):
    with RawClient(addr) as c:
        c.send(b"GET /paced.jsonl HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_head().status == 200
        assert c.read_chunk() == b'{"index":0,"text":"first","logprob":null}\n'
        assert not state["paced-done"].is_set()
        state["paced-go"].set()
        assert c.read_chunk() == b'{"index":1,"text":"second","logprob":null}\n'
        assert c.read_chunk() is None
    assert state["paced-done"].wait(5)


def test_a_client_that_leaves_closes_the_typed_source(addr):
    for path, name in [("/forever.jsonl", "forever-done"), ("/events-forever", "events-done")]:
        c = RawClient(addr)
        c.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        assert c.read_head().status == 200
        first = c.read_chunk()
        assert b'"index":0' in first
        c.close()
        wait_until(state[name].is_set, 5.0, f"{path}: the generator's finally: after the disconnect")
    with RawClient(addr) as c:                  # the server carries on
        assert c.request("GET", "/model").status == 200


def test_an_item_that_cannot_be_encoded_cuts_the_stream(addr):
    with RawClient(addr) as c:
        c.send(b"GET /bad.jsonl HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_head().status == 200
        assert c.read_cut_body() == b'{"index":0,"text":"ok","logprob":null}\n'
    assert state["bad-done"].wait(5)


def test_sse_items_that_are_models_are_sent_as_json_data(addr):
    with RawClient(addr) as c:
        r = c.request("GET", "/events")
    assert r.header("content-type") == "text/event-stream; charset=utf-8"
    p = parse_sse(r.body)
    assert p.events == [
        ("message", '{"index":0,"text":"hello","logprob":null}', ""),
        ("message", '{"index":1,"text":"p"}', ""),
        ("message", '[{"x":1,"y":2}]', ""),
        ("token", '{"index":3,"text":"as data","logprob":null}', "3"),
        ("done", "fields", "3"),
        ("message", "plain", "3"),
    ]


def test_sse_encoding_of_typed_items():
    from catzilla.sse import encode_item
    assert encode_item(Token(index=1, text="a")) == b'data: {"index":1,"text":"a","logprob":null}\n\n'
    assert encode_item(PToken(index=1, text="a")) == b'data: {"index":1,"text":"a"}\n\n'
    assert encode_item((1, "x")) == b'data: [1,"x"]\n\n'
    assert ServerSentEvent(Point(1, 2), id="7").encode() == b'id: 7\ndata: {"x":1,"y":2}\n\n'
    # one model is one event (a pydantic model is iterable: not a source of its fields)
    assert EventSourceResponse(PToken(index=0, text="p")).source == (PToken(index=0, text="p"),)
    assert EventSourceResponse(Token(index=0, text="t")).source == (Token(index=0, text="t"),)
    with pytest.raises(TypeError, match="a model or a list"):
        encode_item(object())
