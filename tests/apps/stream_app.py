"""The app the streaming tests run in a server subprocess (so its RSS and its
GIL are its own). `python tests/apps/stream_app.py` prints the URL it serves."""
import asyncio
import os
import sys
import threading
import time

if os.environ.get("CATZILLA_TEST_INSTALLED") != "1":   # else: the installed package (a wheel)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from catzilla import Catzilla, StreamingResponse  # noqa: E402

app = Catzilla(high_water=256 * 1024, low_water=64 * 1024)
state = {"pulled": 0, "finally": [], "closed": []}
lock = threading.Lock()


@app.get("/")
def home(request):
    return "ok"


@app.get("/state")
def get_state(request):
    with lock:
        return {"pulled": state["pulled"], "finally": list(state["finally"])}


@app.get("/paced")
def paced(request):
    """n chunks, `gap` seconds apart, from a blocking sync generator."""
    n = int(request.query_params.get("n", "5"))
    gap = float(request.query_params.get("gap", "0.5"))
    tag = request.query_params.get("tag", "paced")

    def gen():
        try:
            for i in range(n):
                if i:
                    time.sleep(gap)
                yield f"chunk {i}\n"
        finally:
            with lock:
                state["finally"].append(tag)
    return StreamingResponse(gen())


@app.get("/apaced")
async def apaced(request):
    n = int(request.query_params.get("n", "5"))
    gap = float(request.query_params.get("gap", "0.5"))
    tag = request.query_params.get("tag", "apaced")

    async def gen():
        try:
            for i in range(n):
                if i:
                    await asyncio.sleep(gap)
                yield f"chunk {i}\n"
        finally:
            with lock:
                state["finally"].append(tag)
    return StreamingResponse(gen())


@app.get("/endless")
def endless(request):
    """64 KiB chunks forever; counts what was pulled."""
    block = b"x" * 65536

    def gen():
        try:
            while True:
                with lock:
                    state["pulled"] += len(block)
                yield block
        finally:
            with lock:
                state["finally"].append("endless")
    return StreamingResponse(gen(), content_type="application/octet-stream")


@app.get("/lines")
def lines(request):
    n = int(request.query_params.get("n", "1000000"))

    def gen():
        for i in range(n):
            yield f"Data {i}\n"
    return StreamingResponse(gen())


@app.get("/fails")
def fails(request):
    def gen():
        yield "first\n"
        raise RuntimeError("generator failed mid-stream")
    return StreamingResponse(gen())


@app.get("/afails")
def afails(request):
    async def gen():
        yield "first\n"
        await asyncio.sleep(0.01)
        raise RuntimeError("async generator failed mid-stream")
    return StreamingResponse(gen())


@app.get("/returned-generator")
def returned_generator(request):
    return (f"item {i}\n" for i in range(3))


@app.get("/sizes")
def sizes(request):
    """One chunk of each size in ?n=1,16,... (bytes of b"x"): the chunk-size lines."""
    return StreamingResponse(b"x" * int(n) for n in request.query_params["n"].split(","))


@app.get("/list")
def list_stream(request):
    return StreamingResponse([b"a", "b", memoryview(b"c")])


if __name__ == "__main__":
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    app.listen(int(os.environ.get("PORT", "0")), "127.0.0.1", banner=True)
