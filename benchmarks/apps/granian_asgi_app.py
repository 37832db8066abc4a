"""Granian, ASGI interface, no framework: the WebSocket echo (and GET / for the readiness check).

    granian --interface asgi --workers 1 --runtime-threads 1 granian_asgi_app:app
"""
from common import HELLO, WS_PATH

TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
BODY = HELLO.encode()


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "websocket" and scope["path"] == WS_PATH:
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return                                  # websocket.disconnect
            if message.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
            else:
                await send({"type": "websocket.send", "text": message["text"]})
    elif kind == "http":
        found = scope["method"] == "GET" and scope["path"] == "/"
        await send({"type": "http.response.start", "status": 200 if found else 404, "headers": TEXT})
        await send({"type": "http.response.body", "body": BODY if found else b"Not Found"})
    elif kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif kind == "websocket":
        await send({"type": "websocket.close", "code": 1008})
