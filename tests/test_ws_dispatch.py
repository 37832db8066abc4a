"""WebSocket handshakes go through the dispatcher like any request: the
middleware's on_request and the before hooks see them (request.is_websocket)
and may refuse them, the exception handlers answer a handler that refuses,
on_response sees the upgrade (its headers go on the 101). Over real sockets.
Also the connection boundary: nothing outside the connection calls a
Python-level method of it."""
from __future__ import annotations

import base64
import json
import os
import struct
from typing import Any, List, Tuple

import pytest

from wire import RawClient
from catzilla import Catzilla, HTTPException
from catzilla.cors import CORSMiddleware
from catzilla.middleware import RequestIdMiddleware, TrustedHostMiddleware
from catzilla.proxy import ProxyHeadersMiddleware
from catzilla.response import JSONResponse, PlainTextResponse
from catzilla.testing import ws_frame
from catzilla.websocket import WebSocket

pytestmark = pytest.mark.timeout(60)

TEXT, CLOSE = 0x1, 0x8


def handshake(path: str = "/ws", extra: str = "", host: str = "t") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode()


def message(c: RawClient) -> Tuple[int, bytes]:
    """One unfragmented server frame: (opcode, payload)."""
    b0, b1 = c._exactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", c._exactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", c._exactly(8))[0]
    assert b0 & 0x80, "a fragmented frame"
    return b0 & 0x0F, c._exactly(n)


def connect(addr: Any, raw: bytes) -> Tuple[int, Any]:
    """Send a handshake: (status, the JSON the handler sent first) for a 101,
    (status, the response) for a refusal."""
    with RawClient(addr) as c:
        c.send(raw)
        resp = c.read_response()
        if resp.status != 101:
            return resp.status, resp
        op, payload = message(c)
        assert op == TEXT, (op, payload)
        c.send(ws_frame(CLOSE, struct.pack("!H", 1000)))
        return 101, json.loads(payload)


def reporting_app(ran: List[str], **settings: Any) -> Catzilla:
    """/ws accepts and sends what it sees of its handshake; `ran` records each run."""
    app = Catzilla(ws_ping_interval=None, **settings)

    @app.websocket("/ws")
    async def report(ws: WebSocket) -> None:
        ran.append(ws.path)
        await ws.accept()
        await ws.send_json({"client": list(ws.client) if ws.client else None, "scheme": ws.scheme,
                            "url": ws.url, "websocket": ws.request.is_websocket})
        await ws.receive()

    return app


def test_trusted_host_guards_websockets(serve):
    ran: List[str] = []
    app = reporting_app(ran)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["good.example"])
    addr = serve(app)
    status, resp = connect(addr, handshake(host="evil.example"))
    assert status == 400 and resp.text == "Invalid host header"
    assert ran == []                                       # the handler never ran
    status, seen = connect(addr, handshake(host="good.example"))
    assert status == 101 and seen["websocket"] is True and seen["url"] == "ws://good.example/ws"
    assert ran == ["/ws"]


def test_proxy_headers_reach_the_websocket(serve):
    ran: List[str] = []
    app = reporting_app(ran)
    app.add_middleware(ProxyHeadersMiddleware, trusted=["127.0.0.1"])
    addr = serve(app)
    status, seen = connect(addr, handshake(
        host="internal:8000",
        extra="X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: chat.example\r\n"))
    assert status == 101
    assert seen["client"] == ["203.0.113.7", 0]
    assert seen["scheme"] == "wss" and seen["url"] == "wss://chat.example/ws"
    status, seen = connect(addr, handshake(host="internal:8000"))        # nothing forwarded
    assert status == 101 and seen["scheme"] == "ws" and seen["client"][0] == "127.0.0.1"


def test_cors_origins_govern_handshakes(serve):
    ran: List[str] = []
    app = reporting_app(ran)
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example"])
    addr = serve(app)
    status, resp = connect(addr, handshake(extra="Origin: https://evil.example\r\n"))
    assert status == 403 and ran == []                     # cross-site: refused before the handler
    status, resp = connect(addr, handshake(extra="Origin: null\r\n"))
    assert status == 403 and ran == []
    assert connect(addr, handshake(extra="Origin: https://app.example\r\n"))[0] == 101
    assert connect(addr, handshake())[0] == 101             # no Origin: not a browser
    assert connect(addr, handshake(host="t:8080", extra="Origin: http://t:8080\r\n"))[0] == 101   # same origin
    assert ran == ["/ws"] * 3


def test_exception_handlers_answer_a_refusing_handler(serve):
    app = Catzilla(ws_ping_interval=None)

    class NotAllowed(Exception):
        pass

    @app.exception_handler(HTTPException)
    def http_error(request, exc):
        return JSONResponse({"error": exc.detail, "websocket": request.is_websocket}, exc.status_code)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request, exc):
        return PlainTextResponse("not allowed: " + str(exc), 451)

    @app.websocket("/auth/{room}")
    async def auth(ws: WebSocket, room: str) -> None:
        if ws.headers.get("authorization") != "Bearer ok":
            raise HTTPException(401, f"no token for {room}")
        await ws.accept()
        await ws.send_json({"room": room})

    @app.websocket("/custom")
    async def custom(ws: WebSocket) -> None:
        raise NotAllowed("here")

    addr = serve(app)
    status, resp = connect(addr, handshake("/auth/lobby"))
    assert status == 401 and resp.json() == {"error": "no token for lobby", "websocket": True}
    status, seen = connect(addr, handshake("/auth/lobby", "Authorization: Bearer ok\r\n"))
    assert status == 101 and seen == {"room": "lobby"}
    status, resp = connect(addr, handshake("/custom"))
    assert status == 451 and resp.text == "not allowed: here"


def test_a_before_hook_can_refuse_a_websocket_route(serve):
    ran: List[str] = []
    app = reporting_app(ran)
    hooks: List[Tuple[str, bool, int]] = []

    @app.before_request
    async def members_only(request):
        if request.is_websocket and "member" not in request.query_params:
            return PlainTextResponse("members only", 403)
        return None

    @app.after_request
    def seen(request, response):
        hooks.append((request.path, request.is_websocket, response.status_code))

    addr = serve(app)
    status, resp = connect(addr, handshake("/ws"))
    assert status == 403 and resp.text == "members only" and ran == []
    status, seen_by_handler = connect(addr, handshake("/ws?member=1"))
    assert status == 101 and ran == ["/ws"]
    # every after hook sees the refusal, and the upgrade (status 101) as it goes out
    assert hooks == [("/ws", True, 403), ("/ws", True, 101)]


def test_layers_add_to_and_replace_the_upgrade(serve):
    ran: List[str] = []
    app = reporting_app(ran)
    app.add_middleware(RequestIdMiddleware)

    class Gate:
        def on_response(self, request, response):
            if request.is_websocket and request.query_params.get("gate") == "shut":
                return PlainTextResponse("gate shut", 409)      # replaces the upgrade: no handler
            return None

    app.add_middleware(Gate)
    addr = serve(app)
    with RawClient(addr) as c:
        c.send(handshake(extra="X-Request-Id: abc-1\r\n"))
        resp = c.read_head()
        assert resp.status == 101 and resp.header("x-request-id") == "abc-1"
        assert resp.header("sec-websocket-accept")
    status, resp = connect(addr, handshake("/ws?gate=shut"))
    assert status == 409 and resp.header("x-request-id") and ran == ["/ws"]


def test_no_python_method_of_the_connection_is_public():
    """The connection boundary (transport.pxd, and the WebSocket Bridge of
    websocket.pxd) is all cdef: the classes a Request, a pump or the WebSocket
    protocol hold expose no Python-level method another module could call.
    Only the connection's own asyncio callbacks are Python callables, and
    they are private."""
    from catzilla._core.connection import Connection, WebSocketBridge
    from catzilla._core.transport import Transport
    from catzilla._core.websocket import Bridge

    for cls, allowed in ((Transport, set()), (Connection, {"_resume", "_task_done"}),
                         (Bridge, set()), (WebSocketBridge, set())):
        names = {n for n in vars(cls) if not (n.startswith("__") and n.endswith("__"))}
        assert names == allowed, (cls.__name__, names)


def test_the_dispatcher_runs_the_published_plan():
    """The app compiles a frozen Plan and publishes a new one when a handler
    is added: it takes effect while serving, and an old plan never changes."""
    from catzilla.testing import TestClient

    app = Catzilla()

    class Teapot(Exception):
        pass

    @app.get("/")
    def home(request):
        raise Teapot()

    before = app.plan()
    assert app.plan_slot().plan.layers == () and isinstance(before.layers, tuple)
    with pytest.raises(AttributeError):
        before.layers = ()                          # frozen
    with TestClient(app) as client:
        assert client.get("/").status_code == 500
        app.exception_handler(Teapot)(lambda request, exc: PlainTextResponse("short and stout", 418))
        r = client.get("/")
        assert r.status_code == 418 and r.text == "short and stout"

        @app.after_request
        def stamp(request, response):
            response.headers["x-plan"] = "new"

        assert client.get("/").headers["x-plan"] == "new"
    assert before.layers == () and app.plan_slot().plan is not before
