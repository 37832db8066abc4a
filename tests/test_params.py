"""Typed endpoints (catzilla/params.pyx): every parameter source, conversion and
constraint, the 422 shapes (several errors at once), bodies whole and embedded,
forms and files, responses (response_model, status_code), typed streams and
WebSocket parameters -- through the real compiled server (TestClient)."""
import asyncio
import datetime
import enum
import json
import re
import uuid
from decimal import Decimal
from typing import Annotated, AsyncIterable, Iterable, List, Literal, Optional

import pytest

from catzilla import (BaseModel, Body, Catzilla, Cookie, EventSourceResponse, Field, File, Form, Header,
                      HTMLResponse, JSONResponse, Path, Query, Request, RequestValidationError, Route, Router,
                      ServerSentEvent, UploadFile, WebSocket)
from catzilla.params import compile_endpoint
from catzilla.testing import TestClient, WebSocketRejected


class Item(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]-[0-9]+$")
    qty: int = Field(ge=1, le=1000)
    price: float = Field(gt=0)


class Customer(BaseModel):
    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=100)


class Order(BaseModel):
    customer: Customer
    items: List[Item] = Field(min_length=1, max_length=100)
    note: Optional[str] = None
    express: bool = False


class Color(enum.Enum):
    red = "red"
    blue = "blue"


def client_for(app):
    return TestClient(app)


@pytest.fixture
def client(request):
    app = request.param() if hasattr(request, "param") else None
    with TestClient(app) as c:
        yield c


def detail(r):
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    return r.json()["detail"]


# -- query parameters ---------------------------------------------------------------------------------

def search_app():
    app = Catzilla()

    @app.get("/search")
    def search(request, q: str, limit: int = Query(10, ge=1, le=100), offset: Annotated[int, Query(ge=0)] = 0,
               tags: list[str] = Query([]), ratio: float = 1.0, exact: bool = False):
        assert isinstance(request, Request)
        return {"q": q, "limit": limit, "offset": offset, "tags": tags, "ratio": ratio, "exact": exact}

    @app.get("/constraints")
    def constraints(gt: Optional[int] = Query(None, gt=5), lt: Optional[float] = Query(None, lt=1.5),
                    le: Annotated[Optional[int], Query(le=3)] = None,
                    mult: Optional[int] = Query(None, multiple_of=3),
                    short: Optional[str] = Query(None, min_length=2), long: Optional[str] = Query(None, max_length=3),
                    code: Optional[str] = Query(None, pattern=r"^[a-z]+$"),
                    many: list[int] = Query([], min_length=2)):
        return {"ok": True}

    @app.get("/typed")
    def typed(color: Color = Color.red, mode: Literal["fast", "slow"] = "fast", id: Optional[uuid.UUID] = None,
              day: Optional[datetime.date] = None, when: Optional[datetime.datetime] = None):
        return {"color": color.value, "mode": mode, "id": str(id) if id else None,
                "day": day.isoformat() if day else None, "when": when.isoformat() if when else None}

    @app.get("/money")
    def money(amount: Decimal = Query(ge=0), since: datetime.date = Query(datetime.date(2020, 1, 1),
                                                                         ge=datetime.date(2020, 1, 1))):
        return {"amount": str(amount), "since": since.isoformat()}

    @app.get("/alias")
    def alias(item_query: str = Query(..., alias="item-query")):
        return {"value": item_query}

    @app.get("/untyped-default")
    def untyped_default(request, page=3, size: int = 2):
        return {"page": page, "size": size}
    return app


def test_query_scalars_lists_and_defaults():
    with client_for(search_app()) as c:
        r = c.get("/search?q=cat&limit=20&tags=a&tags=b&ratio=0.5&exact=yes")
        assert r.status_code == 200, r.text
        assert r.json() == {"q": "cat", "limit": 20, "offset": 0, "tags": ["a", "b"], "ratio": 0.5, "exact": True}
        assert c.get("/search?q=x").json() == {"q": "x", "limit": 10, "offset": 0, "tags": [], "ratio": 1.0,
                                               "exact": False}
        # the list default is a fresh copy per request
        assert c.get("/search?q=x").json()["tags"] == []
        assert c.get("/search?q=x&limit=%2B7&offset=3.0").json()["limit"] == 7
        assert c.get("/search?q=x&offset=3.0").json()["offset"] == 3
        # an unannotated keyword with a default stays the handler's own (today's and 0.2.3's behaviour)
        assert c.get("/untyped-default?page=9&size=5").json() == {"page": 3, "size": 5}


@pytest.mark.parametrize("text,value", [("true", True), ("1", True), ("on", True), ("yes", True), ("True", True),
                                        ("t", True), ("y", True), ("false", False), ("0", False), ("off", False),
                                        ("no", False), ("FALSE", False), ("f", False), ("n", False)])
def test_bool_forms(text, value):
    with client_for(search_app()) as c:
        assert c.get(f"/search?q=x&exact={text}").json()["exact"] is value


def test_several_query_errors_at_once():
    with client_for(search_app()) as c:
        errors = detail(c.get("/search?limit=0&offset=-1&ratio=abc&exact=maybe"))
    assert errors == [
        {"type": "missing", "loc": ["query", "q"], "msg": "Field required", "input": None},
        {"type": "greater_than_equal", "loc": ["query", "limit"], "msg": "Input should be greater than or equal to 1",
         "input": "0", "ctx": {"ge": 1}},
        {"type": "greater_than_equal", "loc": ["query", "offset"],
         "msg": "Input should be greater than or equal to 0", "input": "-1", "ctx": {"ge": 0}},
        {"type": "float_parsing", "loc": ["query", "ratio"],
         "msg": "Input should be a valid number, unable to parse string as a number", "input": "abc"},
        {"type": "bool_parsing", "loc": ["query", "exact"],
         "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"},
    ]


def test_int_parsing_and_upper_bound():
    with client_for(search_app()) as c:
        assert detail(c.get("/search?q=x&limit=ten")) == [
            {"type": "int_parsing", "loc": ["query", "limit"],
             "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "ten"}]
        assert detail(c.get("/search?q=x&limit=101")) == [
            {"type": "less_than_equal", "loc": ["query", "limit"], "msg": "Input should be less than or equal to 100",
             "input": "101", "ctx": {"le": 100}}]
        assert detail(c.get("/search?q=x&limit=1.5"))[0]["type"] == "int_parsing"
        huge = "9" * 400                      # beyond any double: compared as an int, not a 500
        assert detail(c.get(f"/search?q=x&limit={huge}"))[0]["type"] == "less_than_equal"
        assert detail(c.get(f"/search?q=x&limit={'9' * 5000}"))[0]["type"] == "int_parsing"


@pytest.mark.parametrize("query,error", [
    ("gt=5", {"type": "greater_than", "loc": ["query", "gt"], "msg": "Input should be greater than 5",
              "input": "5", "ctx": {"gt": 5}}),
    ("lt=1.5", {"type": "less_than", "loc": ["query", "lt"], "msg": "Input should be less than 1.5",
                "input": "1.5", "ctx": {"lt": 1.5}}),
    ("le=4", {"type": "less_than_equal", "loc": ["query", "le"], "msg": "Input should be less than or equal to 3",
              "input": "4", "ctx": {"le": 3}}),
    ("mult=7", {"type": "multiple_of", "loc": ["query", "mult"], "msg": "Input should be a multiple of 3",
                "input": "7", "ctx": {"multiple_of": 3}}),
    ("short=a", {"type": "string_too_short", "loc": ["query", "short"],
                 "msg": "String should have at least 2 characters", "input": "a", "ctx": {"min_length": 2}}),
    ("long=abcd", {"type": "string_too_long", "loc": ["query", "long"],
                   "msg": "String should have at most 3 characters", "input": "abcd", "ctx": {"max_length": 3}}),
    ("code=ABC", {"type": "string_pattern_mismatch", "loc": ["query", "code"],
                  "msg": "String should match pattern '^[a-z]+$'", "input": "ABC", "ctx": {"pattern": "^[a-z]+$"}}),
    ("many=1", {"type": "too_short", "loc": ["query", "many"],
                "msg": "List should have at least 2 items after validation, not 1", "input": [1],
                "ctx": {"field_type": "List", "min_length": 2, "actual_length": 1}}),
    ("many=1&many=x", {"type": "int_parsing", "loc": ["query", "many", 1],
                       "msg": "Input should be a valid integer, unable to parse string as an integer",
                       "input": "x"}),
])
def test_each_constraint(query, error):
    with client_for(search_app()) as c:
        assert detail(c.get("/constraints?" + query)) == [error]
        assert c.get("/constraints?gt=6&lt=1.4&le=3&mult=9&short=ab&long=abc&code=abc&many=1&many=2").json() == \
            {"ok": True}


def test_enum_literal_uuid_date_through_the_engine():
    u = "12345678-1234-5678-1234-567812345678"
    with client_for(search_app()) as c:
        r = c.get(f"/typed?color=blue&mode=slow&id={u}&day=2024-02-29&when=2024-02-29T10:00:00")
        assert r.json() == {"color": "blue", "mode": "slow", "id": u, "day": "2024-02-29",
                            "when": "2024-02-29T10:00:00"}
        errors = detail(c.get("/typed?color=green&mode=medium&id=zz&day=yesterday"))
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("enum", ["query", "color"]), ("literal_error", ["query", "mode"]), ("uuid_parsing", ["query", "id"]),
        ("date_from_datetime_parsing", ["query", "day"])]
    assert errors[0]["msg"] == "Input should be 'red' or 'blue'"
    assert errors[0]["ctx"] == {"expected": "'red' or 'blue'"}
    assert errors[1]["msg"] == "Input should be 'fast' or 'slow'"


def test_constraints_on_engine_types():
    with client_for(search_app()) as c:
        assert c.get("/money?amount=1.50&since=2021-05-01").json() == {"amount": "1.50", "since": "2021-05-01"}
        assert detail(c.get("/money?amount=-1&since=2019-12-31")) == [
            {"type": "greater_than_equal", "loc": ["query", "amount"], "msg": "Input should be greater than or equal to 0",
             "input": "-1", "ctx": {"ge": 0}},
            {"type": "greater_than_equal", "loc": ["query", "since"],
             "msg": "Input should be greater than or equal to 2020-01-01", "input": "2019-12-31",
             "ctx": {"ge": "2020-01-01"}}]
        assert detail(c.get("/money?amount=lots"))[0]["type"] == "decimal_parsing"


def test_alias():
    with client_for(search_app()) as c:
        assert c.get("/alias?item-query=x").json() == {"value": "x"}
        assert detail(c.get("/alias?item_query=x"))[0]["loc"] == ["query", "item-query"]


# -- headers, cookies, path ------------------------------------------------------------------------

def header_app():
    app = Catzilla()

    @app.get("/h")
    def h(x_token: str = Header(), user_agent: Optional[str] = Header(None),
          raw_name: Optional[str] = Header(None, convert_underscores=False),
          x_tag: list[str] = Header([]), x_num: Annotated[int, Header(ge=1)] = 1,
          session: Optional[str] = Cookie(None), theme: str = Cookie("light")):
        return {"token": x_token, "ua": user_agent, "raw": raw_name, "tags": x_tag, "num": x_num,
                "session": session, "theme": theme}

    @app.get("/items/{item_id}")
    def item(item_id: int, request: Request):
        assert request.path_params == {"item_id": str(item_id)} or request.path_params["item_id"] == item_id
        return {"item_id": item_id}

    @app.get("/typed/{item_id:int}")
    async def typed(item_id: Annotated[int, Path(ge=1, le=1000)], request: Request):
        return {"item_id": item_id, "path": request.path}

    @app.get("/files/{name:path}")
    def files(name: str, n: int = 1):
        return {"name": name, "n": n}
    return app


def test_headers_underscores_case_lists_cookies():
    with client_for(header_app()) as c:
        r = c.get("/h", headers=[("X-TOKEN", "secret"), ("User-Agent", "ua/1"), ("raw_name", "r"),
                                 ("x-tag", "a"), ("X-Tag", "b"), ("x-num", "5"),
                                 ("cookie", "session=abc; other=1")])
        assert r.json() == {"token": "secret", "ua": "ua/1", "raw": "r", "tags": ["a", "b"], "num": 5,
                            "session": "abc", "theme": "light"}
        errors = detail(c.get("/h", headers={"x-num": "0"}))
    assert errors == [
        {"type": "missing", "loc": ["header", "x-token"], "msg": "Field required", "input": None},
        {"type": "greater_than_equal", "loc": ["header", "x-num"], "msg": "Input should be greater than or equal to 1",
         "input": "0", "ctx": {"ge": 1}}]


def test_path_parameters_typed_and_untyped_routes():
    with client_for(header_app()) as c:
        assert c.get("/items/42").json() == {"item_id": 42}
        assert detail(c.get("/items/abc")) == [
            {"type": "int_parsing", "loc": ["path", "item_id"],
             "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "abc"}]
        assert c.get("/typed/7").json() == {"item_id": 7, "path": "/typed/7"}
        assert detail(c.get("/typed/0")) == [
            {"type": "greater_than_equal", "loc": ["path", "item_id"],
             "msg": "Input should be greater than or equal to 1", "input": 0, "ctx": {"ge": 1}}]
        assert c.get("/typed/abc").status_code == 404          # the converter does not match
        assert c.get("/files/a/b.txt?n=2").json() == {"name": "a/b.txt", "n": 2}


# -- bodies ------------------------------------------------------------------------------------------

ORDER = {"customer": {"id": 7, "name": "Ann"},
         "items": [{"sku": "A-1", "qty": 2, "price": 1.5}, {"sku": "B-2", "qty": 1, "price": 10.0}]}


def body_app(**settings):
    app = Catzilla(**settings)
    seen = []

    @app.post("/orders", status_code=201)
    def create(order: Order):
        seen.append(order)
        return {"customer": order.customer.id, "items": len(order.items),
                "total": round(sum(i.qty * i.price for i in order.items), 2)}

    @app.post("/async-orders")
    async def create_async(order: Order, request: Request, dry_run: bool = False):
        seen.append(order)
        return {"items": len(order.items), "dry_run": dry_run, "body_len": len(await request.body())}

    @app.post("/embedded")
    def embedded(item: Item, customer: Customer, note: str = Body("none"), count: int = Body(1, ge=1)):
        return {"sku": item.sku, "customer": customer.name, "note": note, "count": count}

    @app.post("/embed-one")
    async def embed_one(item: Item = Body(embed=True)):
        return {"sku": item.sku}

    @app.post("/optional")
    def optional(item: Optional[Item] = None):
        return {"item": None if item is None else item.sku}

    app.state_seen = seen
    return app


def test_body_whole_model():
    app = body_app()
    with client_for(app) as c:
        r = c.post("/orders", json=ORDER)
        assert r.status_code == 201, r.text
        assert r.json() == {"customer": 7, "items": 2, "total": 13.0}
        assert isinstance(app.state_seen[0], Order)
        r = c.post("/async-orders?dry_run=1", json=ORDER)
        assert r.json() == {"items": 2, "dry_run": True, "body_len": len(json.dumps(ORDER))}


def test_body_every_error_with_its_location():
    bad = {"customer": {"id": 0, "name": ""},
           "items": [{"sku": "A-1", "qty": 2, "price": 1.5}, {"sku": "bad", "qty": 0, "price": -1}]}
    with client_for(body_app()) as c:
        errors = detail(c.post("/orders", json=bad))
    assert {(e["type"], tuple(e["loc"])) for e in errors} == {
        ("greater_than_equal", ("body", "customer", "id")),
        ("string_too_short", ("body", "customer", "name")),
        ("string_pattern_mismatch", ("body", "items", 1, "sku")),
        ("greater_than_equal", ("body", "items", 1, "qty")),
        ("greater_than", ("body", "items", 1, "price")),
    }
    qty = next(e for e in errors if e["loc"] == ["body", "items", 1, "qty"])
    assert qty == {"type": "greater_than_equal", "loc": ["body", "items", 1, "qty"],
                   "msg": "Input should be greater than or equal to 1", "input": 0, "ctx": {"ge": 1}}


def test_missing_and_malformed_body():
    with client_for(body_app()) as c:
        assert detail(c.post("/orders")) == [{"type": "missing", "loc": ["body"], "msg": "Field required",
                                              "input": None}]
        errors = detail(c.post("/orders", content=b'{"customer": {"id": 1, "name": "x"}, "items": ',
                               headers={"content-type": "application/json"}))
        assert len(errors) == 1 and errors[0]["type"] == "json_invalid"
        assert errors[0]["loc"][0] == "body" and isinstance(errors[0]["loc"][1], int)
        assert "error" in errors[0]["ctx"]
        # malformed after a value of the wrong type: still the one json_invalid error
        errors = detail(c.post("/orders", content=b'{"customer": 1', headers={"content-type": "application/json"}))
        assert [(e["type"], e["loc"]) for e in errors] == [("json_invalid", ["body", 14])]
        assert c.post("/optional").json() == {"item": None}
        assert c.post("/optional", json={"sku": "C-3", "qty": 1, "price": 2}).json() == {"item": "C-3"}


def test_body_errors_and_query_errors_together():
    with client_for(body_app()) as c:
        errors = detail(c.post("/async-orders?dry_run=perhaps", json={"customer": {"id": 1, "name": "x"}}))
    assert [(e["type"], e["loc"]) for e in errors] == [("bool_parsing", ["query", "dry_run"]),
                                                       ("missing", ["body", "items"])]


def test_embedded_bodies():
    with client_for(body_app()) as c:
        r = c.post("/embedded", json={"item": {"sku": "A-1", "qty": 1, "price": 2}, "customer": {"id": 1, "name": "B"},
                                      "note": "hi"})
        assert r.json() == {"sku": "A-1", "customer": "B", "note": "hi", "count": 1}
        errors = detail(c.post("/embedded", json={"item": {"sku": "A-1", "qty": 0, "price": 2}, "count": 0}))
        assert {(e["type"], tuple(e["loc"])) for e in errors} == {
            ("greater_than_equal", ("body", "item", "qty")), ("missing", ("body", "customer")),
            ("greater_than_equal", ("body", "count"))}
        assert c.post("/embed-one", json={"item": {"sku": "Z-9", "qty": 1, "price": 1}}).json() == {"sku": "Z-9"}
        assert detail(c.post("/embed-one", json={"sku": "Z-9", "qty": 1, "price": 1})) == [
            {"type": "missing", "loc": ["body", "item"], "msg": "Field required",
             "input": {"sku": "Z-9", "qty": 1, "price": 1}}]


def test_a_body_over_max_body_is_413_before_parsing():
    app = body_app(max_body=64)
    with client_for(app) as c:
        r = c.post("/async-orders", json=ORDER)
        assert r.status_code == 413
        r = c.post("/orders", json=ORDER)
        assert r.status_code == 413
    assert app.state_seen == []


def test_plan_introspection():
    app = body_app()
    routes = {r.path: r for r in app.router.routes}
    plan = routes["/embedded"].plan
    assert plan.body.embed and {p.name for p in plan.body.params} == {"item", "customer", "note", "count"}
    assert plan.body.annotation.__name__.startswith("Body_")
    assert routes["/orders"].plan.body.annotation is Order and not routes["/orders"].plan.body.embed
    assert routes["/orders"].plan.operation["status_code"] == 201
    # FastAPI's rule: a bare list (like a model) is the body; Query() makes it a query parameter
    bare = compile_endpoint(lambda ids: ids, ())
    assert bare is None                                       # an untyped lambda
    def lists(ids: list[int], tags: Annotated[list[str], Query()] = []):
        return ids
    plan = compile_endpoint(lists)
    assert plan.body.annotation == list[int] and [p.source for p in plan.params] == ["query"]
    search = search_app().router.routes[0].plan
    assert [(p.name, p.source, p.key, p.required, p.is_list) for p in search.params] == [
        ("q", "query", "q", True, False), ("limit", "query", "limit", False, False),
        ("offset", "query", "offset", False, False), ("tags", "query", "tags", False, True),
        ("ratio", "query", "ratio", False, False), ("exact", "query", "exact", False, False)]
    assert search.params[1].info.le == 100 and search.params[1].default == 10
    assert search.params[3].annotation == list[str]


# -- forms and files ---------------------------------------------------------------------------------

def multipart(fields, files, boundary="XyZ"):
    out = b""
    for name, value in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    for name, filename, data, ctype in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                f"Content-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), {"content-type": f"multipart/form-data; boundary={boundary}"}


def form_app():
    app = Catzilla()

    @app.post("/login")
    def login(username: str = Form(min_length=2), password: str = Form(), remember: bool = Form(False)):
        return {"user": username, "remember": remember, "len": len(password)}

    @app.post("/upload")
    async def upload(title: str = Form(), file: UploadFile = File(), extra: list[UploadFile] = File([]),
                     raw: Optional[bytes] = File(None)):
        content = await file.read()
        return {"title": title, "name": file.filename, "type": file.content_type, "size": file.size,
                "content": content.decode(), "extra": [f.filename for f in extra],
                "raw": raw.decode() if raw is not None else None}

    @app.post("/upload-sync")
    def upload_sync(file: UploadFile):
        return {"name": file.filename, "content": file.read().decode()}
    return app


def test_urlencoded_form_fields():
    with client_for(form_app()) as c:
        assert c.post("/login", data={"username": "ann", "password": "pw", "remember": "on"}).json() == \
            {"user": "ann", "remember": True, "len": 2}
        errors = detail(c.post("/login", data={"username": "a", "password": ""}))
    assert errors == [
        {"type": "string_too_short", "loc": ["body", "username"], "msg": "String should have at least 2 characters",
         "input": "a", "ctx": {"min_length": 2}},
        {"type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": None}]


def test_multipart_files_async_and_sync():
    body, headers = multipart([("title", "doc")], [("file", "a.txt", b"hello", "text/plain"),
                                                    ("extra", "b.bin", b"\x00\x01", "application/octet-stream"),
                                                    ("extra", "c.bin", b"\x02", "application/octet-stream"),
                                                    ("raw", "r.txt", b"rawdata", "text/plain")])
    with client_for(form_app()) as c:
        r = c.post("/upload", content=body, headers=headers)
        assert r.json() == {"title": "doc", "name": "a.txt", "type": "text/plain", "size": 5, "content": "hello",
                            "extra": ["b.bin", "c.bin"], "raw": "rawdata"}
        body, headers = multipart([("title", "doc")], [])
        assert detail(c.post("/upload", content=body, headers=headers)) == [
            {"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": None}]
        body, headers = multipart([("file", "not a file")], [])
        errors = detail(c.post("/upload-sync", content=body, headers=headers))
        assert errors[0]["type"] == "value_error" and errors[0]["loc"] == ["body", "file"]
        body, headers = multipart([], [("file", "s.txt", b"sync", "text/plain")])
        assert c.post("/upload-sync", content=body, headers=headers).json() == {"name": "s.txt", "content": "sync"}


# -- errors: the app's handler, definition mistakes -------------------------------------------------

def test_request_validation_error_handled_by_the_app():
    app = search_app()
    caught = []

    @app.exception_handler(RequestValidationError)
    def on_invalid(request, exc):
        caught.append(exc)
        return JSONResponse({"problems": len(exc.errors()), "path": request.path}, 400)

    @app.exception_handler(500)
    def on_500(request, exc):            # a validation error is the client's: never a 500
        return JSONResponse({"server": True}, 500)

    with client_for(app) as c:
        r = c.get("/search?limit=x")
        assert r.status_code == 400 and r.json() == {"problems": 2, "path": "/search"}
    assert caught[0].errors()[0]["loc"] == ("query", "q")


def test_validation_error_is_not_a_500_without_handlers():
    app = search_app()

    @app.exception_handler(500)
    def on_500(request, exc):
        return JSONResponse({"server": True}, 500)

    @app.exception_handler(Exception)
    def on_any(request, exc):            # a catch-all is for the server's errors, as in FastAPI
        return JSONResponse({"any": True}, 500)

    with client_for(app) as c:
        assert c.get("/search").status_code == 422


def test_definition_mistakes_raise_at_registration_naming_the_handler():
    app = Catzilla()

    def missing_path(item_id: int = Path()):
        return {}
    with pytest.raises(TypeError, match="missing_path.*'item_id' is not in the route"):
        app.get("/items")(missing_path)

    class Opaque:
        def __init__(self, x):
            self.x = x

    def opaque(thing: Opaque):
        return {}
    with pytest.raises(TypeError, match="opaque.*thing.*cannot be validated"):
        app.post("/opaque")(opaque)

    def default_twice(q: Annotated[int, Query(5)] = 3):
        return {}
    with pytest.raises(TypeError, match="default_twice.*Annotated"):
        app.get("/twice")(default_twice)

    async def ws_body(ws, item: Item):
        return None
    with pytest.raises(TypeError, match="ws_body.*no request body"):
        app.websocket("/ws")(ws_body)

    async def ws_request(request: Request):
        return None
    with pytest.raises(TypeError, match="ws_request.*called with a WebSocket"):
        app.websocket("/ws")(ws_request)

    def http_socket(ws: WebSocket):
        return None
    with pytest.raises(TypeError, match="http_socket.*called with a Request"):
        app.get("/sock")(http_socket)

    def bad_option(q: int):
        return {}
    with pytest.raises(TypeError, match="bad_option.*unknown route option 'summmary'"):
        compile_endpoint(bad_option, summmary="x")

    def bool_constraint(flag: bool = Query(False, ge=1)):
        return {}
    with pytest.raises(TypeError, match="bool_constraint.*constraints"):
        app.get("/flag")(bool_constraint)
    assert app.router.routes == []


def test_markers_are_field_infos_checked_where_they_are_written():
    # Query(...) and Field(...) are one kind of object (FastAPI's: Param subclasses FieldInfo),
    # with the same argument checks, made when the marker or the model field is written
    from catzilla.models import FieldInfo
    q = Query(10, ge=1, le=100, description="page size", regex=r"^\d+$", example=5)
    assert isinstance(q, FieldInfo) and isinstance(Field(), FieldInfo) and not isinstance(Field(), Query)
    assert (q.default, q.ge, q.le, q.pattern, q.examples, q.source, q.required) == \
        (10, 1, 100, r"^\d+$", [5], "query", False)
    assert q.constraints() == {"ge": 1, "le": 100, "pattern": r"^\d+$"} and Query().required and Body(...).required
    for make in (Field, Query, Body):
        with pytest.raises(TypeError, match="default or a default_factory, not both"):
            make(1, default_factory=list)
        with pytest.raises(TypeError, match="min_length must be an int >= 0"):
            make(min_length=-1)
        with pytest.raises(TypeError, match="ge must be a number"):
            make(ge="1")
        with pytest.raises(TypeError, match="multiple_of must be a number"):
            make(multiple_of=datetime.date(2020, 1, 1))
        with pytest.raises(TypeError, match="pattern must be a str"):
            make(pattern=1)
        with pytest.raises(re.error):
            make(pattern="(")
        with pytest.raises(TypeError, match="give pattern or regex, not both"):
            make(pattern="a", regex="b")
    with pytest.raises(AttributeError):
        q.ge = 2                                  # read-only: one marker may serve many routes


def test_untyped_endpoints_get_no_plan():
    app = Catzilla()

    @app.get("/a")
    def a(request):
        return "a"

    @app.get("/b/{x}/{y:int}")
    def b(request, x, y):
        return {"x": x, "y": y}

    @app.get("/c/{y:int}")
    def c(request: Request, y: int) -> dict:
        return {"y": y}

    @app.get("/d")
    def d():
        return {"d": 1}

    plans = {r.path: r.plan for r in app.router.routes}
    assert plans["/a"] is None and plans["/b/{x}/{y:int}"] is None and plans["/c/{y:int}"] is None
    assert plans["/d"] is not None                            # no request parameter: FastAPI style
    with client_for(app) as client:
        assert client.get("/b/q/3").json() == {"x": "q", "y": 3}
        assert client.get("/d").json() == {"d": 1}


# -- responses ---------------------------------------------------------------------------------------

class UserIn(BaseModel):
    name: str
    email: str
    password: str


class UserOut(BaseModel):
    name: str
    email: str


def response_app():
    app = Catzilla()

    @app.post("/users", response_model=UserOut, status_code=201)
    def create_user(user: UserIn):
        return user

    @app.get("/users/me")
    def me() -> UserOut:
        return {"name": "ann", "email": "a@x", "password": "secret"}

    @app.get("/users")
    async def users() -> list[UserOut]:
        return [UserIn(name="a", email="a@x", password="p1"), UserIn(name="b", email="b@x", password="p2")]

    @app.get("/items/{n:int}")
    def item(n: int, q: str = "x") -> Item:
        return Item(sku=f"A-{n}", qty=n, price=1.0)

    @app.delete("/items/{n:int}", status_code=204)
    def delete_item(n: int, q: str = "x"):
        return None

    @app.put("/items/{n:int}", status_code=204, response_model=Item)
    def put_item(n: int):
        return None

    @app.get("/maybe")
    def maybe(found: bool = False) -> Optional[UserOut]:
        return UserOut(name="m", email="m@x") if found else None

    @app.get("/html", response_class=HTMLResponse)
    def html(name: str = "world"):
        return f"<p>{name}</p>"

    @app.get("/raw", tags=["misc"], summary="a raw response", responses={404: {"description": "gone"}},
             deprecated=True, operation_id="rawOp", include_in_schema=False, description="raw")
    def raw(request):
        return JSONResponse({"raw": True}, 202)
    return app


def test_response_model_filters_and_status_code():
    with client_for(response_app()) as c:
        r = c.post("/users", json={"name": "ann", "email": "a@x", "password": "secret"})
        assert r.status_code == 201 and r.json() == {"name": "ann", "email": "a@x"}
        assert "secret" not in r.text
        assert c.get("/users/me").json() == {"name": "ann", "email": "a@x"}
        r = c.get("/users")
        assert r.json() == [{"name": "a", "email": "a@x"}, {"name": "b", "email": "b@x"}]
        assert "p1" not in r.text
        r = c.get("/items/5")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.json() == {"sku": "A-5", "qty": 5, "price": 1.0}
        r = c.delete("/items/5")
        assert r.status_code == 204 and r.content == b""
        r = c.put("/items/5")
        assert r.status_code == 204 and r.content == b""
        r = c.get("/maybe")
        assert r.status_code == 200 and r.content == b"null"
        assert c.get("/maybe?found=1").json() == {"name": "m", "email": "m@x"}
        r = c.get("/html?name=cat")
        assert r.headers["content-type"].startswith("text/html") and r.text == "<p>cat</p>"
        r = c.get("/raw")
        assert r.status_code == 202 and r.json() == {"raw": True}
    plans = {(r.methods, r.path): r.plan for r in response_app().router.routes}
    assert plans[(("POST",), "/users")].response_type is UserOut
    assert plans[(("GET",), "/users")].response_type == list[UserOut]
    assert plans[(("GET",), "/raw")].operation == {
        "response_model": None, "status_code": None, "responses": {404: {"description": "gone"}},
        "response_class": None, "tags": ["misc"], "summary": "a raw response", "description": "raw",
        "deprecated": True, "operation_id": "rawOp", "include_in_schema": False}


# -- typed streams -----------------------------------------------------------------------------------

class Token(BaseModel):
    text: str
    index: int


class Prompt(BaseModel):
    prompt: str = Field(min_length=1)
    n: int = Field(ge=1, le=5)


def stream_app():
    app = Catzilla()

    @app.get("/tokens.jsonl")
    async def tokens(n: int = Query(3, ge=1)) -> AsyncIterable[Token]:
        for i in range(n):
            yield Token(text=f"t{i}", index=i)

    @app.get("/sync.jsonl")
    def sync_tokens(n: int = 2) -> Iterable[Token]:
        for i in range(n):
            yield Token(text=f"s{i}", index=i)

    @app.get("/raw-chunks")
    def raw_chunks(request) -> Iterable[str]:       # raw text chunks, typed for mypy: no JSONL
        yield "a"
        yield "b"

    @app.post("/v1/completions", response_class=EventSourceResponse)
    async def complete(req: Prompt) -> AsyncIterable[Token]:
        for i in range(req.n):
            yield Token(text=req.prompt[: i + 1], index=i)
        yield ServerSentEvent(event="done", data="[DONE]")
    return app


def test_typed_generator_streams_jsonl():
    with client_for(stream_app()) as c:
        r = c.get("/tokens.jsonl?n=3")
        assert r.status_code == 200 and r.headers["content-type"] == "application/jsonl"
        assert [json.loads(line) for line in r.text.splitlines()] == [
            {"text": "t0", "index": 0}, {"text": "t1", "index": 1}, {"text": "t2", "index": 2}]
        assert r.text.endswith("\n")
        assert c.get("/sync.jsonl").text == '{"text":"s0","index":0}\n{"text":"s1","index":1}\n'
        assert detail(c.get("/tokens.jsonl?n=0"))[0]["loc"] == ["query", "n"]
        r = c.get("/raw-chunks")
        assert r.headers["content-type"].startswith("text/plain") and r.text == "ab"
    plan = stream_app().router.routes[0].plan
    assert plan.stream == ("jsonl", Token)


def test_typed_generator_streams_sse():
    with client_for(stream_app()) as c:
        r = c.post("/v1/completions", json={"prompt": "hey", "n": 2})
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.text == ('data: {"text":"h","index":0}\n\ndata: {"text":"he","index":1}\n\n'
                          'event: done\ndata: [DONE]\n\n')
        errors = detail(c.post("/v1/completions", json={"prompt": "", "n": 9}))
        assert {tuple(e["loc"]) for e in errors} == {("body", "prompt"), ("body", "n")}
    routes = {r.path: r for r in stream_app().router.routes}
    assert routes["/v1/completions"].plan.stream == ("sse", Token)
    assert routes["/raw-chunks"].plan is None


# -- WebSocket parameters ------------------------------------------------------------------------------

def ws_app():
    app = Catzilla()

    @app.websocket("/rooms/{room:int}")
    async def room(websocket: WebSocket, room: Annotated[int, Path(ge=1)], name: str = Query(min_length=2),
                   x_client: Optional[str] = Header(None)):
        await websocket.accept()
        await websocket.send_json({"room": room, "name": name, "client": x_client,
                                   "path_params": websocket.path_params})
        await websocket.close()

    @app.websocket("/late/{key}")
    async def late(key: str, ws: WebSocket, n: int = 1):       # the socket by annotation, not first
        await ws.accept()
        await ws.send_json({"key": key, "n": n})
        await ws.close()

    @app.websocket("/plain/{key}")
    async def plain(ws, key, q: int = 0):
        await ws.accept()
        await ws.send_json({"key": key, "q": q})
        await ws.close()
    return app


def test_websocket_parameters():
    with client_for(ws_app()) as c:
        with c.websocket_connect("/rooms/3?name=ann", headers={"X-Client": "cli"}) as ws:
            assert ws.receive_json() == {"room": 3, "name": "ann", "client": "cli", "path_params": {"room": 3}}
        with c.websocket_connect("/plain/k?q=4") as ws:
            assert ws.receive_json() == {"key": "k", "q": 4}
        with c.websocket_connect("/late/z?n=2") as ws:
            assert ws.receive_json() == {"key": "z", "n": 2}
        with pytest.raises(WebSocketRejected) as info:
            c.websocket_connect("/rooms/0?name=a")
        assert info.value.response.status_code == 422
        assert [e["loc"] for e in info.value.response.json()["detail"]] == [["path", "room"], ["query", "name"]]


# -- sync, async, blocking ----------------------------------------------------------------------------

def test_sync_async_and_blocking_endpoints_get_their_arguments():
    import threading
    app = Catzilla()
    loop_thread = []

    @app.get("/sync")
    def sync(n: int, request: Request):
        return {"n": n, "thread": threading.current_thread() is loop_thread[0]}

    @app.get("/async")
    async def async_(n: int):
        await asyncio.sleep(0)
        return {"n": n, "thread": threading.current_thread() is loop_thread[0]}

    @app.get("/blocking", blocking=True)
    def blocking(n: int, request: Request) -> Item:
        return Item(sku=f"B-{n}", qty=n, price=1)

    @app.get("/blocking-thread", blocking=True)
    def blocking_thread(n: int):
        return {"n": n, "thread": threading.current_thread() is loop_thread[0]}

    @app.before_request
    def remember(request):
        loop_thread[:] = [threading.current_thread()]

    with client_for(app) as c:
        assert c.get("/sync?n=1").json() == {"n": 1, "thread": True}
        assert c.get("/async?n=2").json() == {"n": 2, "thread": True}
        assert c.get("/blocking?n=3").json() == {"sku": "B-3", "qty": 3, "price": 1.0}
        assert c.get("/blocking-thread?n=4").json() == {"n": 4, "thread": False}
        assert detail(c.get("/blocking?n=x"))[0]["loc"] == ["query", "n"]


def test_router_prefix_carries_and_recompiles_plans():
    api = Router("/api")

    @api.get("/items/{item_id}", tags=["items"])
    def get_item(item_id: int, q: Optional[str] = None):
        return {"item_id": item_id, "q": q}

    assert api.add_route(Route("/other/{n}", lambda request, n: {"n": n})).plan is None
    assert api.add_route(Route("/bare/{n}", lambda n: {"n": n})).plan is not None     # no request parameter
    app = Catzilla()
    app.include_router(api)
    app.include_router(api, prefix="/v/{version:int}")
    routes = {r.path: r for r in app.router.routes}
    assert routes["/api/items/{item_id}"].plan is api.routes[0].plan          # carried
    recompiled = routes["/v/{version:int}/api/items/{item_id}"].plan
    assert recompiled is not None and recompiled.operation["tags"] == ["items"]
    with client_for(app) as c:
        assert c.get("/api/items/3?q=z").json() == {"item_id": 3, "q": "z"}
        assert c.get("/v/2/api/items/4").json() == {"item_id": 4, "q": None}
        assert c.get("/api/other/x").json() == {"n": "x"}
        assert c.get("/api/bare/y").json() == {"n": "y"}


# -- background tasks ----------------------------------------------------------------------------

def test_background_tasks_run_after_the_response_in_order():
    import threading
    from catzilla import BackgroundTasks
    app = Catzilla()
    log = []
    finished = asyncio.Event()
    loop_thread = []

    def write(entry):                                 # a def task: on a worker thread
        log.append((entry, threading.current_thread() is loop_thread[0]))

    def broken():
        raise RuntimeError("logged, and the next task runs")

    async def notify(entry):                          # an async task: on the loop
        log.append((entry, threading.current_thread() is loop_thread[0]))
        finished.set()

    @app.post("/signup")
    async def signup(email: str, tasks: BackgroundTasks):
        loop_thread[:] = [threading.current_thread()]
        tasks.add_task(write, f"welcome {email}")
        tasks.add_task(broken)
        tasks.add_task(notify, entry=f"notified {email}")
        log.append(("answered", True))
        return {"ok": True}

    @app.post("/sync-signup")
    def sync_signup(email: str, tasks: BackgroundTasks):
        tasks.add_task(notify, f"sync {email}")
        return {"ok": True}

    @app.post("/fails")
    def fails(tasks: BackgroundTasks):
        tasks.add_task(write, "never")
        raise ValueError("the endpoint failed: its tasks do not run")

    @app.get("/wait")
    async def wait():
        await asyncio.wait_for(finished.wait(), 10)
        finished.clear()
        return {"log": [entry for entry, _ in log]}

    with client_for(app) as c:
        assert c.post("/signup?email=a@x").json() == {"ok": True}
        assert c.get("/wait").json() == {"log": ["answered", "welcome a@x", "notified a@x"]}
        assert log == [("answered", True), ("welcome a@x", False), ("notified a@x", True)]
        assert c.post("/fails").status_code == 500
        assert c.post("/sync-signup?email=b@x").json() == {"ok": True}
        assert c.get("/wait").json()["log"][-1] == "sync b@x"
    assert "never" not in [entry for entry, _ in log]
    assert app.router.routes[0].plan.background == "tasks"
