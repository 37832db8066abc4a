"""Security schemes as dependencies (catzilla/security.py), over real sockets
(the `serve` fixture): credentials read, 401 challenges, auto_error=False, and
the OpenAPI document's securitySchemes / security requirements, validated."""
import base64

import pytest
from openapi_spec_validator import validate

from catzilla import (APIKeyCookie, APIKeyHeader, APIKeyQuery, Catzilla, Depends, HTTPAuthorizationCredentials,
                      HTTPBasic, HTTPBasicCredentials, HTTPBearer, Query, Security)
from wire import get

pytestmark = pytest.mark.timeout(30)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def addr(serve):
    app = Catzilla(title="secure", version="1")
    bearer = HTTPBearer(bearerFormat="JWT", description="a token")
    realm = HTTPBasic(realm="staff")
    header_key = APIKeyHeader(name="X-Key")
    query_key = APIKeyQuery(name="key", auto_error=False)
    cookie_key = APIKeyCookie(name="session", scheme_name="SessionCookie")

    def tenant(creds: HTTPAuthorizationCredentials = Depends(bearer), page: int = Query(1, ge=1)):
        return creds.credentials, page

    @app.get("/bearer")
    def bearer_route(t=Depends(tenant)):
        token, page = t
        return {"token": token, "page": page}

    @app.get("/basic")
    def basic_route(creds: HTTPBasicCredentials = Depends(realm)):
        return {"user": creds.username, "password": creds.password}

    @app.get("/keys", dependencies=[Security(header_key, scopes=["read", "write"])])
    def keys(q: str | None = Depends(query_key), c: str = Depends(cookie_key)):
        return {"query": q, "cookie": c}

    @app.get("/open")
    def open_route():
        return "open"

    return serve(app)


def test_bearer(addr):
    r = get(addr, "/bearer")
    assert (r.status, r.header("www-authenticate"), r.json()) == (401, "Bearer", {"detail": "Not authenticated"})
    r = get(addr, "/bearer", headers={"Authorization": "Basic abc"})
    assert (r.status, r.json()) == (401, {"detail": "Invalid authentication credentials"})
    r = get(addr, "/bearer?page=2", headers={"Authorization": "bearer  tok.en "})
    assert (r.status, r.json()) == (200, {"token": "tok.en", "page": 2})
    r = get(addr, "/bearer?page=0", headers={"Authorization": "Bearer x"})
    assert r.status == 422 and r.json()["detail"][0]["loc"] == ["query", "page"]


def test_basic(addr):
    r = get(addr, "/basic")
    assert (r.status, r.header("www-authenticate")) == (401, 'Basic realm="staff"')
    for bad in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(),
                "Basic " + base64.b64encode(b"\xff\xfe:x").decode()):
        r = get(addr, "/basic", headers={"Authorization": bad})
        assert (r.status, r.json()["detail"]) == (401, "Invalid authentication credentials"), bad
    r = get(addr, "/basic", headers={"Authorization": basic("ann", "p:w d")})
    assert (r.status, r.json()) == (200, {"user": "ann", "password": "p:w d"})


def test_api_keys(addr):
    r = get(addr, "/keys", headers={"Cookie": "session=s1"})
    assert (r.status, r.header("www-authenticate")) == (401, "APIKey")        # the header key is missing
    r = get(addr, "/keys", headers={"X-Key": "k", "Cookie": "session=s1"})
    assert r.json() == {"query": None, "cookie": "s1"}                        # the query key is optional
    r = get(addr, "/keys?key=q1", headers={"X-Key": "k", "Cookie": "session=s1"})
    assert r.json() == {"query": "q1", "cookie": "s1"}
    assert get(addr, "/keys?key=q1", headers={"X-Key": "k"}).status == 401   # no cookie
    assert get(addr, "/open").text == "open"


def test_openapi_security(addr):
    doc = get(addr, "/openapi.json").json()
    validate(doc)
    assert doc["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "a token"},
        "HTTPBasic": {"type": "http", "scheme": "basic"},
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "APIKeyQuery": {"type": "apiKey", "in": "query", "name": "key"},
        "SessionCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
    }
    paths = doc["paths"]
    assert paths["/bearer"]["get"]["security"] == [{"HTTPBearer": []}]
    assert [p["name"] for p in paths["/bearer"]["get"]["parameters"]] == ["page"]   # the dependency's query
    assert paths["/basic"]["get"]["security"] == [{"HTTPBasic": []}]
    assert paths["/keys"]["get"]["security"] == [{"APIKeyHeader": ["read", "write"]}, {"APIKeyQuery": []},
                                                 {"SessionCookie": []}]
    assert "security" not in paths["/open"]["get"]


def test_scheme_arguments_checked():
    with pytest.raises(ValueError):
        APIKeyHeader(name="")
    with pytest.raises(ValueError):
        HTTPBasic(realm='a"b')
    assert HTTPBasicCredentials("u", "p") == HTTPBasicCredentials("u", "p")
    assert repr(HTTPBasicCredentials("u", "secret-p")) == "HTTPBasicCredentials(username='u', password=...)"
