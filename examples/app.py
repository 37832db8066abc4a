"""Catzilla demo: plain, JSON and path-param routes, every kind of stream, WebSockets,
a live dashboard fed by a Broadcast hub (/live), static files (/assets/),
compression that keeps streams incremental, a typed LLM-style API
(/v1/models, /v1/completions) described by /openapi.json and the /docs page, and
a database session (a `yield` dependency) that a stream reads through to its last
row (/v1/db/rows), with a background task recording each download (/v1/db/downloads).

    make demo            # builds, then serves on http://127.0.0.1:8000
    HOST=0.0.0.0 PORT=9000 python examples/app.py
"""
import asyncio
import hashlib
import os
import random
import sqlite3
import sys
import tempfile
import time
from typing import Annotated, Any, AsyncIterator, Iterator, Literal, Optional, Union

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from catzilla import (BackgroundTasks, BaseModel, Broadcast, Catzilla, CompressionMiddleware,  # noqa: E402
                      Depends, Field, HTMLResponse, Query, Request, Response, StreamingResponse, UploadFile)
from catzilla.files import FileResponse  # noqa: E402
from catzilla.sse import EventSourceResponse, ServerSentEvent  # noqa: E402
from catzilla.websocket import WebSocket  # noqa: E402

app = Catzilla(title="Catzilla demo", version="1.0.0",
               openapi_tags=[{"name": "llm", "description": "A typed, streaming LLM-style API"},
                             {"name": "db", "description": "A database session that a stream reads through"}])
# Every text answer and stream compressed (gzip; br/zstd too with catzilla[compression]),
# each streamed chunk flushed as it is produced.
app.add_middleware(CompressionMiddleware)
app.static("/assets", os.path.join(os.path.dirname(os.path.abspath(__file__)), "public"))
BIG_FILE = os.path.join(tempfile.gettempdir(), "catzilla-demo-1GiB.bin")


@app.on_startup
def make_big_file() -> None:
    if not os.path.exists(BIG_FILE) or os.path.getsize(BIG_FILE) != 1 << 30:
        with open(BIG_FILE, "wb") as f:
            f.truncate(1 << 30)  # sparse: costs no disk


@app.get("/")
def home(request: Request) -> str:
    return "Hello, World!"


@app.get("/json")
def json_route(request: Request) -> dict[str, Any]:
    return {"message": "Hello, World!"}


@app.get("/users/{user_id:int}")
def user(request: Request, user_id: int) -> dict[str, Any]:
    return {"id": user_id, "q": request.query_params.get("q")}


@app.post("/echo")
def echo(request: Request) -> bytes:
    return request.body


@app.post("/upload")
async def upload(request: Request) -> dict[str, Any]:
    """A body of any size hashed as it arrives: the server reads from the socket
    only as fast as this loop consumes (try `curl -T big.iso localhost:8000/upload`)."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


@app.post("/upload/form")
async def upload_form(request: Request) -> dict[str, Any]:
    """multipart/form-data parsed as it arrives: file parts spool to temporary
    files on disk (deleted when the request ends), fields stay in memory."""
    form = await request.form()
    out: dict[str, Any] = {}
    for name, value in form.items():
        if isinstance(value, UploadFile):
            digest = hashlib.sha256()
            value.seek(0)
            while chunk := value.read(1 << 20):
                digest.update(chunk)
            out[name] = {"filename": value.filename, "size": value.size, "sha256": digest.hexdigest()}
        else:
            out[name] = value
    return out


@app.get("/stream/lines")
def lines(request: Request) -> StreamingResponse:
    """The classic: a million lines from a plain generator, streamed as produced."""
    def generate() -> Iterator[str]:
        for i in range(1_000_000):
            yield f"Data {i}\n"
    return StreamingResponse(generate(), content_type="text/plain")


@app.get("/stream/slow")
def slow(request: Request) -> StreamingResponse:
    """A blocking generator (time.sleep) runs on a worker thread: nobody else waits."""
    def generate() -> Iterator[str]:
        for i in range(10):
            yield f"tick {i} at {time.strftime('%H:%M:%S')}\n"
            time.sleep(0.5)
    return StreamingResponse(generate())


@app.get("/stream/tokens")
async def tokens(request: Request) -> StreamingResponse:
    """An LLM-style token stream from an async generator."""
    words = "Catzilla streams every token the moment the model produces it .".split()

    async def generate() -> AsyncIterator[str]:
        for word in words:
            await asyncio.sleep(0.02)
            yield word + " "
    return StreamingResponse(generate())


@app.get("/sse/clock")
def clock(request: Request) -> EventSourceResponse:
    """Server-sent events: the time every second, with keep-alive pings."""
    async def events() -> AsyncIterator[ServerSentEvent]:
        n = 0
        while True:
            yield ServerSentEvent(time.strftime("%H:%M:%S"), event="tick", id=str(n))
            n += 1
            await asyncio.sleep(1.0)
    return EventSourceResponse(events(), ping=15.0)


# -- a typed API: validated request models in, typed events out ----------------------
# Its parameters and bodies are checked by the routes' compiled plans (a 422 lists every
# bad field) and documented at /openapi.json; /docs is Swagger UI over that document.

MODELS = ("catzilla-tiny", "catzilla-small")
REPLY = "Catzilla streams every token the moment the model produces it , typed and validated .".split()


class ModelCard(BaseModel):
    id: str
    context_window: int


class CompletionRequest(BaseModel):
    model: Literal["catzilla-tiny", "catzilla-small"] = "catzilla-tiny"
    prompt: str = Field(min_length=1, max_length=4000, description="the text to complete")
    max_tokens: int = Field(16, ge=1, le=256, description="a cap on the tokens streamed")
    temperature: float = Field(1.0, ge=0, le=2)
    stop: list[str] = Field(default_factory=list, max_length=4, description="words that end the stream")


class Token(BaseModel):
    index: int
    text: str
    finish_reason: Optional[Literal["stop", "length"]] = None


@app.get("/v1/models", tags=["llm"])
def list_models() -> list[ModelCard]:
    """The models /v1/completions serves."""
    return [ModelCard(id=name, context_window=4096 << i) for i, name in enumerate(MODELS)]


@app.post("/v1/completions", response_class=EventSourceResponse, tags=["llm"])
async def completions(body: CompletionRequest) -> AsyncIterator[Token]:
    """Streams a completion of the prompt as server-sent events, one `Token` per event
    (`curl -N localhost:8000/v1/completions -H 'content-type: application/json'
    -d '{"prompt": "Hi"}'`). The last event carries its `finish_reason`; a client that
    hangs up stops the generator."""
    words = REPLY[:body.max_tokens]
    for i, word in enumerate(words):
        await asyncio.sleep(0.02)                   # the model "thinking"
        if word in body.stop:
            yield Token(index=i, text="", finish_reason="stop")
            return
        if i < len(words) - 1:
            yield Token(index=i, text=word + " ")
        else:
            yield Token(index=i, text=word + " ", finish_reason="stop" if len(words) == len(REPLY) else "length")


# -- a database session used by a stream ---------------------------------------------
# get_db is a `yield` dependency: the session it yields stays open until the response is
# over -- for a stream, until after its last chunk -- so the stream reads through it row by
# row; then it is committed, or rolled back with the exception that ended the response
# (ClientDisconnect when the client hung up), and closed. Then the background tasks run.

DB_ROWS = 10_000
# One file for every worker process (and run): SQLite serializes the writers, WAL lets the
# streams read while a download is recorded.
DB_FILE = os.path.join(tempfile.gettempdir(), "catzilla-demo.sqlite3")


@app.on_startup
def create_db() -> None:
    """The tables, and the items once (every worker runs this: each step is idempotent)."""
    db = sqlite3.connect(DB_FILE)
    try:
        db.execute("pragma journal_mode=wal")
        with db:
            db.execute("create table if not exists items (id integer primary key, name text not null, "
                       "price real not null)")
            db.execute("create table if not exists downloads (id integer primary key, after integer not null, "
                       "rows_read integer not null, at real not null)")
            db.execute("with recursive n(i) as (select 1 union all select i + 1 from n where i < ?) "
                       "insert or ignore into items select i, printf('item-%06d', i), "
                       "round(1 + i * 7919 % 10000 / 100.0, 2) from n", (DB_ROWS,))
    finally:
        db.close()


def get_db() -> Iterator[sqlite3.Connection]:
    """A session per request. Its teardown runs on a worker thread (a commit may block):
    the connection is made with check_same_thread=False."""
    db = sqlite3.connect(DB_FILE, check_same_thread=False)
    try:
        yield db
        db.commit()
    except Exception:
        db.rollback()
        raise
    finally:
        db.close()


class Item(BaseModel):
    id: int
    name: str
    price: float


class Download(BaseModel):
    id: int
    after: int
    rows_read: int
    at: float


def record_download(after: int, read: list[int]) -> None:
    """A background task (def: on a worker thread), once the session is closed; it runs
    even when the client hung up, so rows_read tells how far a download got."""
    db = sqlite3.connect(DB_FILE)
    try:
        with db:
            db.execute("insert into downloads (after, rows_read, at) values (?, ?, ?)", (after, read[0], time.time()))
    finally:
        db.close()


@app.get("/v1/db/rows", tags=["db"])
def db_rows(tasks: BackgroundTasks, db: Annotated[sqlite3.Connection, Depends(get_db)],
            after: Annotated[int, Query(ge=0, description="the last id already read")] = 0,
            limit: Annotated[int, Query(ge=1, le=DB_ROWS)] = 1000,
            delay: Annotated[float, Query(ge=0, le=1, description="seconds between rows, to watch it stream")] = 0
            ) -> StreamingResponse:
    """Items as JSON lines, read from the database as they are sent (`curl -N
    'localhost:8000/v1/db/rows?limit=5&delay=0.5'`), through the request's session."""
    read = [0]
    tasks.add_task(record_download, after, read)

    def rows() -> Iterator[Item]:
        cursor = db.execute("select id, name, price from items where id > ? order by id limit ?", (after, limit))
        for id_, name, price in cursor:      # one row per chunk: the session is open for each
            read[0] += 1
            yield Item(id=id_, name=name, price=price)
            if delay:
                time.sleep(delay)            # a sync generator: on a worker thread, nobody waits
    return StreamingResponse(rows(), media_type="application/jsonl")


@app.get("/v1/db/downloads", tags=["db"])
def db_downloads(db: Annotated[sqlite3.Connection, Depends(get_db)]) -> list[Download]:
    """The downloads of /v1/db/rows recorded so far, the latest first."""
    cursor = db.execute("select id, after, rows_read, at from downloads order by id desc limit 100")
    return [Download(id=i, after=a, rows_read=n, at=t) for i, a, n, t in cursor]


@app.get("/download/big")
def download(request: Request) -> FileResponse:
    """1 GiB with sendfile(2), Range and ETag support, flat memory."""
    return FileResponse(BIG_FILE, filename="big.bin")


# A page whose script talks to the echo endpoint /ws/echo: it sends two text
# messages and one binary message on open, lists each echo, then closes
# (tests/test_browser.py drives it in a real Chromium); the form sends more.
WS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Catzilla WebSocket echo</title></head>
<body>
<h1>WebSocket echo</h1>
<p>Status: <span id="status">connecting</span></p>
<form id="form"><input id="text" value="typed by hand"> <button>Send</button></form>
<ul id="log"></ul>
<script>
const status = document.getElementById("status"), log = document.getElementById("log");
const show = (text) => { const li = document.createElement("li"); li.textContent = text; log.append(li); };
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join(" ");
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/echo");
ws.binaryType = "arraybuffer";
const sent = ["hello", "héllo ✓ 🐈", new Uint8Array([0, 1, 2, 127, 128, 255])];
let echoes = 0;
ws.onopen = () => { status.textContent = "open"; sent.forEach((m) => ws.send(m)); };
ws.onmessage = (e) => {
  show(typeof e.data === "string" ? "text: " + e.data : "binary: " + hex(e.data));
  if (++echoes === sent.length) ws.close(1000, "done");
};
ws.onclose = (e) => { status.textContent = "closed " + e.code + (e.wasClean ? " clean" : " unclean"); };
ws.onerror = () => { show("error"); };
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  if (ws.readyState === WebSocket.OPEN) ws.send(document.getElementById("text").value);
};
</script>
</body></html>
"""


@app.get("/ws")
def ws_page(request: Request) -> HTMLResponse:
    """A browser page that echoes text and binary messages over /ws/echo."""
    return HTMLResponse(WS_PAGE)


@app.websocket("/ws/echo")
async def ws_echo(ws: WebSocket) -> None:
    """Every message back as it came: text as text, binary as binary."""
    await ws.accept()
    async for message in ws:
        await ws.send(message)


@app.websocket("/ws/chat")
async def ws_chat(ws: WebSocket) -> None:
    """A tiny chat room: each text message goes to everyone connected, through
    the hub (a slow member skips messages; it never slows the others)."""
    await ws.accept()

    async def say(message: Union[str, bytes]) -> None:
        if isinstance(message, str):
            await hub.publish("chat", message)

    await hub.attach(ws, "chat", on_message=say)


# -- live dashboard: a background publisher, a Broadcast hub, EventSource ---------

hub = app.add_broadcast(Broadcast())   # in-process; Broadcast("redis://...") shares it between workers
started = time.time()


@app.on_startup
async def start_publisher() -> None:
    """Twice a second: this process's vital signs and a random-walk price, to
    every subscriber of "dashboard" (encoded once, written by the core)."""
    async def publish() -> None:
        price, last_cpu, last_wall = 100.0, time.process_time(), time.monotonic()
        while True:
            await asyncio.sleep(0.5)
            cpu, wall = time.process_time(), time.monotonic()
            price = max(1.0, price * (1 + random.gauss(0, 0.004)))
            m = hub.metrics()
            await hub.publish("dashboard", {
                "t": time.time() * 1000,                      # publish time (ms): clients measure latency
                "price": round(price, 2),
                "cpu": round(100 * (cpu - last_cpu) / max(wall - last_wall, 1e-6), 1),
                "rss_mib": round(_rss_mib(), 1),
                "subscribers": m["subscribers"],
                "delivered": m["delivered"],
                "uptime": round(time.time() - started),
            }, event="stats")
            last_cpu, last_wall = cpu, wall

    publishers.add(asyncio.get_running_loop().create_task(publish()))


@app.on_shutdown
def stop_publisher() -> None:
    for task in publishers:
        task.cancel()
    publishers.clear()


publishers: set[asyncio.Task[None]] = set()


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


@app.get("/live/feed")
def live_feed(request: Request) -> Response:
    """The dashboard's event stream; a reconnecting EventSource sends
    Last-Event-ID and gets what it missed (the hub keeps the last 100)."""
    return hub.sse("dashboard", last_event_id=request.headers.get("last-event-id"))


@app.websocket("/live/ws")
async def live_ws(ws: WebSocket) -> None:
    """The same feed as WebSocket messages (one JSON text message per event)."""
    await ws.accept()
    await hub.attach(ws, "dashboard")


@app.get("/live")
def live_page(request: Request) -> HTMLResponse:
    return HTMLResponse(LIVE_PAGE)


LIVE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Catzilla live dashboard</title>
<style>
 body { font: 15px system-ui, sans-serif; margin: 2em; max-width: 46em; }
 .grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 1em; }
 .card { border: 1px solid #ccc; border-radius: 8px; padding: .8em; }
 .card b { display: block; font-size: 1.6em; }
 #status { color: #666; }
 canvas { width: 100%; height: 120px; border: 1px solid #eee; }
</style></head>
<body>
<h1>Live dashboard</h1>
<p id="status">connecting&hellip;</p>
<div class="grid">
 <div class="card">price<b id="price">-</b></div>
 <div class="card">server CPU %<b id="cpu">-</b></div>
 <div class="card">server RSS MiB<b id="rss_mib">-</b></div>
 <div class="card">subscribers<b id="subscribers">-</b></div>
 <div class="card">events delivered<b id="delivered">-</b></div>
 <div class="card">latency ms<b id="latency">-</b></div>
</div>
<p><canvas id="chart" width="600" height="120"></canvas></p>
<p>Open this page in several tabs: every tab gets every event from one encode.
Reload it: the EventSource resumes from its Last-Event-ID.</p>
<script>
const prices = [];
const es = new EventSource("/live/feed");
const status = document.getElementById("status");
es.onopen = () => { status.textContent = "live"; };
es.onerror = () => { status.textContent = "reconnecting\u2026"; };
for (const name of ["gap", "reset", "dropped"]) {
  es.addEventListener(name, (e) => { status.textContent = name + ": " + e.data; });
}
es.addEventListener("stats", (e) => {
  const d = JSON.parse(e.data);
  for (const k of ["price", "cpu", "rss_mib", "subscribers", "delivered"]) {
    document.getElementById(k).textContent = d[k];
  }
  document.getElementById("latency").textContent = Math.max(0, Date.now() - d.t).toFixed(1);
  status.textContent = "live, event " + e.lastEventId;
  prices.push(d.price);
  if (prices.length > 120) prices.shift();
  const c = document.getElementById("chart"), g = c.getContext("2d");
  const lo = Math.min(...prices), hi = Math.max(...prices), span = (hi - lo) || 1;
  g.clearRect(0, 0, c.width, c.height);
  g.beginPath();
  prices.forEach((p, i) => {
    const x = i * c.width / 119, y = c.height - 5 - (p - lo) / span * (c.height - 10);
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.stroke();
});
</script>
</body></html>
"""


if __name__ == "__main__":
    app.listen(int(os.environ.get("PORT", "8000")), os.environ.get("HOST", "127.0.0.1"))
