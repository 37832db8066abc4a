"""Granian, RSGI interface (no framework: Granian's own fastest protocol).

    granian --interface rsgi --workers 1 --runtime-threads 1 granian_rsgi_app:app
"""
import json

from common import HELLO, UPLOAD_PATH, chunks64m, lines10k

TEXT = [("content-type", "text/plain; charset=utf-8")]
JSON = [("content-type", "application/json")]
BINARY = [("content-type", "application/octet-stream")]


async def app(scope, proto):
    path = scope.path
    method = scope.method
    if method == "GET":
        if path == "/":
            proto.response_str(200, TEXT, HELLO)
            return
        if path == "/json":
            proto.response_str(200, JSON, json.dumps({"message": HELLO}))
            return
        if path.startswith("/users/"):
            try:
                uid = int(path[7:])
            except ValueError:
                proto.response_str(404, TEXT, "Not Found")
                return
            proto.response_str(200, JSON, json.dumps({"id": uid}))
            return
        if path == "/stream10k":
            transport = proto.response_stream(200, TEXT)
            for line in lines10k():
                await transport.send_str(line)
            return
        if path == "/stream64m":
            transport = proto.response_stream(200, BINARY)
            for chunk in chunks64m():
                await transport.send_bytes(chunk)
            return
    elif method == "POST" and path == "/echo":
        body = await proto()
        proto.response_bytes(200, BINARY, body)
        return
    elif method == "POST" and path == UPLOAD_PATH:
        n = 0
        async for chunk in proto:       # the body as it arrives
            n += len(chunk)
        proto.response_str(200, JSON, json.dumps({"bytes": n}))
        return
    proto.response_str(404, TEXT, "Not Found")
