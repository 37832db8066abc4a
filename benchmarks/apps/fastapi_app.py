"""FastAPI (served by uvicorn): the benchmark routes.

    uvicorn fastapi_app:app --port PORT --no-access-log --log-level warning
"""
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from common import HELLO, chunks64m, lines10k, order_models

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
