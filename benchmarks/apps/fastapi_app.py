"""FastAPI (served by uvicorn): the benchmark routes.

    uvicorn fastapi_app:app --port PORT --no-access-log --log-level warning
"""
from typing import Annotated

import common
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from common import (DEPS_CLOSED_PATH, DEPS_PATH, HELLO, Session, aget_session, aget_settings, chunks64m, deps_answer,
                    lines10k, order_models)

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


# The typed scenarios (orders, search): pydantic models with the constraints, Query markers.
Customer, Item, Order = order_models(BaseModel, Field)


@app.post("/orders")
async def orders(order: Order):
    return {"customer": order.customer.id, "items": len(order.items),
            "total": round(sum(item.qty * item.price for item in order.items), 2)}


@app.get("/search")
async def search(q: str, limit: Annotated[int, Query(ge=1, le=100)] = 10, offset: Annotated[int, Query(ge=0)] = 0,
                 tags: Annotated[list[str], Query()] = []):
    return {"q": q, "limit": limit, "offset": offset, "tags": tags}


# The deps scenario: the two dependencies as FastAPI's docs write them for an async app (`async def`, the
# yield one an async generator): a plain `def` dependency would run on the thread pool, one hop each.
@app.get(DEPS_PATH)
async def deps(limit: int = Query(10, ge=1, le=100), settings: dict = Depends(aget_settings),
               session: Session = Depends(aget_session)):
    return deps_answer(settings, session, limit)


@app.get(DEPS_CLOSED_PATH)
async def deps_closed():
    return {"closed": common.closed_sessions}
