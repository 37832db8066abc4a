"""The OpenAPI document (catzilla/openapi.py, app.openapi()) of a typed app
(tests/apps/typed_app.py), read from the routes' plans: parameters with their
constraints, bodies, responses and the 422, tags, operationIds, deprecations,
prefixes; WebSockets and hidden routes out; 3.1 unless a typed stream needs
3.2's itemSchema. openapi-spec-validator (3.1 and 3.2 validators) accepts
every document. Served at /openapi.json, Swagger UI at /docs, both over a
real socket."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
from typing import Annotated, List

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, OpenAPIV32SpecValidator, validate

from catzilla import Catzilla, CompressionMiddleware, HTMLResponse, Query, Router
from catzilla.openapi import get_openapi
from catzilla.testing import TestClient

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))
import typed_app  # noqa: E402

from procs import get, launcher  # noqa: E402

REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def doc():
    document = typed_app.make_app().openapi()
    json.dumps(document)                # plain JSON values only
    return document


def operation(doc, method, path):
    return doc["paths"][path][method]


def params(op):
    return {(p["in"], p["name"]): p for p in op.get("parameters", ())}


def resolve(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"][len(REF):]]
    return schema


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    validate(doc, cls=OpenAPIV31SpecValidator)
    validate(doc)                       # detected from "openapi"
    assert doc["info"] == {"title": "Typed shop", "version": "1.2.3", "description": "The OpenAPI tests' typed app."}
    assert doc["tags"] == [{"name": "orders", "description": "Buying things"}]
    assert "itemSchema" not in json.dumps(doc)


def test_paths_prefixes_converters_and_what_is_left_out(doc):
    assert sorted(doc["paths"]) == ["/colors/{color}", "/hello/{name}", "/items/{item_id}", "/old", "/orders",
                                    "/profile", "/search", "/upload", "/v1/orders/{order_id}"]
    assert list(doc["paths"]["/v1/orders/{order_id}"]) == ["delete"]      # the router's prefix, one method
    # no /ws (a WebSocket), no /hidden (include_in_schema=False), not the docs themselves


def test_query_parameters_with_constraints_defaults_and_lists(doc):
    op = operation(doc, "get", "/search")
    p = params(op)
    assert list(p) == [("query", "q"), ("query", "limit"), ("query", "offset"), ("query", "tags")]
    assert p["query", "q"]["required"] is True and p["query", "q"]["schema"]["type"] == "string"
    limit = p["query", "limit"]
    assert limit["required"] is False and limit["description"] == "page size"
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    assert p["query", "offset"]["schema"] == {"type": "integer", "minimum": 0, "default": 0}     # Annotated spelling
    assert p["query", "tags"]["schema"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert op["tags"] == ["search"] and op["summary"] == "Search"
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert resolve(doc, ok)["required"] == ["q", "limit", "offset", "tags"]


def test_path_header_and_cookie_parameters(doc):
    op = operation(doc, "get", "/items/{item_id}")
    p = params(op)
    assert p["path", "item_id"]["required"] is True
    assert p["path", "item_id"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 10000}
    token = p["header", "x-token"]                       # x_token -> x-token
    assert token["required"] is False
    assert token["schema"]["anyOf"] == [{"type": "string", "maxLength": 64}, {"type": "null"}]
    assert p["cookie", "session"]["required"] is False
    assert op["responses"]["404"]["description"] == "No such item"
    assert resolve(doc, op["responses"]["404"]["content"]["application/json"]["schema"])["required"] == ["detail"]
    item = resolve(doc, op["responses"]["200"]["content"]["application/json"]["schema"])
    assert item["properties"]["qty"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert item["properties"]["sku"]["pattern"] == "^[A-Z]-[0-9]+$"
    # a literal path parameter, and an untyped route's: from the router's converter
    assert params(operation(doc, "get", "/colors/{color}"))["path", "color"]["schema"]["enum"] == ["blue", "green", "red"]
    hello = operation(doc, "get", "/hello/{name}")
    assert hello["parameters"] == [{"name": "name", "in": "path", "required": True,
                                    "schema": {"type": "string", "minLength": 1}}]
    assert hello["responses"] == {"200": {"description": "Successful Response"}}      # untyped: no 422
    uuid = params(operation(doc, "delete", "/v1/orders/{order_id}"))["path", "order_id"]
    assert uuid["schema"] == {"type": "string", "format": "uuid"} and uuid["description"] == "the order's id"


def test_json_body_status_code_response_model_and_docstring(doc):
    op = operation(doc, "post", "/orders")
    assert op["summary"] == "Place an order" and op["tags"] == ["orders"]
    assert op["description"] == "Validates the order; answers its total."
    body = op["requestBody"]
    assert body["required"] is True and list(body["content"]) == ["application/json"]
    order = resolve(doc, body["content"]["application/json"]["schema"])
    assert order["required"] == ["customer", "items"]
    assert order["properties"]["items"]["minItems"] == 1 and order["properties"]["items"]["maxItems"] == 100
    customer = resolve(doc, order["properties"]["customer"])
    assert customer["properties"]["email"]["pattern"] == r"^[^@\s]+@[^@\s]+$"
    assert set(op["responses"]) == {"201", "422"}
    receipt = op["responses"]["201"]["content"]["application/json"]["schema"]
    assert receipt == {"$ref": REF + "Receipt"}
    no_content = operation(doc, "delete", "/v1/orders/{order_id}")["responses"]
    assert no_content["204"] == {"description": "Successful Response"}


def test_the_422_is_documented_like_fastapis_where_something_is_validated(doc):
    schemas = doc["components"]["schemas"]
    assert schemas["HTTPValidationError"]["properties"]["detail"] == {
        "title": "Detail", "type": "array", "items": {"$ref": REF + "ValidationError"}}
    assert schemas["ValidationError"]["required"] == ["loc", "msg", "type"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            validated = bool(op.get("parameters") or op.get("requestBody")) and path != "/hello/{name}"
            assert ("422" in op["responses"]) == validated, (method, path)
            if validated:
                assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
                    "$ref": REF + "HTTPValidationError"}


def test_form_and_file_bodies(doc):
    profile = operation(doc, "post", "/profile")["requestBody"]
    [(media, content)] = profile["content"].items()
    assert media == "application/x-www-form-urlencoded"
    form = resolve(doc, content["schema"])
    assert form["required"] == ["name", "age"]
    assert form["properties"]["age"] == {"type": "integer", "minimum": 0, "maximum": 150}
    upload = operation(doc, "post", "/upload")["requestBody"]
    [(media, content)] = upload["content"].items()
    assert media == "multipart/form-data"
    form = resolve(doc, content["schema"])
    assert form["properties"]["file"] == {"type": "string", "format": "binary", "description": "any file"}
    assert form["properties"]["title"] == {"type": "string", "maxLength": 100}


def test_operation_ids_are_unique_and_deprecation_is_shown(doc):
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == 9
    assert operation(doc, "get", "/search")["operationId"] == "search_search_get"
    assert operation(doc, "get", "/items/{item_id}")["operationId"] == "read_item_items__item_id__get"
    assert operation(doc, "get", "/old")["deprecated"] is True
    assert "deprecated" not in operation(doc, "get", "/search")


def test_same_names_and_explicit_operation_ids_stay_unique():
    app = Catzilla()
    a, b = Router(prefix="/a"), Router(prefix="/b")
    for router in (a, b):
        @router.get("/x", operation_id="fetch")
        def fetch(request, n: int = 1) -> int:
            return n
    app.include_router(a)
    app.include_router(b)
    with pytest.warns(UserWarning, match="duplicate operation_id 'fetch'"):
        document = app.openapi()
    assert [document["paths"][p]["get"]["operationId"] for p in ("/a/x", "/b/x")] == ["fetch", "fetch_2"]
    validate(document)


def test_typed_streams_make_a_3_2_document_with_item_schemas():
    document = typed_app.make_app(streams=True).openapi()
    assert document["openapi"] == "3.2.0"
    validate(document, cls=OpenAPIV32SpecValidator)
    sse = operation(document, "post", "/v1/completions")["responses"]["200"]["content"]
    event = sse["text/event-stream"]["itemSchema"]
    assert event["required"] == ["data"]
    assert event["properties"]["data"]["contentMediaType"] == "application/json"
    assert event["properties"]["data"]["contentSchema"] == {"$ref": REF + "Token"}
    jsonl = operation(document, "get", "/v1/items.jsonl")["responses"]["200"]["content"]
    assert jsonl == {"application/jsonl": {"itemSchema": {"$ref": REF + "Item"}}}


def test_openapi_version_setting():
    forced = Catzilla(openapi_version="3.2.0")

    @forced.get("/n")
    def n(request, k: int = 0) -> int:
        return k
    assert forced.openapi()["openapi"] == "3.2.0"
    validate(forced.openapi())
    # 3.1 asked for an app with typed streams: the streams are documented without their items
    app = typed_app.make_app(streams=True)
    app.settings = app.settings.replace(openapi_version="3.1.0")
    document = app.openapi()
    assert document["openapi"] == "3.1.0" and "itemSchema" not in json.dumps(document)
    assert operation(document, "get", "/v1/items.jsonl")["responses"]["200"]["content"] == {"application/jsonl": {}}
    validate(document, cls=OpenAPIV31SpecValidator)
    with pytest.raises(ValueError, match="openapi_version"):
        Catzilla(openapi_version="3.0.3")


def test_an_untyped_app_is_documented_too():
    app = Catzilla(servers=[{"url": "https://api.example.com"}])

    @app.route("/things/{id:signed_int}/{rest:path}", ["GET", "PUT"])
    def thing(request, id, rest):
        return "ok"
    document = app.openapi()
    validate(document)
    assert document["servers"] == [{"url": "https://api.example.com"}]
    item = document["paths"]["/things/{id}/{rest}"]
    assert set(item) == {"get", "put"} and item["get"]["operationId"] != item["put"]["operationId"]
    assert item["get"]["parameters"][0]["schema"] == {"type": "integer"}
    assert "components" not in document


def test_built_once_lazily_and_get_openapi_directly():
    app = Catzilla()

    @app.get("/a")
    def a(request, q: int = 1) -> int:
        return q
    first = app.openapi()
    assert app.openapi() is first
    @app.get("/b")
    def b(request):
        return ""
    assert "/b" not in app.openapi()["paths"]           # kept until app.openapi_schema = None
    app.openapi_schema = None
    assert "/b" in app.openapi()["paths"]
    direct = get_openapi(title="x", version="1", routes=app.router.routes)
    assert set(direct["paths"]) == {"/a", "/b"}


def test_served_over_a_socket_with_the_docs_page(tmp_path):
    shutil.copy(typed_app.__file__, tmp_path)
    with launcher(tmp_path) as run:
        server = run("typed_app:app")
        status, head, body = get(server.port, "/openapi.json")
        assert status == 200 and b"content-type: application/json" in head.lower()
        served = json.loads(body)
        assert served == typed_app.make_app().openapi()
        status, head, body = get(server.port, "/docs")
        assert status == 200 and b"text/html" in head.lower()
        assert b"swagger-ui-dist@5/swagger-ui-bundle.js" in body and b'"/openapi.json"' in body


def test_urls_configurable_and_off():
    app = Catzilla(openapi_url="/api/schema.json", docs_url="/api/docs", title="<Shop>",
                   swagger_js_url="/s/ui.js", swagger_css_url="/s/ui.css")

    @app.get("/x")
    def x(request):
        return "x"
    with TestClient(app) as client:
        assert client.get("/openapi.json").status_code == 404
        assert set(client.get("/api/schema.json").json()["paths"]) == {"/x"}       # not the docs routes
        page = client.get("/api/docs").text
        assert '<script src="/s/ui.js">' in page and 'href="/s/ui.css"' in page
        assert '"/api/schema.json"' in page and "&lt;Shop&gt; - Swagger UI" in page
    for kw, gone, kept in ((dict(docs_url=None), "/docs", "/openapi.json"),
                           (dict(openapi_url=None), "/openapi.json", None)):
        app = Catzilla(**kw)
        with TestClient(app) as client:
            assert client.get(gone).status_code == 404
            assert client.get("/docs").status_code == 404 or kept == "/docs"
            if kept:
                assert client.get(kept).status_code == 200
    with pytest.raises(ValueError, match="docs_url"):
        Catzilla(docs_url="docs")


def test_an_apps_own_route_wins_over_the_docs(tmp_path):
    app = Catzilla()

    @app.get("/docs")
    def mine(request):
        return "my docs"
    with TestClient(app) as client:
        assert client.get("/docs").text == "my docs"
        assert client.get("/openapi.json").json()["paths"]["/docs"]["get"]["operationId"] == "mine_docs_get"


def test_a_fastapi_apps_document_has_fastapis_names_and_pydantic_schemas():
    """The FastAPI app of test_fastapi_port (pydantic models, only its imports
    changed): FastAPI's operationIds, its Body_<operationId> for embedded bodies,
    pydantic's own schemas for the models."""
    import test_fastapi_port
    document = test_fastapi_port.app.openapi()
    validate(document, cls=OpenAPIV31SpecValidator)
    ops = {(m, p): op for p, item in document["paths"].items() for m, op in item.items()}
    assert ops["get", "/"]["operationId"] == "root__get"
    assert ops["get", "/items/"]["operationId"] == "read_items_items__get"
    assert ops["post", "/users/"]["operationId"] == "add_user_users__post"
    put = ops["put", "/items/{item_id}"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": REF + "Body_update_item_items__item_id__put"}
    body = resolve(document, put["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["item", "user", "importance"]
    assert body["properties"]["importance"] == {"type": "integer", "exclusiveMinimum": 0}
    item = document["components"]["schemas"]["Item"]           # pydantic's schema of the model
    assert item["properties"]["price"]["exclusiveMinimum"] == 0 and item["required"] == ["name", "price"]
    assert set(ops["post", "/items/"]["responses"]) == {"201", "422"}
    assert params(ops["get", "/search/"])["query", "item-query"]["schema"]["anyOf"][0]["pattern"] == "^fixedquery$"
    assert params(ops["get", "/headers/"])["header", "x-token"]["required"] is False


def test_list_bounds_examples_extras_hidden_parameters_and_response_classes():
    app = Catzilla()

    @app.get("/ids", response_class=HTMLResponse)
    def ids(request, id: Annotated[List[int], Query(ge=1, max_length=5, examples=[[1, 2]])] = [],
            debug: bool = Query(False, include_in_schema=False),
            q: str = Query("", json_schema_extra={"x-internal": True})) -> str:
        return "<p>ids</p>"
    document = app.openapi()
    validate(document)
    p = params(operation(document, "get", "/ids"))
    assert set(p) == {("query", "id"), ("query", "q")}                     # debug hidden
    assert p["query", "id"]["schema"] == {"type": "array", "items": {"type": "integer", "minimum": 1},
                                          "maxItems": 5, "default": [], "examples": [[1, 2]]}
    assert p["query", "q"]["schema"]["x-internal"] is True
    assert "content" not in operation(document, "get", "/ids")["responses"]["200"]     # text, no schema


def test_the_demos_document_is_valid():
    from examples.app import app as demo
    document = demo.openapi()
    validate(document, cls=OpenAPIV32SpecValidator)      # 3.2: its typed SSE stream
    assert document["paths"] and "/docs" not in document["paths"] and "/openapi.json" not in document["paths"]
    completions = operation(document, "post", "/v1/completions")
    body = completions["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CompletionRequest"}
    events = completions["responses"]["200"]["content"]["text/event-stream"]["itemSchema"]
    assert events["properties"]["data"]["contentSchema"] == {"$ref": "#/components/schemas/Token"}
    assert "422" in completions["responses"] and completions["tags"] == ["llm"]


def test_methods_a_path_item_has_no_field_for():
    for version in ("3.1.0", "3.2.0"):
        app = Catzilla(openapi_version=version)

        @app.route("/dav/{name}", ["GET", "PROPFIND", "CONNECT"])
        def dav(request, name):
            return ""
        document = app.openapi()
        validate(document)
        item = document["paths"]["/dav/{name}"]
        if version == "3.1.0":       # no way to say them in 3.1: left out
            assert set(item) == {"get"}
        else:
            assert set(item) == {"get", "additionalOperations"}
            assert set(item["additionalOperations"]) == {"PROPFIND", "CONNECT"}



def test_the_document_and_the_page_compress_on_every_request(tmp_path):
    # the docs routes once handed every request the same Response, which compression then
    # changed: the second compressed answer failed (a finished encoder)
    app = Catzilla(title="Gzip")
    app.add_middleware(CompressionMiddleware, minimum_size=0)

    @app.get("/n")
    def n(q: int = 0) -> dict:
        return {"q": q}
    with TestClient(app) as client:
        for _ in range(3):
            r = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
            assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
            assert json.loads(gzip.decompress(r.content)) == app.openapi()
            r = client.get("/docs", headers={"Accept-Encoding": "gzip"})
            assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
            assert gzip.decompress(r.content).startswith(b"<!doctype html>")
