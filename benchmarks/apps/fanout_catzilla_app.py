"""Catzilla fan-out: SSE and WebSocket subscribers of topics fed by an in-process publisher.

    python fanout_catzilla_app.py PORT hub     # catzilla.Broadcast: hub.sse() / hub.attach()
    python fanout_catzilla_app.py PORT queue   # each subscriber awaits its own asyncio.Queue

"queue" is the pattern available without a hub (and the one issue 10 measured): the publisher
puts the event into every subscriber's queue; each SSE subscriber is an async generator behind
an EventSourceResponse, each WebSocket subscriber a handler looping on its queue.
"""
import asyncio
import sys

from catzilla import Catzilla, EventSourceResponse

from common import FANOUT_SSE_PATH, FANOUT_WS_PATH, HELLO, port_from_argv, publish_forever

MODE = sys.argv[2] if len(sys.argv) > 2 else "hub"
app = Catzilla()
_tasks = set()


@app.get("/")
def home(request):
    return HELLO


if MODE == "hub":
    from catzilla import Broadcast

    hub = Broadcast()

    @app.get(FANOUT_SSE_PATH)
    def sse(request, topic):
        return hub.sse(topic, last_event_id=request.headers.get("last-event-id"))

    @app.websocket(FANOUT_WS_PATH)
    async def wssub(ws, topic):
        await ws.accept()
        await hub.attach(ws, topic)

    publish = hub.publish

elif MODE == "queue":
    subscribers = {}     # topic -> set of asyncio.Queue

    @app.get(FANOUT_SSE_PATH)
    async def sse(request, topic):
        queue = asyncio.Queue()
        subscribers.setdefault(topic, set()).add(queue)

        async def events():
            try:
                while True:
                    yield await queue.get()
            finally:
                subscribers[topic].discard(queue)
        return EventSourceResponse(events())

    @app.websocket(FANOUT_WS_PATH)
    async def wssub(ws, topic):
        await ws.accept()
        queue = asyncio.Queue()
        subscribers.setdefault(topic, set()).add(queue)
        try:
            while True:
                await ws.send_text(await queue.get())
        finally:
            subscribers[topic].discard(queue)

    def publish(topic, data):
        for queue in subscribers.get(topic, ()):
            queue.put_nowait(data)

else:
    sys.exit(f"unknown mode {MODE!r} (hub or queue)")


@app.on_startup
def start_publisher():
    task = asyncio.get_running_loop().create_task(publish_forever(publish))
    _tasks.add(task)     # a reference, so the task is not collected


if __name__ == "__main__":
    app.listen(port_from_argv(), host="127.0.0.1", banner=False)
