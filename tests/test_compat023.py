"""An app written for Catzilla 0.2.3's "auto-validation" (BaseModel, Field,
Query, Path, Header, Form, the request as the first parameter, JSONResponse
results) runs unchanged: the 0.2.3 names import from `catzilla` and keep
FastAPI's meaning. 0.2.3 answered tags=a&tags=b with "b"; a list parameter
now gets both."""
from typing import List, Optional

import pytest

from catzilla import (BaseModel, Catzilla, Field, Form, Header, JSONResponse, Path, Query, Request, Response,
                      UploadFile, File)
from catzilla.testing import TestClient

# ---------------------------------------------------------------- the 0.2.3-style application

app = Catzilla()


class UserProfile(BaseModel):
    id: int = Field(ge=1, le=1000000, description="User ID")
    username: str = Field(min_length=3, max_length=20, description="Username")
    age: int = Field(ge=13, le=120, description="User age")
    height: float = Field(gt=0.5, lt=3.0, description="Height in meters")
    is_active: bool = Field(default=True, description="Account status")
    bio: Optional[str] = Field(None, max_length=500, description="User biography")


class UserPreferences(BaseModel):
    favorite_colors: List[str] = Field(min_length=1, max_length=5)
    scores: List[float] = Field(default=[])


class CompanyAddress(BaseModel):
    street: str = Field(min_length=5, max_length=100)
    city: str = Field(min_length=2, max_length=50)


class Company(BaseModel):
    name: str = Field(min_length=2, max_length=100)
    employee_count: int = Field(ge=1, le=100000)
    revenue: Optional[float] = Field(None, ge=0.0)
    address: CompanyAddress


@app.get("/")
def home(request: Request) -> Response:
    return JSONResponse({"message": "Catzilla Parameter Validation Example"})


@app.get("/search")
def search_with_query_validation(
    request: Request,
    q: str = Query(..., min_length=1, max_length=100, description="Search query"),
    page: int = Query(1, ge=1, le=1000, description="Page number"),
    limit: int = Query(10, ge=1, le=100, description="Items per page"),
    sort: str = Query("relevance", regex=r"^(relevance|date|title)$", description="Sort order"),
    filters: Optional[List[str]] = Query(None, description="Optional filters"),
) -> Response:
    return JSONResponse({"query": q, "page": page, "limit": limit, "sort": sort, "filters": filters or []})


@app.get("/api/data")
def get_data_with_headers(
    request: Request,
    user_agent: str = Header(..., description="User agent header"),
    authorization: str = Header(..., regex=r"^Bearer [A-Za-z0-9\-_]+$", description="Authorization token"),
    x_api_version: str = Header("v1", alias="X-API-Version", description="API version"),
    x_request_id: Optional[str] = Header(None, alias="X-Request-ID", description="Request ID"),
) -> Response:
    token = authorization.replace("Bearer ", "")
    return JSONResponse({"user_agent": user_agent, "token_length": len(token), "api_version": x_api_version,
                         "request_id": x_request_id})


@app.post("/users/{user_id}/profile")
def update_user_profile(
    request: Request,
    user_id: int = Path(..., ge=1, le=1000000, description="User ID"),
    name: str = Form(..., min_length=2, max_length=50, description="Full name"),
    email: str = Form(..., regex=r"^[^@]+@[^@]+\.[^@]+$", description="Email address"),
    age: int = Form(..., ge=13, le=120, description="User age"),
    bio: Optional[str] = Form(None, max_length=500, description="User biography"),
    newsletter: bool = Form(False, description="Subscribe to newsletter"),
) -> Response:
    return JSONResponse({"id": user_id, "name": name, "email": email, "age": age, "bio": bio,
                         "newsletter": newsletter})


@app.get("/products/{category}")
def get_products(
    request: Request,
    category: str = Path(..., regex=r"^(electronics|books|clothing|sports)$", description="Product category"),
    min_price: Optional[float] = Query(None, ge=0.0, description="Minimum price"),
    in_stock: bool = Query(True, description="Only show in-stock items"),
) -> Response:
    return JSONResponse({"category": category, "min_price": min_price, "in_stock": in_stock})


@app.post("/users")
def create_user(request, user: UserProfile) -> Response:
    return JSONResponse({"message": "User created successfully", "user": {"id": user.id, "username": user.username,
                                                                          "age": user.age, "bio": user.bio}},
                        status_code=201)


@app.put("/users/{user_id}/preferences")
def update_preferences(request, user_id: int = Path(..., description="User ID", ge=1),
                       preferences: UserPreferences = None) -> Response:
    return JSONResponse({"user_id": user_id,
                         "favorite_colors": preferences.favorite_colors if preferences else []})


@app.post("/companies")
def create_company(request, company: Company) -> Response:
    return JSONResponse({"name": company.name, "city": company.address.city}, status_code=201)


@app.post("/upload")
def upload(request, file: UploadFile = File(...), note: str = Form("")) -> Response:
    return JSONResponse({"filename": file.filename, "size": file.size, "note": note})


@app.get("/legacy/{slug}")
def legacy(request, slug):                      # untouched: no plan, today's call
    return JSONResponse({"slug": slug, "q": request.query_params.get("q")})

# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    with TestClient(app) as c:
        yield c


def test_home_and_legacy_untyped(client):
    assert client.get("/").json() == {"message": "Catzilla Parameter Validation Example"}
    assert client.get("/legacy/x?q=1").json() == {"slug": "x", "q": "1"}
    assert {r.path: r.plan for r in app.router.routes}["/legacy/{slug}"] is None


def test_query_validation(client):
    r = client.get("/search?q=python&page=2&limit=20&sort=date&filters=tutorial&filters=advanced")
    assert r.json() == {"query": "python", "page": 2, "limit": 20, "sort": "date",
                        "filters": ["tutorial", "advanced"]}
    r = client.get("/search?q=&page=0&sort=random")
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
        ("string_too_short", ["query", "q"]), ("greater_than_equal", ["query", "page"]),
        ("string_pattern_mismatch", ["query", "sort"])]


def test_header_validation(client):
    r = client.get("/api/data", headers={"User-Agent": "CatzillaClient/1.0", "Authorization": "Bearer abc123def456",
                                         "X-API-Version": "v2", "X-Request-ID": "req-12345"})
    assert r.json() == {"user_agent": "CatzillaClient/1.0", "token_length": 12, "api_version": "v2",
                        "request_id": "req-12345"}
    r = client.get("/api/data", headers={"Authorization": "Basic x", "x-api-version": "v3"})
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
        ("missing", ["header", "user-agent"]), ("string_pattern_mismatch", ["header", "authorization"])]
    r = client.get("/api/data", headers={"user-agent": "u", "authorization": "Bearer t", "x-api-version": "v3"})
    assert r.json()["api_version"] == "v3"                   # an alias matches in any case


def test_path_and_form_validation(client):
    r = client.post("/users/123/profile", data={"name": "John Doe", "email": "john@example.com", "age": "25",
                                                "newsletter": "true"})
    assert r.json() == {"id": 123, "name": "John Doe", "email": "john@example.com", "age": 25, "bio": None,
                        "newsletter": True}
    r = client.post("/users/0/profile", data={"name": "J", "email": "nope", "age": "7"})
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
        ("greater_than_equal", ["path", "user_id"]), ("string_too_short", ["body", "name"]),
        ("string_pattern_mismatch", ["body", "email"]), ("greater_than_equal", ["body", "age"])]
    assert client.get("/products/books?min_price=10&in_stock=false").json() == {
        "category": "books", "min_price": 10.0, "in_stock": False}
    assert client.get("/products/food").status_code == 422


def test_models_as_bodies(client):
    r = client.post("/users", json={"id": 123, "username": "john_doe", "age": 25, "height": 1.75})
    assert r.status_code == 201
    assert r.json()["user"] == {"id": 123, "username": "john_doe", "age": 25, "bio": None}
    r = client.post("/users", json={"id": 0, "username": "jo", "age": 150, "height": -1.0, "is_active": "maybe"})
    assert {(e["type"], tuple(e["loc"])) for e in r.json()["detail"]} == {
        ("greater_than_equal", ("body", "id")), ("string_too_short", ("body", "username")),
        ("less_than_equal", ("body", "age")), ("greater_than", ("body", "height")),
        ("bool_parsing", ("body", "is_active"))}
    assert client.put("/users/5/preferences", json={"favorite_colors": ["blue"]}).json() == {
        "user_id": 5, "favorite_colors": ["blue"]}
    assert client.put("/users/5/preferences").json() == {"user_id": 5, "favorite_colors": []}
    r = client.post("/companies", json={"name": "Tech", "employee_count": 50,
                                        "address": {"street": "123 Innovation Drive", "city": "SF"}})
    assert r.status_code == 201 and r.json() == {"name": "Tech", "city": "SF"}
    r = client.post("/companies", json={"name": "Tech", "employee_count": 50, "address": {"street": "x", "city": "SF"}})
    assert r.json()["detail"][0]["loc"] == ["body", "address", "street"]


def test_file_upload(client):
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nhello\r\n--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"
            b"n1\r\n--B--\r\n")
    r = client.post("/upload", content=body, headers={"content-type": "multipart/form-data; boundary=B"})
    assert r.json() == {"filename": "a.txt", "size": 5, "note": "n1"}
