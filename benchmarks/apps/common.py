"""What every benchmark app serves, defined once so all peers stream the same bytes.

Imported by the app files (benchmarks/apps is on sys.path when they run) and by
run.py for the in-process generator baseline.
"""
import asyncio
import inspect
import os
import sys
import time
from typing import Optional

HELLO = "Hello, World!"
STREAM_LINES = 10_000
CHUNK_SIZE = 64 * 1024
CHUNK = b"x" * CHUNK_SIZE            # one preallocated 64 KiB bytes object, sent 1024 times
CHUNK_COUNT = 1024                   # 64 MiB in total
BIG_TOTAL = CHUNK_SIZE * CHUNK_COUNT
WS_PATH = "/ws"                      # WebSocket echo: every message sent back as it came (binary/text)
UPLOAD_PATH = "/upload"              # POST: the body consumed chunk by chunk, answers {"bytes": n}


def lines10k():
    """GET /stream10k: the sync generator every peer streams."""
    for i in range(STREAM_LINES):
        yield f"Data {i}\n"


async def alines10k():
    """GET /astream10k: the same lines from an async generator (no thread-pool hop per line in
    the ASGI frameworks, so a middleware's cost on a stream is not hidden behind it)."""
    for i in range(STREAM_LINES):
        yield f"Data {i}\n"


def order_models(BaseModel, Field):
    """The `orders` scenario's models with the issue's constraints, declared once for every
    engine that spells them the pydantic way (catzilla.BaseModel, pydantic.BaseModel) so the
    peers and benchmarks/validation.py validate the same thing: (Customer, Item, Order)."""
    class Customer(BaseModel):
        id: int = Field(ge=1)
        name: str = Field(min_length=1, max_length=100)
        email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")

    class Item(BaseModel):
        sku: str = Field(pattern=r"^[A-Z]-[0-9]+$")
        qty: int = Field(ge=1, le=1000)
        price: float = Field(gt=0)

    class Order(BaseModel):
        customer: Customer
        items: list[Item] = Field(min_length=1, max_length=100)
        note: Optional[str] = None
        express: bool = False

    return Customer, Item, Order


# --- deps (GET /deps?limit=20): a plain dependency, a yield dependency, a typed query -------
# The dependencies every app injects, in each framework's own way (Depends, Provide). The
# session's teardown does real work after the handler: it closes the session and counts it;
# GET /deps/closed answers that count, so run.py can check that the teardown ran.
DEPS_PATH = "/deps"
DEPS_CLOSED_PATH = "/deps/closed"
closed_sessions = 0                  # sessions whose teardown ran (read as common.closed_sessions)


class Session:
    """What the yield dependency hands out: open until its teardown closes it."""
    __slots__ = ("open",)

    def __init__(self):
        self.open = True


def get_settings():
    """Dependency 1: a plain function returning a small dict."""
    return {"region": "eu"}


def close_session(s):
    """The session dependencies' teardown: close it and count it."""
    global closed_sessions
    s.open = False
    closed_sessions += 1


def get_session():
    """Dependency 2: a generator; the code after the yield runs once the handler is done."""
    s = Session()
    try:
        yield s
    finally:
        close_session(s)


async def aget_settings():
    """get_settings as a coroutine function (FastAPI runs a plain `def` dependency on its thread pool)."""
    return get_settings()


async def aget_session():
    """get_session as an async generator: the same session and teardown, on the event loop."""
    s = Session()
    try:
        yield s
    finally:
        close_session(s)


def deps_answer(settings, session, limit):
    """What GET /deps answers: {"region": "eu", "open": true, "limit": limit}."""
    return {"region": settings["region"], "open": session.open, "limit": limit}


def chunks64m():
    """GET /stream64m: 64 MiB in 64 KiB chunks of one preallocated bytes object."""
    for _ in range(CHUNK_COUNT):
        yield CHUNK


# BENCH_MIDDLEWARE (set by run.py from a peer's `env`) names the middleware an app installs
# around all its routes: "noop" (one middleware whose request and response phases do nothing:
# the cost of the layer itself; catzilla_app) or "gzip" (the framework's gzip middleware at
# level 6; catzilla_app, starlette_app). Unset: none.
MIDDLEWARES = ("noop", "gzip")
GZIP_LEVEL = 6


def middleware_from_env():
    """The middleware asked for by BENCH_MIDDLEWARE, or None; ValueError for an unknown name."""
    name = os.environ.get("BENCH_MIDDLEWARE") or None
    if name is not None and name not in MIDDLEWARES:
        raise ValueError(f"BENCH_MIDDLEWARE={name!r}: expected one of {MIDDLEWARES}")
    return name


def port_from_argv(default=8000):
    """Apps started as scripts take the port as their only argument (or $PORT)."""
    if len(sys.argv) > 1:
        return int(sys.argv[1])
    return int(os.environ.get("PORT", default))


# --- fan-out (sse*, ws* subscriber scenarios) -----------------------------------------------
# A publisher inside the server publishes one event per topic every FANOUT_INTERVAL s; every
# subscriber of a topic gets each one. The data, the same text in every app:
#   {"t":<time.time_ns() just before this publish call>,"seq":<tick number, 1, 2, ...>}
# loadgen.c takes "t" (CLOCK_REALTIME ns) for the publish-to-receive latency and "seq" for
# missing and duplicate events.
FANOUT_INTERVAL = 0.5
FANOUT_SSE_PATH = "/sse/{topic}"     # the topic names are "0", "1", ... (loadgen fills in {topic})
FANOUT_WS_PATH = "/wssub/{topic}"


def fanout_topics():
    """The topics the publisher feeds: FANOUT_TOPICS (set by run.py per scenario, default 1)."""
    return [str(i) for i in range(int(os.environ.get("FANOUT_TOPICS", "1")))]


def fanout_data(seq):
    return '{"t":%d,"seq":%d}' % (time.time_ns(), seq)


async def publish_forever(publish):
    """Calls publish(topic, data) (awaiting it if it returns an awaitable) for every topic on a
    fixed FANOUT_INTERVAL schedule. A tick that comes late is not made up for: a server too busy
    to keep the schedule publishes fewer events, which shows as fewer deliveries/s."""
    loop = asyncio.get_running_loop()
    topics = fanout_topics()
    seq = 0
    due = loop.time()
    while True:
        due = max(due + FANOUT_INTERVAL, loop.time())
        await asyncio.sleep(due - loop.time())
        seq += 1
        for topic in topics:
            result = publish(topic, fanout_data(seq))
            if inspect.isawaitable(result):
                await result
