"""TrustedHostMiddleware and RequestIdMiddleware over real sockets: the small
examples of the middleware API (catzilla/middleware.py)."""
from __future__ import annotations

import re

import pytest

from catzilla import (Catzilla, CORSMiddleware, ProxyHeadersMiddleware, RequestIdMiddleware, StreamingResponse,
                      TrustedHostMiddleware)
from wire import RawClient

HEX32 = re.compile(r"[0-9a-f]{32}\Z")


def raw(addr, head: bytes):
    with RawClient(addr) as c:
        c.send(head)
        return c.read_response()


def with_host(addr, host, path="/", extra=b""):
    return raw(addr, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode() + extra + b"\r\n")


# -- trusted hosts ---------------------------------------------------------------------------------

def host_app(*middleware):
    app = Catzilla()
    for cls, options in middleware:
        app.add_middleware(cls, **options)
    calls = []

    @app.get("/")
    def home(request):
        calls.append(request.host)
        return "ok"

    return app, calls


def test_trusted_hosts(serve):
    app, calls = host_app((TrustedHostMiddleware,
                           {"allowed_hosts": ["example.com", "*.example.org", "127.0.0.1", "[::1]"]}))
    addr = serve(app)
    for host in ("example.com", "EXAMPLE.com:8080", "api.example.org", "a.b.example.org", "127.0.0.1:8000",
                 "[::1]:80", "[::1]"):
        r = with_host(addr, host)
        assert (r.status, r.body) == (200, b"ok"), host
    for host in ("evil.com", "example.org", "example.com.evil.com", "evilexample.org", "example.org.evil.com",
                 "127.0.0.2", "[::2]", "xexample.com"):
        r = with_host(addr, host)
        assert (r.status, r.body) == (400, b"Invalid host header"), host
    assert len(calls) == 7
    # absolute-form: its authority is the host (RFC 9112 §3.2.2), whatever Host says
    r = raw(addr, b"GET http://evil.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert r.status == 400
    r = raw(addr, b"GET http://example.com/ HTTP/1.1\r\nHost: evil.com\r\n\r\n")
    assert r.status == 200
    # HTTP/1.0 without a Host: not an allowed host
    r = raw(addr, b"GET / HTTP/1.0\r\n\r\n")
    assert r.status == 400


def test_trusted_hosts_behind_a_proxy_check_the_forwarded_host(serve):
    app, calls = host_app((ProxyHeadersMiddleware, {"trusted": ["127.0.0.1"]}),
                          (TrustedHostMiddleware, {"allowed_hosts": ["example.com"]}))
    addr = serve(app)
    assert with_host(addr, "backend:8000", extra=b"X-Forwarded-Host: example.com\r\n").status == 200
    assert with_host(addr, "example.com", extra=b"X-Forwarded-Host: evil.com\r\n").status == 400
    assert calls == ["example.com"]


def test_www_redirect(serve):
    app, calls = host_app((ProxyHeadersMiddleware, {}),
                          (TrustedHostMiddleware, {"allowed_hosts": ["www.example.com"], "www_redirect": True}))
    addr = serve(app)
    r = with_host(addr, "example.com", path="/a/b?c=1")
    assert r.status == 301 and r.header("location") == "http://www.example.com/a/b?c=1"
    r = with_host(addr, "example.com:8443", path="/", extra=b"X-Forwarded-Proto: https\r\n")
    assert r.status == 301 and r.header("location") == "https://www.example.com:8443/"
    assert with_host(addr, "other.com").status == 400
    assert with_host(addr, "www.example.com").status == 200
    # without www_redirect the bare domain is just refused
    app, _ = host_app((TrustedHostMiddleware, {"allowed_hosts": ["www.example.com"]}))
    assert with_host(serve(app), "example.com").status == 400


def test_any_host_by_default(serve):
    app, _ = host_app((TrustedHostMiddleware, {}))
    addr = serve(app)
    assert with_host(addr, "whatever.example").status == 200
    assert raw(addr, b"GET / HTTP/1.0\r\n\r\n").status == 200


@pytest.mark.parametrize("bad, error", [
    ("example.com:80", ValueError), ("*example.com", ValueError), ("a.*.com", ValueError), ("", ValueError),
    ("exa mple.com", ValueError), ("http://example.com", ValueError), ("::1", ValueError), (".example.com", ValueError),
    (42, TypeError),
])
def test_bad_allowed_hosts(bad, error):
    with pytest.raises(error):
        TrustedHostMiddleware(allowed_hosts=[bad])


# -- request ids -----------------------------------------------------------------------------------

def id_app(header=None):
    app = Catzilla()
    app.add_middleware(RequestIdMiddleware, **({} if header is None else {"header": header}))
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["t", "example.com"])

    @app.get("/")
    def home(request):
        return {"id": request.state.request_id}

    @app.get("/boom")
    def boom(request):
        raise RuntimeError("boom")

    @app.get("/stream")
    def stream(request):
        return StreamingResponse(iter([request.state.request_id, "\n", "end"]))

    return app


def get_id(addr, path="/", lines=b"", host="t"):
    return raw(addr, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode() + lines + b"\r\n")


def test_request_id_generated_kept_or_replaced(serve):
    addr = serve(id_app())
    r = get_id(addr)
    assert r.status == 200 and HEX32.match(r.header("x-request-id"))
    assert r.json() == {"id": r.header("x-request-id")}
    assert get_id(addr).header("x-request-id") != r.header("x-request-id")
    for given in ("abc-123.X_y", "7c9e6679-7425-40de-944b-e07fc1f90ae7", "a" * 128, "0"):
        r = get_id(addr, lines=f"X-Request-ID: {given}\r\n".encode())
        assert r.header("x-request-id") == given and r.json() == {"id": given}
    for lines in (b"X-Request-Id: bad id\r\n", b"X-Request-Id: " + b"a" * 129 + b"\r\n",
                  b"X-Request-Id: a/b\r\n", b"X-Request-Id: <script>\r\n", b"X-Request-Id:\r\n",
                  b"X-Request-Id: caf\xc3\xa9\r\n", b"X-Request-Id: one\r\nX-Request-Id: two\r\n"):
        r = get_id(addr, lines=lines)
        assert HEX32.match(r.header("x-request-id")), lines
        assert r.json() == {"id": r.header("x-request-id")}


def test_request_id_on_errors_early_answers_and_streams(serve):
    addr = serve(id_app())
    r = get_id(addr, "/boom", b"X-Request-Id: trace-1\r\n")
    assert r.status == 500 and r.header("x-request-id") == "trace-1"
    r = get_id(addr, "/missing")
    assert r.status == 404 and HEX32.match(r.header("x-request-id"))
    r = get_id(addr, host="evil.com")                       # answered by the inner TrustedHostMiddleware
    assert r.status == 400 and HEX32.match(r.header("x-request-id"))
    r = get_id(addr, "/stream", b"X-Request-Id: s-1\r\n")
    assert r.chunked and r.header("x-request-id") == "s-1" and r.body == b"s-1\nend"


def test_request_id_custom_header(serve):
    addr = serve(id_app(header="X-Correlation-ID"))
    r = get_id(addr, lines=b"X-Correlation-Id: corr-9\r\nX-Request-Id: other\r\n")
    assert r.header("x-correlation-id") == "corr-9" and r.header("x-request-id") is None
    with pytest.raises(ValueError):
        RequestIdMiddleware(header="bad header")


def test_the_examples_together(serve):
    """The order the README suggests: request ids outermost, then the proxy,
    then host checks and CORS."""
    app = Catzilla()
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(ProxyHeadersMiddleware, trusted=["127.0.0.1"])
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["api.example.com"])
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"], allow_methods=["GET", "POST"])

    @app.get("/who")
    def who(request):
        return {"client": request.client[0], "url": request.url, "id": request.state.request_id}

    addr = serve(app)
    r = raw(addr, b"GET /who HTTP/1.1\r\nHost: backend\r\nOrigin: https://app.example.com\r\n"
                  b"X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n"
                  b"X-Forwarded-Host: api.example.com\r\nX-Request-Id: req-1\r\n\r\n")
    assert r.status == 200
    assert r.json() == {"client": "203.0.113.5", "url": "https://api.example.com/who", "id": "req-1"}
    assert r.header("access-control-allow-origin") == "https://app.example.com"
    assert r.header("x-request-id") == "req-1"
    r = raw(addr, b"OPTIONS /who HTTP/1.1\r\nHost: backend\r\nOrigin: https://app.example.com\r\n"
                  b"X-Forwarded-Host: api.example.com\r\nAccess-Control-Request-Method: POST\r\n\r\n")
    assert r.status == 204 and r.header("access-control-allow-methods") == "GET, POST"
    assert HEX32.match(r.header("x-request-id"))
