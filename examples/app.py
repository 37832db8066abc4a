"""Catzilla demo: plain, JSON and path-param routes, every kind of stream, WebSockets.

    make demo            # builds, then serves on http://127.0.0.1:8000
    HOST=0.0.0.0 PORT=9000 python examples/app.py
"""
import asyncio
import hashlib
import os
import sys
import tempfile
import time
from typing import Any, AsyncIterator, Iterator

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from catzilla import Catzilla, Request, StreamingResponse  # noqa: E402
from catzilla.files import FileResponse  # noqa: E402
from catzilla.sse import EventSourceResponse, ServerSentEvent  # noqa: E402
from catzilla.websocket import WebSocket, WebSocketDisconnect  # noqa: E402

app = Catzilla()
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


@app.get("/download/big")
def download(request: Request) -> FileResponse:
    """1 GiB with sendfile(2), Range and ETag support, flat memory."""
    return FileResponse(BIG_FILE, filename="big.bin")


@app.websocket("/ws/echo")
async def ws_echo(ws: WebSocket) -> None:
    """Every message back as it came: text as text, binary as binary."""
    await ws.accept()
    async for message in ws:
        await ws.send(message)


chat_members: set[WebSocket] = set()


@app.websocket("/ws/chat")
async def ws_chat(ws: WebSocket) -> None:
    """A tiny chat room: each text message goes to everyone connected."""
    await ws.accept()
    chat_members.add(ws)
    try:
        async for message in ws:
            if isinstance(message, str):
                # a slow member makes its own send wait, not the others'
                await asyncio.gather(*(member.send(message) for member in list(chat_members)),
                                     return_exceptions=True)
    except WebSocketDisconnect:
        pass
    finally:
        chat_members.discard(ws)


if __name__ == "__main__":
    app.listen(int(os.environ.get("PORT", "8000")), os.environ.get("HOST", "127.0.0.1"))
