"""Litestar (served by uvicorn): the typed scenarios (orders, search), deps, and GET / for the
runner's readiness check. msgspec Structs carry the issue's constraints (msgspec.Meta), Parameter the
query constraints; deps' dependencies are `Provide`d, both run on the event loop (the plain one with
sync_to_thread=False).

    uvicorn litestar_app:app --port PORT --no-access-log --log-level warning
"""
from typing import Annotated, List, Optional

import msgspec
from litestar import Litestar, MediaType, get, post
from litestar.di import Provide
from litestar.params import Parameter

import common
from common import DEPS_CLOSED_PATH, DEPS_PATH, HELLO, Session, deps_answer, get_session, get_settings


class Customer(msgspec.Struct):
    id: Annotated[int, msgspec.Meta(ge=1)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    email: Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+$")]


class Item(msgspec.Struct):
    sku: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]-[0-9]+$")]
    qty: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    price: Annotated[float, msgspec.Meta(gt=0)]


class Order(msgspec.Struct):
    customer: Customer
    items: Annotated[List[Item], msgspec.Meta(min_length=1, max_length=100)]
    note: Optional[str] = None
    express: bool = False


@get("/", media_type=MediaType.TEXT)
async def home() -> str:
    return HELLO


@post("/orders", status_code=200)   # Litestar's POST default is 201; every peer answers 200
async def orders(data: Order) -> dict:
    return {"customer": data.customer.id, "items": len(data.items),
            "total": round(sum(item.qty * item.price for item in data.items), 2)}


@get("/search")
async def search(q: str, limit: Annotated[int, Parameter(ge=1, le=100)] = 10,
                 offset: Annotated[int, Parameter(ge=0)] = 0,
                 tags: Optional[List[str]] = None) -> dict:
    return {"q": q, "limit": limit, "offset": offset, "tags": tags or []}


# (a generator dependency takes no sync_to_thread: Litestar steps it on the event loop, and warns if given one)
@get(DEPS_PATH, dependencies={"settings": Provide(get_settings, sync_to_thread=False),
                               "session": Provide(get_session)})
async def deps(settings: dict, session: Session, limit: Annotated[int, Parameter(ge=1, le=100)] = 10) -> dict:
    return deps_answer(settings, session, limit)


@get(DEPS_CLOSED_PATH)
async def deps_closed() -> dict:
    return {"closed": common.closed_sessions}


app = Litestar([home, orders, search, deps, deps_closed])
