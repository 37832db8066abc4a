"""Starlette (served by uvicorn): the benchmark routes.

    uvicorn starlette_app:app --port PORT --no-access-log --log-level warning

BENCH_MIDDLEWARE=gzip wraps the app in Starlette's GZipMiddleware (level 6), see common.py.
"""
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from common import GZIP_LEVEL, HELLO, UPLOAD_PATH, WS_PATH, alines10k, chunks64m, lines10k, middleware_from_env


async def home(request):
    return PlainTextResponse(HELLO)


async def json_route(request):
    return JSONResponse({"message": HELLO})


async def user(request):
    return JSONResponse({"id": request.path_params["id"]})


async def echo(request):
    return Response(await request.body(), media_type="application/octet-stream")


async def stream10k(request):
    # A sync generator, as in every peer; Starlette iterates it on its thread pool.
    return StreamingResponse(lines10k(), media_type="text/plain")


async def astream10k(request):
    return StreamingResponse(alines10k(), media_type="text/plain")


async def stream64m(request):
    return StreamingResponse(chunks64m(), media_type="application/octet-stream")


async def upload(request):
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
    return JSONResponse({"bytes": n})


async def ws_echo(websocket):
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])
            else:
                await websocket.send_text(message["text"])
    except WebSocketDisconnect:
        pass


app = Starlette(routes=[
    Route("/", home),
    Route("/json", json_route),
    Route("/users/{id:int}", user),
    Route("/echo", echo, methods=["POST"]),
    Route("/stream10k", stream10k),
    Route("/astream10k", astream10k),
    Route("/stream64m", stream64m),
    Route(UPLOAD_PATH, upload, methods=["POST"]),
    WebSocketRoute(WS_PATH, ws_echo),
])



_middleware = middleware_from_env()
if _middleware == "gzip":
    from starlette.middleware.gzip import GZipMiddleware
    app.add_middleware(GZipMiddleware, compresslevel=GZIP_LEVEL)
elif _middleware is not None:
    raise ValueError(f"starlette_app: no {_middleware!r} middleware here")
