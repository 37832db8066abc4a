"""HTTP/1.1 connection handling (RFC 9112 / RFC 9110) over raw sockets against
the real compiled server: framing, keep-alive, pipelining, HEAD, HTTP/1.0,
Connection: close, Expect: 100-continue, chunked request bodies, Date/Server,
Content-Length, 404/405, 413, 400 + close, absolute-form, percent-decoding."""
import email.utils
import re
import socket
import time

import pytest

from catzilla import Catzilla, JSONResponse, RedirectResponse, Response, StreamingResponse
from wire import Closed, RawClient, build_request, chunked, get, parse_responses
from procs import wait_until


def make_app(**settings):
    app = Catzilla(**settings)

    @app.get("/")
    def root(request):
        return "root"

    @app.get("/hello")
    def hello(request):
        return "hello world"

    @app.route("/echo", methods=["POST", "PUT"])
    def echo(request):
        return Response(request.body, headers={"x-method": request.method}, content_type="application/octet-stream")

    @app.get("/n/{i:int}")
    def number(request, i):
        return f"n={i}"

    @app.get("/users/{name}")
    def user(request, name):
        return {"name": name, "path": request.path}

    @app.get("/info")
    def info(request):
        return {"method": request.method, "path": request.path, "query": request.query_string,
                "version": request.http_version, "url": request.url}

    @app.route("/multi", methods=["GET", "POST"])
    def multi(request):
        return request.method

    @app.get("/empty")
    def empty(request):
        return b""

    @app.get("/none")
    def none(request):
        return None

    @app.get("/json")
    def as_json(request):
        return JSONResponse({"ok": True}, status=201)

    @app.get("/redirect")
    def redirect(request):
        return RedirectResponse("/hello")

    @app.get("/boom")
    def boom(request):
        raise RuntimeError("boom")

    @app.get("/stream")
    def stream(request):
        return StreamingResponse(iter([b"a", b"bb", b"ccc"]))

    @app.get("/big")
    def big(request):
        return b"x" * 100_000

    return app


@pytest.fixture
def addr(serve):
    return serve(make_app(max_body=1000))


# --------------------------------------------------------------------------
# incremental parsing: a request split anywhere

ECHO_REQ = (b"POST /echo HTTP/1.1\r\nHost: t\r\nX-Pad: abc\r\nContent-Length: 11\r\n\r\nhello world")
CHUNKED_REQ = (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunked(b"hello", b" ", b"world", ext=b";x=1", trailers=b"X-T: 1\r\n"))


@pytest.mark.parametrize("pause", [0.0, 0.003], ids=["nopause", "pause"])
@pytest.mark.parametrize("raw", [ECHO_REQ, CHUNKED_REQ], ids=["content-length", "chunked"])
def test_request_split_at_every_offset(addr, raw, pause):
    # One keep-alive connection; for every split point k the first k bytes go
    # out, then (after a pause that lets the server read them alone) the rest.
    with RawClient(addr) as c:
        for k in range(1, len(raw)):
            c.send(raw[:k])
            if pause:
                time.sleep(pause)
            c.send(raw[k:])
            r = c.read_response()
            assert (r.status, r.body) == (200, b"hello world"), f"split at {k}: {r!r}"


def test_request_one_byte_at_a_time(addr):
    with RawClient(addr) as c:
        for raw in (ECHO_REQ, CHUNKED_REQ):
            c.send_slowly(raw, step=1, pause=0.0005)
            r = c.read_response()
            assert (r.status, r.body) == (200, b"hello world")


def test_two_pipelined_requests_split_at_every_offset(addr):
    raw = ECHO_REQ + build_request("GET", "/n/7")
    with RawClient(addr) as c:
        for k in range(1, len(raw), 3):
            c.send(raw[:k])
            time.sleep(0.001)
            c.send(raw[k:])
            r1 = c.read_response()
            r2 = c.read_response()
            assert (r1.status, r1.body, r2.status, r2.body) == (200, b"hello world", 200, b"n=7"), f"split at {k}"


# --------------------------------------------------------------------------
# keep-alive and pipelining

def test_100_keep_alive_requests_on_one_connection(addr):
    with RawClient(addr) as c:
        for i in range(100):
            r = c.request("GET", f"/n/{i}")
            assert (r.status, r.body) == (200, f"n={i}".encode())
            assert r.header("connection") is None or r.header("connection").lower() != "close"
        assert c.is_open()


def test_pipelined_requests_answered_in_order(addr):
    raw = (build_request("GET", "/n/1") + build_request("POST", "/echo", b"second")
           + build_request("GET", "/n/3"))
    with RawClient(addr) as c:
        c.send(raw)
        bodies = [c.read_response().body for _ in range(3)]
        assert bodies == [b"n=1", b"second", b"n=3"]
        assert c.is_open()
        assert c.request("GET", "/n/4").body == b"n=4"


def test_many_pipelined_requests_with_large_responses(addr):
    # Responses larger than the socket buffers: the server must keep order
    # and not lose pipelined requests while its output is backed up.
    raw = b"".join(build_request("GET", "/big") + build_request("GET", f"/n/{i}") for i in range(10))
    with RawClient(addr) as c:
        c.send(raw)
        for i in range(10):
            assert c.read_response().body == b"x" * 100_000
            assert c.read_response().body == f"n={i}".encode()


# --------------------------------------------------------------------------
# HEAD

def test_head_has_get_headers_and_no_body(addr):
    with RawClient(addr) as c:
        g = c.request("GET", "/hello")
        h = c.request("HEAD", "/hello")
        assert h.status == 200
        assert h.header("content-length") == g.header("content-length") == str(len(b"hello world"))
        assert h.header("content-type") == g.header("content-type")
        # no body was sent: the next response starts right after HEAD's head
        r = c.request("GET", "/n/5")
        assert (r.status, r.body) == (200, b"n=5")


def test_head_of_large_and_streamed_responses_sends_no_body(addr):
    with RawClient(addr) as c:
        h = c.request("HEAD", "/big")
        assert h.header("content-length") == "100000"
        h = c.request("HEAD", "/stream")
        assert h.status == 200
        r = c.request("GET", "/n/6")
        assert r.body == b"n=6"
        assert c.buf == b""


def test_head_on_unknown_path_is_404_without_body(addr):
    with RawClient(addr) as c:
        h = c.request("HEAD", "/nope")
        assert h.status == 404
        assert c.request("GET", "/n/1").body == b"n=1"


# --------------------------------------------------------------------------
# HTTP/1.0 and Connection: close

def test_http10_gets_response_then_close(addr):
    with RawClient(addr) as c:
        c.send(b"GET /info HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["version"] == "1.0"
        assert c.wait_closed(3) == b""


def test_http10_keep_alive_stays_open(addr):
    with RawClient(addr) as c:
        for i in range(3):
            c.send(f"GET /n/{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode())
            r = c.read_response()
            assert (r.status, r.body) == (200, f"n={i}".encode())
            assert r.header("connection", "").lower() == "keep-alive"
            assert r.header("content-length") == str(len(r.body))
        assert c.is_open()
        c.send(b"GET /n/9 HTTP/1.0\r\n\r\n")   # no keep-alive: the last one
        assert c.read_response().body == b"n=9"
        assert c.wait_closed(3) == b""


def test_connection_close_closes_after_response(addr):
    with RawClient(addr) as c:
        c.send(build_request("GET", "/hello", headers={"Connection": "close"}))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello world")
        assert r.header("connection", "").lower() == "close"
        assert c.wait_closed(3) == b""


def test_connection_close_stops_pipeline(addr):
    # Requests after the one carrying Connection: close are not answered.
    raw = (build_request("GET", "/n/1") + build_request("GET", "/n/2", headers={"Connection": "close"})
           + build_request("GET", "/n/3"))
    with RawClient(addr) as c:
        c.send(raw)
        rest = c.wait_closed(3)
    got = parse_responses(rest)
    assert [r.body for r in got] == [b"n=1", b"n=2"]


@pytest.mark.parametrize("value", ["CLOSE", "keep-alive, close", "close ,", "Upgrade,Close"])
def test_connection_close_token_in_any_case_or_list(addr, value):
    with RawClient(addr) as c:
        c.send(build_request("GET", "/hello", headers={"Connection": value}))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello world")
        assert c.wait_closed(3) == b""


# --------------------------------------------------------------------------
# Expect: 100-continue

def test_expect_100_continue(addr):
    with RawClient(addr) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        interim = c.read_head()   # must come before we send the body
        assert interim.status == 100
        assert interim.version == "HTTP/1.1"
        c.send(b"hello")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")
        assert c.request("GET", "/n/1").body == b"n=1"


def test_expect_100_continue_with_chunked_body(addr):
    with RawClient(addr) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert c.read_head().status == 100
        c.send(chunked(b"abc", b"def"))
        assert c.read_response().body == b"abcdef"


def test_expect_100_continue_over_max_body_gets_413_not_100(addr):
    with RawClient(addr) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
        r = c.read_response(skip_interim=False)
        assert r.status == 413
        c.wait_closed(3)


def test_no_100_continue_for_http10(addr):
    # RFC 9110 §10.1.1: a server MUST NOT send a 100 response to an HTTP/1.0 client.
    import select
    with RawClient(addr) as c:
        c.send(b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        assert select.select([c.sock], [], [], 0.3)[0] == []
        c.send(b"hello")
        r = c.read_response(skip_interim=False)
        assert (r.status, r.body) == (200, b"hello")


# --------------------------------------------------------------------------
# chunked request bodies

def test_chunked_body_several_chunks_and_trailers(addr):
    parts = [b"a" * 1, b"b" * 15, b"c" * 16, b"d" * 255, b"e" * 300]
    body = chunked(*parts, trailers=b"X-Checksum: abc\r\nX-Other: 1\r\n")
    with RawClient(addr) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        r = c.read_response()
        assert (r.status, r.body) == (200, b"".join(parts))
        assert c.request("GET", "/n/2").body == b"n=2"


def test_chunked_body_uppercase_hex_extensions_and_pipelined_next(addr):
    body = b"A;name=value;q=\"quoted; str\"\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n"
    with RawClient(addr) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n" + body
               + build_request("GET", "/n/8"))
        assert c.read_response().body == b"0123456789!"
        assert c.read_response().body == b"n=8"


def test_empty_chunked_body(addr):
    with RawClient(addr) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"")


# --------------------------------------------------------------------------
# Date, Server, Content-Length

IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"\d{4} \d{2}:\d{2}:\d{2} GMT$")


def test_date_and_server_headers(addr):
    for path in ("/hello", "/nope", "/boom", "/stream"):
        r = get(addr, path)
        date = r.header("date")
        assert date is not None and IMF_FIXDATE.match(date), f"{path}: bad Date {date!r}"
        assert abs(email.utils.parsedate_to_datetime(date).timestamp() - time.time()) < 3
        assert r.header("server"), path
        assert len(r.headers_all("date")) == 1 and len(r.headers_all("server")) == 1


def test_date_header_is_refreshed(addr):
    first = get(addr, "/hello").header("date")

    def newer():
        date = get(addr, "/hello").header("date")
        return date if date != first else None

    later = wait_until(newer, 2.5, "a new Date")    # the server refreshes it once a second
    d1, d2 = (email.utils.parsedate_to_datetime(d) for d in (first, later))
    assert 1 <= (d2 - d1).total_seconds() <= 3


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/hello", 200), ("GET", "/empty", 200), ("GET", "/json", 201), ("GET", "/redirect", 307),
    ("GET", "/nope", 404), ("PUT", "/multi", 405), ("GET", "/boom", 500), ("POST", "/echo", 200),
])
def test_content_length_on_every_non_streamed_response(addr, method, path, status):
    with RawClient(addr) as c:
        r = c.request(method, path)
        assert r.status == status
        assert r.header("content-length") == str(len(r.body))
        assert r.header("transfer-encoding") is None
        h = c.request("HEAD", path) if method == "GET" else None
        if h is not None:
            assert h.header("content-length") == str(len(r.body))


@pytest.mark.parametrize("raw,status,reason", [
    (b"BAD\r\n\r\n", 400, b"invalid method"),
    (b"GET / HTTP/1.1\r\n\r\n", 400, b"missing host"),
    (b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505, b"HTTP version not supported"),
], ids=["bad-request-line", "no-host", "http-3.0"])
def test_content_length_on_protocol_error_responses(addr, raw, status, reason):
    with RawClient(addr) as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == status and reason in r.body, r
        assert r.header("content-length") == str(len(r.body))


def test_204_has_no_body_and_no_content_length(addr):
    with RawClient(addr) as c:
        r = c.request("GET", "/none")
        assert r.status == 204
        assert r.header("content-length") is None    # RFC 9110 §8.6: MUST NOT
        assert r.header("transfer-encoding") is None
        assert c.request("GET", "/n/1").body == b"n=1"


def test_streamed_response_is_chunked_without_content_length(addr):
    with RawClient(addr) as c:
        r = c.request("GET", "/stream")
        assert r.chunked and r.header("content-length") is None
        assert r.body == b"abbccc"
        assert c.request("GET", "/n/1").body == b"n=1"


# --------------------------------------------------------------------------
# 404, 405

def test_404(addr):
    r = get(addr, "/does/not/exist")
    assert r.status == 404


def test_405_with_allow(addr):
    with RawClient(addr) as c:
        r = c.request("DELETE", "/multi")
        assert r.status == 405
        allow = {m.strip() for m in r.header("allow", "").split(",")}
        assert {"GET", "POST"} <= allow
        assert "DELETE" not in allow
        # a 405 is a normal response: the connection stays usable
        assert c.request("POST", "/multi").body == b"POST"


# --------------------------------------------------------------------------
# 413

def test_413_for_content_length_over_max_body_before_body_is_sent(addr):
    with RawClient(addr, timeout=3) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
        r = c.read_response()             # answered without waiting for the body
        assert r.status == 413
        assert r.header("connection", "").lower() == "close"
        assert c.wait_closed(3) == b""


def test_body_of_exactly_max_body_is_accepted(addr):
    with RawClient(addr) as c:
        r = c.request("POST", "/echo", b"z" * 1000)
        assert (r.status, len(r.body)) == (200, 1000)


def test_413_for_chunked_body_growing_over_max_body(addr):
    with RawClient(addr, timeout=3) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        c.send(b"258\r\n" + b"a" * 600 + b"\r\n")
        assert c.is_open(0.2)              # 600 bytes: still fine
        c.send(b"258\r\n" + b"b" * 600 + b"\r\n")
        r = c.read_response()              # no last chunk sent: the server decided on its own
        assert r.status == 413
        c.wait_closed(3)


# --------------------------------------------------------------------------
# 400 + close

@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\n: empty-name\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",   # a TLS ClientHello
], ids=["garbage", "no-colon", "http09", "empty-name", "tls"])
def test_malformed_request_gets_400_and_close(addr, raw):
    with RawClient(addr, timeout=3) as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == 400
        assert r.header("connection", "").lower() == "close"
        assert c.wait_closed(3) == b""


def test_malformed_request_after_good_one_on_same_connection(addr):
    with RawClient(addr, timeout=3) as c:
        assert c.request("GET", "/n/1").body == b"n=1"
        c.send(b"GET / HTTP/1.1\r\nHost t\r\n\r\n")
        assert c.read_response().status == 400
        assert c.wait_closed(3) == b""
    assert get(addr, "/n/2").body == b"n=2"


# --------------------------------------------------------------------------
# request-target forms and percent-decoding

def test_absolute_form_target_is_routed_on_its_path(addr):
    with RawClient(addr) as c:
        c.send(b"GET http://example.com:8080/info?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        info = r.json()
        assert (info["path"], info["query"]) == ("/info", "x=1")
        c.send(b"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"root")


def test_absolute_form_authority_wins_over_host_header(addr):
    # RFC 9112 §3.2.2: with an absolute-form target the origin server MUST
    # ignore the Host header and use the target's host.
    with RawClient(addr) as c:
        c.send(b"GET http://right.example/info HTTP/1.1\r\nHost: wrong.example\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["url"] == "http://right.example/info"


def test_percent_encoded_path_matches_decoded(addr):
    r = get(addr, "/users/caf%C3%A9")
    assert r.status == 200
    assert r.json() == {"name": "café", "path": "/users/café"}
    r = get(addr, "/users/a%20b")
    assert r.json()["name"] == "a b"
    r = get(addr, "/%68ello")              # an encoded unreserved char in a static route
    assert (r.status, r.body) == (200, b"hello world")


def test_query_string_does_not_affect_routing(addr):
    r = get(addr, "/hello?a=1&b=/x")
    assert (r.status, r.body) == (200, b"hello world")
    r = get(addr, "/info?")
    assert r.json()["path"] == "/info"

