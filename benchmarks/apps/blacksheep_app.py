"""BlackSheep (served by uvicorn): the benchmark routes.

    uvicorn blacksheep_app:app --port PORT --no-access-log --log-level warning

BlackSheep streams only from async generators (StreamedContent), so the
shared sync generators are wrapped in one.
"""
from blacksheep import Application, Content, Request, Response, StreamedContent, get, json, post, text

from common import HELLO, chunks64m, lines10k

app = Application()


@get("/")
async def home():
    return text(HELLO)


@get("/json")
async def json_route():
    return json({"message": HELLO})


@get("/users/{id}")
async def user(id: int):
    return json({"id": id})


@post("/echo")
async def echo(request: Request):
    return Response(200, None, Content(b"application/octet-stream", await request.read() or b""))


@get("/stream10k")
async def stream10k():
    async def provider():
        for line in lines10k():
            yield line.encode()
    return Response(200, None, StreamedContent(b"text/plain; charset=utf-8", provider))


@get("/stream64m")
async def stream64m():
    async def provider():
        for chunk in chunks64m():
            yield chunk
    return Response(200, None, StreamedContent(b"application/octet-stream", provider))
