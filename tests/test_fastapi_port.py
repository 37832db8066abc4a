"""A FastAPI application (pydantic models, Query/Path/Header/Cookie/Body,
response_model, status_code, an APIRouter, HTTPException) running on Catzilla
with only its import lines changed. The app below is written as FastAPI's
tutorial style writes it; the requests check FastAPI's answers, 422s
included."""
# --- the import lines: the only lines changed from the FastAPI original ---------------------------
# from fastapi import FastAPI, APIRouter, Body, Cookie, Header, HTTPException, Path, Query
from catzilla import Catzilla as FastAPI, Router as APIRouter, Body, Cookie, Header, HTTPException, Path, Query
# -------------------------------------------------------------------------------------------------
from enum import Enum
from typing import Annotated, Any, List, Optional, Union

from pydantic import BaseModel, Field

import pytest

from catzilla.testing import TestClient


class ModelName(str, Enum):
    alexnet = "alexnet"
    resnet = "resnet"
    lenet = "lenet"


class Image(BaseModel):
    url: str
    name: str


class Item(BaseModel):
    name: str
    description: Optional[str] = Field(default=None, max_length=300)
    price: float = Field(gt=0, description="The price must be greater than zero")
    tax: Optional[float] = None
    tags: List[str] = []
    images: Optional[List[Image]] = None


class User(BaseModel):
    username: str
    full_name: Optional[str] = None


class UserIn(BaseModel):
    username: str
    password: str
    email: str
    full_name: Optional[str] = None


class UserOut(BaseModel):
    username: str
    email: str
    full_name: Optional[str] = None


app = FastAPI()
router = APIRouter(prefix="/users")

fake_items_db = [{"item_name": "Foo"}, {"item_name": "Bar"}, {"item_name": "Baz"}]
stored_items = {"foo": {"name": "Foo", "price": 50.2}}


@app.get("/")
async def root():
    return {"message": "Hello World"}


@app.get("/models/{model_name}")
async def get_model(model_name: ModelName):
    if model_name is ModelName.alexnet:
        return {"model_name": model_name, "message": "Deep Learning FTW!"}
    if model_name.value == "lenet":
        return {"model_name": model_name, "message": "LeCNN all the images"}
    return {"model_name": model_name, "message": "Have some residuals"}


@app.get("/items/")
async def read_items(skip: int = 0, limit: int = 10):
    return fake_items_db[skip: skip + limit]


@app.get("/items/{item_id}")
async def read_item(item_id: Annotated[int, Path(title="The ID of the item to get", ge=1)],
                    q: Annotated[Union[str, None], Query(max_length=50)] = None, short: bool = False):
    item = {"item_id": item_id}
    if q:
        item.update({"q": q})
    if not short:
        item.update({"description": "This is an amazing item that has a long description"})
    return item


@app.post("/items/", response_model=Item, status_code=201)
async def create_item(item: Item):
    return item


@app.put("/items/{item_id}")
async def update_item(item_id: int, item: Item, user: User, importance: Annotated[int, Body(gt=0)],
                      q: Union[str, None] = None):
    results = {"item_id": item_id, "item": item, "user": user, "importance": importance}
    if q:
        results.update({"q": q})
    return results


@app.get("/stored/{item_id}", response_model=Item)
def read_stored(item_id: str):
    if item_id not in stored_items:
        raise HTTPException(status_code=404, detail="Item not found", headers={"X-Error": "There goes my error"})
    return stored_items[item_id]


@app.get("/headers/")
async def read_headers(user_agent: Annotated[Union[str, None], Header()] = None,
                       x_token: Annotated[Union[List[str], None], Header()] = None,
                       ads_id: Annotated[Union[str, None], Cookie()] = None):
    return {"User-Agent": user_agent, "X-Token values": x_token, "ads_id": ads_id}


@app.get("/search/")
def search(q: Annotated[List[str], Query(min_length=1)] = ["foo", "bar"],
           item_query: Annotated[Union[str, None], Query(alias="item-query", pattern="^fixedquery$")] = None):
    return {"q": q, "item_query": item_query}


@app.post("/user/", response_model=UserOut)
async def create_user(user: UserIn) -> Any:
    return user


@router.get("/{username}")
def read_user(username: str) -> User:
    return User(username=username, full_name=username.title())


@router.post("/", status_code=201)
def add_user(user: User, notify: bool = False) -> User:
    return user


app.include_router(router)


@pytest.fixture(scope="module")
def client():
    with TestClient(app) as c:
        yield c


def test_root_and_enum_path(client):
    assert client.get("/").json() == {"message": "Hello World"}
    assert client.get("/models/alexnet").json() == {"model_name": "alexnet", "message": "Deep Learning FTW!"}
    assert client.get("/models/lenet").json() == {"model_name": "lenet", "message": "LeCNN all the images"}
    r = client.get("/models/vgg")
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "enum", "loc": ["path", "model_name"],
                                   "msg": "Input should be 'alexnet', 'resnet' or 'lenet'", "input": "vgg",
                                   "ctx": {"expected": "'alexnet', 'resnet' or 'lenet'"}}]


def test_query_and_path_parameters(client):
    assert client.get("/items/?skip=1&limit=1").json() == [{"item_name": "Bar"}]
    assert client.get("/items/5?q=x&short=true").json() == {"item_id": 5, "q": "x"}
    r = client.get("/items/0?q=" + "x" * 51)
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
        ("greater_than_equal", ["path", "item_id"]), ("string_too_long", ["query", "q"])]
    assert client.get("/search/").json() == {"q": ["foo", "bar"], "item_query": None}
    assert client.get("/search/?q=a&q=b&item-query=fixedquery").json() == {"q": ["a", "b"],
                                                                           "item_query": "fixedquery"}
    r = client.get("/search/?item-query=other")
    assert r.json()["detail"][0]["type"] == "string_pattern_mismatch"


def test_pydantic_body_and_response_model(client):
    r = client.post("/items/", json={"name": "Foo", "price": 3.5, "tags": ["a"]})
    assert r.status_code == 201
    assert r.json() == {"name": "Foo", "description": None, "price": 3.5, "tax": None, "tags": ["a"],
                        "images": None}
    r = client.post("/items/", json={"name": "Foo", "price": -1, "images": [{"url": "u"}]})
    assert r.status_code == 422
    assert {(e["type"], tuple(e["loc"])) for e in r.json()["detail"]} == {
        ("greater_than", ("body", "price")), ("missing", ("body", "images", 0, "name"))}
    r = client.post("/user/", json={"username": "ann", "password": "hunter2", "email": "a@example.com"})
    assert r.json() == {"username": "ann", "email": "a@example.com", "full_name": None}
    assert "hunter2" not in r.text


def test_several_body_parameters_are_embedded(client):
    r = client.put("/items/3?q=z", json={"item": {"name": "Foo", "price": 1}, "user": {"username": "ann"},
                                         "importance": 5})
    assert r.json() == {"item_id": 3, "item": {"name": "Foo", "description": None, "price": 1.0, "tax": None,
                                               "tags": [], "images": None},
                        "user": {"username": "ann", "full_name": None}, "importance": 5, "q": "z"}
    r = client.put("/items/3", json={"item": {"name": "Foo", "price": 1}, "importance": 0})
    assert {(e["type"], tuple(e["loc"])) for e in r.json()["detail"]} == {
        ("missing", ("body", "user")), ("greater_than", ("body", "importance"))}


def test_http_exception_and_stored_model(client):
    assert client.get("/stored/foo").json() == {"name": "Foo", "description": None, "price": 50.2, "tax": None,
                                                "tags": [], "images": None}
    r = client.get("/stored/bar")
    assert r.status_code == 404 and r.json() == {"detail": "Item not found"}
    assert r.headers["x-error"] == "There goes my error"


def test_headers_and_cookies(client):
    r = client.get("/headers/", headers=[("User-Agent", "tests"), ("X-Token", "a"), ("X-Token", "b"),
                                         ("Cookie", "ads_id=42")])
    assert r.json() == {"User-Agent": "tests", "X-Token values": ["a", "b"], "ads_id": "42"}
    assert client.get("/headers/").json() == {"User-Agent": None, "X-Token values": None, "ads_id": None}


def test_router_with_prefix(client):
    assert client.get("/users/ann").json() == {"username": "ann", "full_name": "Ann"}
    r = client.post("/users/?notify=1", json={"username": "bob"})
    assert r.status_code == 201 and r.json() == {"username": "bob", "full_name": None}
