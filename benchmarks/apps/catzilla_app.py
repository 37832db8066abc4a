"""Catzilla: the benchmark routes. Run: python catzilla_app.py PORT
(BENCH_MIDDLEWARE=noop|gzip installs a middleware around every route, see common.py)"""
from typing import Annotated

from catzilla import Catzilla, StreamingResponse

import common
from common import (DEPS_CLOSED_PATH, DEPS_PATH, GZIP_LEVEL, HELLO, UPLOAD_PATH, WS_PATH, Session, alines10k, chunks64m,
                    deps_answer, get_session, get_settings, lines10k, middleware_from_env, order_models, port_from_argv)

app = Catzilla()


class NoOpMiddleware:
    """Both phases present and doing nothing: what one layer costs a request."""

    def on_request(self, request):
        return None

    def on_response(self, request, response):
        return None


_middleware = middleware_from_env()
if _middleware == "noop":
    app.add_middleware(NoOpMiddleware)
elif _middleware == "gzip":
    # imported here: a catzilla without middleware (catzilla-before) still serves the other scenarios
    from catzilla.compression import GZipMiddleware
    app.add_middleware(GZipMiddleware, compresslevel=GZIP_LEVEL)


@app.get("/")
def home(request):
    return HELLO


@app.get("/json")
def json_route(request):
    return {"message": HELLO}


@app.get("/users/{id:int}")
def user(request, id):
    return {"id": id}


@app.post("/echo")
def echo(request):
    return request.body


@app.get("/stream10k")
def stream10k(request):
    return StreamingResponse(lines10k())


@app.get("/astream10k")
def astream10k(request):
    return StreamingResponse(alines10k())


@app.get("/stream64m")
def stream64m(request):
    return StreamingResponse(chunks64m(), content_type="application/octet-stream")


@app.post(UPLOAD_PATH)
async def upload(request):
    # counts only: hashing would measure hashlib, not the server
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
    return {"bytes": n}


# A catzilla without WebSockets (catzilla-before, or a tree before they landed) still serves
# the HTTP routes; its ws scenarios then fail with the handshake's answer, in the report.
if hasattr(app, "websocket"):
    @app.websocket(WS_PATH)
    async def ws_echo(ws):
        await ws.accept()
        async for message in ws:
            await ws.send(message)


# The typed scenarios (orders, search): the models and markers of catzilla's typed layer, the same
# constraints as the FastAPI and Litestar apps. A catzilla without it (catzilla-before of an older
# tree) serves the rest; run.py reports orders/search as n/a for it (Scenario.catzilla_needs).
try:
    from catzilla import BaseModel, Field, Query
except ImportError:
    BaseModel = None

if BaseModel is not None:
    Customer, Item, Order = order_models(BaseModel, Field)

    @app.post("/orders")
    def orders(order: Order):                   # FastAPI style: the bare model is the whole body
        return {"customer": order.customer.id, "items": len(order.items),
                "total": round(sum(item.qty * item.price for item in order.items), 2)}

    @app.get("/search")
    def search(request, q: str, limit: Annotated[int, Query(ge=1, le=100)] = 10,
               offset: Annotated[int, Query(ge=0)] = 0, tags: list[str] = Query([])):
        return {"q": q, "limit": limit, "offset": offset, "tags": tags}


# The deps scenario: a plain dependency and a yield dependency (common.get_settings, common.get_session)
# through Depends, FastAPI's way, and a constrained query parameter. A catzilla without Depends (a
# --before revision older than it) serves the rest; run.py reports deps as n/a for it (catzilla_needs).
try:
    from catzilla import Depends, Query
except ImportError:
    Depends = None

if Depends is not None:
    @app.get(DEPS_PATH)
    def deps(limit: int = Query(10, ge=1, le=100), settings: dict = Depends(get_settings),
             session: Session = Depends(get_session)) -> dict:
        return deps_answer(settings, session, limit)

    @app.get(DEPS_CLOSED_PATH)
    def deps_closed(request):
        return {"closed": common.closed_sessions}


if __name__ == "__main__":
    app.listen(port_from_argv(), host="127.0.0.1", banner=False)
