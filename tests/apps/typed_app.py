"""A typed API for the OpenAPI tests (test_openapi, test_schemathesis,
test_docs_browser): the issue's `orders` and `search` shapes, path, header,
cookie and form parameters, a router under a prefix, a deprecated and a hidden
route, a WebSocket and an untyped route. `app` has no typed stream (an OpenAPI
3.1 document); `stream_app` adds them (3.2).

Swagger UI's assets are the CDN's unless SWAGGER_DIR names a directory of
swagger-ui-dist files: they are then served from /swagger/ (the browser test)."""
from __future__ import annotations

import os
from typing import Annotated, AsyncIterator, Iterator, List, Literal, Optional
from uuid import UUID

from catzilla import (BaseModel, Catzilla, Cookie, EventSourceResponse, Field, File, Form, Header, Path, Query,
                      Router, UploadFile)


class Customer(BaseModel):
    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class Item(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]-[0-9]+$", description="stock keeping unit")
    qty: int = Field(ge=1, le=1000)
    price: float = Field(gt=0, le=1_000_000)


class Order(BaseModel):
    customer: Customer
    items: List[Item] = Field(min_length=1, max_length=100)
    note: Optional[str] = None
    express: bool = False


class Receipt(BaseModel):
    customer: int
    items: int
    total: float


class Found(BaseModel):
    q: str
    limit: int
    offset: int
    tags: List[str]


class Missing(BaseModel):
    detail: str


class Token(BaseModel):
    text: str
    index: int


def make_app(streams: bool = False) -> Catzilla:
    swagger = os.environ.get("SWAGGER_DIR")
    assets = dict(swagger_js_url="/swagger/swagger-ui-bundle.js",
                  swagger_css_url="/swagger/swagger-ui.css") if swagger else {}
    app = Catzilla(title="Typed shop", version="1.2.3", description="The OpenAPI tests' typed app.",
                   openapi_tags=[{"name": "orders", "description": "Buying things"}], **assets)
    if swagger:
        app.static("/swagger", swagger)

    @app.post("/orders", status_code=201, response_model=Receipt, tags=["orders"], summary="Place an order")
    def create_order(order: Order) -> Receipt:
        """Validates the order; answers its total."""
        total = round(sum(item.qty * item.price for item in order.items), 2)
        return Receipt(customer=order.customer.id, items=len(order.items), total=total)

    @app.get("/search", tags=["search"])
    def search(request, q: str, limit: int = Query(10, ge=1, le=100, description="page size"),
               offset: Annotated[int, Query(ge=0)] = 0, tags: List[str] = Query([])) -> Found:
        return Found(q=q, limit=limit, offset=offset, tags=tags)

    @app.get("/items/{item_id:int}", responses={404: {"model": Missing, "description": "No such item"}})
    def read_item(item_id: Annotated[int, Path(ge=1, le=10_000)],
                  x_token: Optional[str] = Header(None, max_length=64),
                  session: Optional[str] = Cookie(None)) -> Item:
        return Item(sku=f"A-{item_id}", qty=1, price=9.5)

    @app.get("/colors/{color}")
    def color(color: Literal["red", "green", "blue"], shade: Optional[float] = Query(None, ge=0, le=1)) -> dict:
        return {"color": color, "shade": shade}

    @app.post("/profile")
    def profile(name: str = Form(min_length=1, max_length=40), age: int = Form(ge=0, le=150)) -> dict:
        return {"name": name, "age": age}

    @app.post("/upload")
    async def upload(title: str = Form(max_length=100), file: UploadFile = File(description="any file")) -> dict:
        data = await file.read()
        return {"title": title, "size": len(data)}

    @app.get("/old", deprecated=True, tags=["search"])
    def old(request, q: str = Query("", max_length=10)) -> Found:
        return Found(q=q, limit=10, offset=0, tags=[])

    @app.get("/hidden", include_in_schema=False)
    def hidden(request):
        return {"hidden": True}

    @app.get("/hello/{name}")
    def hello(request, name):           # untyped: documented with its path parameter only
        return {"hello": name}

    @app.websocket("/ws")
    async def ws(websocket):
        await websocket.accept()
        await websocket.close()

    v1 = Router(prefix="/v1")

    @v1.delete("/orders/{order_id:uuid}", status_code=204, tags=["orders"])
    def cancel(order_id: Annotated[UUID, Path(description="the order's id")]) -> None:
        return None

    if streams:
        @v1.post("/completions", response_class=EventSourceResponse, tags=["llm"])
        async def complete(prompt: Annotated[str, Query(min_length=1, max_length=200)]) -> AsyncIterator[Token]:
            for i, word in enumerate(prompt.split()):
                yield Token(text=word, index=i)

        @v1.get("/items.jsonl")
        def items(n: int = Query(3, ge=0, le=20)) -> Iterator[Item]:
            for i in range(n):
                yield Item(sku=f"B-{i}", qty=i + 1, price=1.5)

    app.include_router(v1)
    return app


app = make_app()


def __getattr__(name: str) -> Catzilla:
    if name == "stream_app":            # made when asked for (catzilla run typed_app:stream_app)
        return make_app(streams=True)
    raise AttributeError(name)
