"""Socketify (uWebSockets): the benchmark routes. Run: python socketify_app.py PORT"""
from socketify import App, AppListenOptions, CompressOptions

from common import BIG_TOTAL, HELLO, WS_PATH, chunks64m, lines10k, port_from_argv

app = App()


def home(res, req):
    res.end(HELLO)


def json_route(res, req):
    res.send({"message": HELLO})     # dict -> JSON with application/json


def user(res, req):
    try:
        uid = int(req.get_parameter(0))
    except (TypeError, ValueError):
        res.write_status(404).end("Not Found")
        return
    res.send({"id": uid})


_reading = set()   # socketify 0.0.31 can lose a Response whose body is still arriving (a fatal
                   # "ffi.from_handle() ... garbage" under load): hold each one until it answered


async def echo(res, req):
    _reading.add(res)
    try:
        body = await res.get_data()
        res.send(body.getvalue(), content_type=b"application/octet-stream")
    finally:
        _reading.discard(res)


def stream10k(res, req):
    # uWS writes are chunked (Transfer-Encoding: chunked) until end().
    res.write_header("Content-Type", "text/plain; charset=utf-8")
    for line in lines10k():
        res.write(line)
    res.end("")


async def stream64m(res, req):
    # send_chunk is socketify's back-pressured streaming (needs the total size).
    res.write_header("Content-Type", "application/octet-stream")
    for chunk in chunks64m():
        ok, done = await res.send_chunk(chunk, BIG_TOTAL)
        if not ok or res.aborted:
            return


app.get("/", home)
app.get("/json", json_route)
app.get("/users/:id", user)
app.post("/echo", echo)
app.get("/stream10k", stream10k)
app.get("/stream64m", stream64m)
app.ws(WS_PATH, {
    "compression": CompressOptions.DISABLED,
    "max_payload_length": 16 * 1024 * 1024,     # uWS's default (16 KiB) is the 16 KiB scenario's size
    "idle_timeout": 120,
    "message": lambda ws, message, opcode: ws.send(message, opcode),   # echo, same opcode
})

if __name__ == "__main__":
    app.listen(AppListenOptions(port=port_from_argv(), host="127.0.0.1"), lambda config: None)
    app.run()
