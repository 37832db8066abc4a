"""FastAPI (served by uvicorn): the benchmark routes.

    uvicorn fastapi_app:app --port PORT --no-access-log --log-level warning
"""
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from common import HELLO, chunks64m, lines10k

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
async def home():
    return HELLO


@app.get("/json")
async def json_route():
    return {"message": HELLO}


@app.get("/users/{id}")
async def user(id: int):
    return {"id": id}


@app.post("/echo")
async def echo(request: Request):
    return Response(await request.body(), media_type="application/octet-stream")


@app.get("/stream10k")
async def stream10k():
    return StreamingResponse(lines10k(), media_type="text/plain")


@app.get("/stream64m")
async def stream64m():
    return StreamingResponse(chunks64m(), media_type="application/octet-stream")
