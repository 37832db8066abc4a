"""The app the broadcast tests run in a server subprocess (its RSS is its own).
`python tests/apps/broadcast_app.py` prints the URL it serves; BROADCAST_URL
(a redis:// url) shares its topics with other processes."""
import asyncio
import os
import sys
import time

if os.environ.get("CATZILLA_TEST_INSTALLED") != "1":   # else: the installed package (a wheel)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from catzilla import Broadcast, Catzilla, JSONResponse  # noqa: E402

app = Catzilla()
hub = app.add_broadcast(Broadcast(os.environ.get("BROADCAST_URL") or None,
                                  ping=float(os.environ.get("PING", "15"))))
hub.topic("kick", policy="disconnect", max_pending=64 * 1024)
pacers = set()


@app.get("/feed/{topic}")
def feed(request, topic):
    return hub.sse(topic, last_event_id=request.headers.get("last-event-id"))


@app.websocket("/ws/{topic}")
async def ws_feed(ws, topic):
    await ws.accept()
    await hub.attach(ws, topic)


@app.post("/publish/{topic}")
async def publish(request, topic):
    """One event: the request body as data (text), `event` from the query; 503
    while Redis is unreachable."""
    body = (await request.body()).decode("utf-8")
    try:
        event_id = await hub.publish(topic, body, event=request.query_params.get("event"))
    except ConnectionError as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)
    return {"id": event_id}


@app.post("/pace/{topic}")
async def pace(request, topic):
    """A background publisher: n events `gap` s apart, each {"t": publish time
    (ns, CLOCK_REALTIME), "seq": i, "pad": size bytes}."""
    q = request.query_params
    n, gap, pad = int(q.get("n", "10")), float(q.get("gap", "0.05")), "x" * int(q.get("size", "0"))

    async def run():
        for i in range(n):
            await hub.publish(topic, {"t": time.time_ns(), "seq": i, "pad": pad})
            await asyncio.sleep(gap)

    task = asyncio.get_running_loop().create_task(run())
    pacers.add(task)
    task.add_done_callback(pacers.discard)
    return {"started": n}


@app.get("/metrics")
def metrics(request):
    return hub.metrics()


if __name__ == "__main__":
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    app.listen(int(os.environ.get("PORT", "0")), "127.0.0.1", banner=True)
