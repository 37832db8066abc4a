"""One of the server processes of the Redis Broadcast test
(tests/test_broadcast_redis.py): a hub on REDIS_URL, its SSE feeds and a
publish endpoint. `python tests/apps/broadcast_redis_app.py` prints the URL it
serves."""
import os
import sys

if os.environ.get("CATZILLA_TEST_INSTALLED") != "1":   # else: the installed package (a wheel)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from catzilla import Broadcast, Catzilla, JSONResponse  # noqa: E402

app = Catzilla()
hub = Broadcast(os.environ["REDIS_URL"])


@app.get("/feed/{topic}")
def feed(request, topic):
    return hub.sse(topic, last_event_id=request.headers.get("last-event-id"))


@app.post("/publish/{topic}")
async def publish(request, topic):
    """The request body (text) as one event; `event` from the query. 503
    while Redis is unreachable."""
    body = (await request.body()).decode("utf-8")
    try:
        event_id = await hub.publish(topic, body, event=request.query_params.get("event"))
    except ConnectionError as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)
    return {"id": event_id}


@app.get("/metrics")
def metrics(request):
    return hub.metrics()


if __name__ == "__main__":
    app.listen(int(os.environ.get("PORT", "0")), "127.0.0.1", banner=True)
