"""Socketify (uWebSockets) fan-out: WebSocket subscribers by uWS's own pub/sub.

    python fanout_socketify_app.py PORT

Each topic has its route, /wssub/<topic>, whose `open` handler subscribes the socket; the
publisher (an asyncio task on socketify's loop) calls app.publish(topic, data, OpCode.TEXT).
"""
from socketify import App, AppListenOptions, CompressOptions, OpCode

from common import HELLO, fanout_topics, port_from_argv, publish_forever

app = App()
app.get("/", lambda res, req: res.end(HELLO))
for name in fanout_topics():
    app.ws(f"/wssub/{name}", {
        "compression": CompressOptions.DISABLED,
        "idle_timeout": 120,
        "open": lambda ws, topic=name: ws.subscribe(topic),
        "message": lambda ws, message, opcode: None,
    })

if __name__ == "__main__":
    app.listen(AppListenOptions(port=port_from_argv(), host="127.0.0.1"), lambda config: None)
    app.loop.ensure_future(publish_forever(lambda topic, data: app.publish(topic, data, OpCode.TEXT)))
    app.run()
