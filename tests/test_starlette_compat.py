"""Handlers written for Starlette / FastAPI run unchanged: Starlette's argument
names for responses, `await request.body()/json()/form()` in async handlers,
Route values. Over a real socket, through the compiled server."""
import httpx

from catzilla import (Catzilla, FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response, Route,
                      Router, StreamingResponse)


# -- these handlers are Starlette code, word for word ------------------------------------

async def create_item(request):
    data = await request.json()
    return JSONResponse(content={"got": data}, status_code=201, headers={"x-app": "ported"})


async def echo(request):
    body = await request.body()
    return Response(content=body, media_type="application/octet-stream")


async def login(request):
    form = await request.form()
    return PlainTextResponse(content=f"hello {form['user']}", status_code=200)


def text(request):
    return Response(content="plain", media_type="text/plain")


async def events(request):
    async def gen():
        yield b"data: 1\n\n"
        yield b"data: 2\n\n"
    return StreamingResponse(gen(), media_type="text/event-stream")


def go(request):
    return RedirectResponse(url="/text", status_code=303)


def make_app(tmp_path):
    (tmp_path / "report.csv").write_text("a,b\n1,2\n")

    def download(request):
        return FileResponse(tmp_path / "report.csv", media_type="text/csv", filename="report.csv")

    app = Catzilla()
    app.include_router(Router(routes=[
        Route("/items", create_item, methods=["POST"]),
        Route("/echo", echo, methods=["POST"]),
        Route("/login", login, methods=["POST"]),
        Route("/text", text),
        Route("/events", events),
        Route("/go", go),
        Route("/download", download),
    ]))
    return app


def test_starlette_handlers_run_unchanged(serve, tmp_path):
    host, port = serve(make_app(tmp_path))
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as client:
        r = client.post("/items", json={"name": "cat", "lives": 9})
        assert (r.status_code, r.json(), r.headers["x-app"]) == (201, {"got": {"name": "cat", "lives": 9}}, "ported")
        assert r.headers["content-type"] == "application/json"

        r = client.post("/echo", content=b"\x00\x01raw")
        assert (r.status_code, r.content, r.headers["content-type"]) == (200, b"\x00\x01raw",
                                                                        "application/octet-stream")

        r = client.post("/login", data={"user": "tom"})
        assert (r.status_code, r.text) == (200, "hello tom")

        r = client.get("/text")
        assert r.text == "plain" and r.headers["content-type"] == "text/plain; charset=utf-8"

        r = client.get("/events")
        assert r.text == "data: 1\n\ndata: 2\n\n"
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"

        r = client.get("/go", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/text")

        r = client.get("/download")
        assert (r.status_code, r.text, r.headers["content-type"]) == (200, "a,b\n1,2\n", "text/csv")
        assert r.headers["content-disposition"] == 'attachment; filename="report.csv"'


def test_invalid_json_in_an_async_handler_is_a_400(serve, tmp_path):
    host, port = serve(make_app(tmp_path))
    r = httpx.post(f"http://{host}:{port}/items", content=b"{not json", timeout=5)
    assert r.status_code == 400


def test_both_names_of_one_argument_are_an_error():
    import pytest
    with pytest.raises(TypeError, match="content or body"):
        Response(content=b"a", body=b"b")
    with pytest.raises(TypeError, match="status_code or status"):
        Response(b"", status_code=200, status=201)
    with pytest.raises(TypeError, match="media_type or content_type"):
        Response(b"", media_type="text/plain", content_type="text/plain")
    assert Response("x", 202, None, "text/html").content_type == "text/html; charset=utf-8"
    assert Response("x", 202).status_code == Response("x", status=202).status == 202
