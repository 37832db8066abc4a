"""Starlette + broadcaster (memory://) fan-out on uvicorn: SSE by sse-starlette, and WebSockets.

    uvicorn fanout_starlette_app:app --port PORT --ws websockets ...

The documented pattern of those packages: every subscriber opens its own
`broadcast.subscribe(channel)` (a queue per subscriber, fed by broadcaster's listener task).
"""
import asyncio
import contextlib

from broadcaster import Broadcast
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute

from common import FANOUT_SSE_PATH, FANOUT_WS_PATH, HELLO, publish_forever

broadcast = Broadcast("memory://")


async def home(request):
    return PlainTextResponse(HELLO)


async def sse(request):
    topic = request.path_params["topic"]

    async def events():
        async with broadcast.subscribe(channel=topic) as subscriber:
            async for event in subscriber:
                yield {"data": event.message}
    return EventSourceResponse(events())


async def wssub(websocket):
    topic = websocket.path_params["topic"]
    await websocket.accept()
    async with broadcast.subscribe(channel=topic) as subscriber:
        async for event in subscriber:
            await websocket.send_text(event.message)


@contextlib.asynccontextmanager
async def lifespan(app):
    await broadcast.connect()
    task = asyncio.get_running_loop().create_task(
        publish_forever(lambda topic, data: broadcast.publish(channel=topic, message=data)))
    try:
        yield
    finally:
        task.cancel()
        await broadcast.disconnect()


app = Starlette(routes=[
    Route("/", home),
    Route(FANOUT_SSE_PATH, sse),
    WebSocketRoute(FANOUT_WS_PATH, wssub),
], lifespan=lifespan)
