"""What an installed wheel must do, in one short file: scripts/wheel-test.sh runs
these (`-m wheel`) against the wheel in a venv without Cython or a compiler,
instead of the whole suite (which `make test` runs against the tree). Every
compiled module loads; `python -m catzilla run` serves a request, a streamed
response, server-sent events and a WebSocket over real sockets; the package
carries its typing (py.typed and a .pyi for each public compiled module;
scripts/typecheck.sh runs mypy and stubtest on them). In the source tree the
same tests check the in-place build."""
from __future__ import annotations

import base64
import importlib
import importlib.machinery
import importlib.util
import os
import pkgutil
import struct
import textwrap
from pathlib import Path

import pytest

import catzilla
from procs import launcher
from wire import RawClient, parse_sse

pytestmark = pytest.mark.wheel

PACKAGE = Path(catzilla.__file__).parent
INSTALLED = os.environ.get("CATZILLA_TEST_INSTALLED") == "1"

APP = """
import asyncio
from catzilla import Catzilla, EventSourceResponse, StreamingResponse

app = Catzilla()

@app.get("/")
def home(request):
    return {"hello": request.query_params.get("name", "world")}

@app.get("/stream")
def stream(request):
    def gen():
        for i in range(3):
            yield f"chunk {i}\\n"
    return StreamingResponse(gen())

@app.get("/events")
async def events(request):
    async def gen():
        for i in range(2):
            yield {"event": "tick", "data": str(i), "id": str(i)}
            await asyncio.sleep(0)
    return EventSourceResponse(gen(), ping=None)

@app.websocket("/ws")
async def echo(ws):
    await ws.accept()
    async for message in ws:
        await ws.send(message.upper() if isinstance(message, str) else message[::-1])
"""


def compiled_modules() -> list:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return sorted(str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*") if p.name.endswith(suffixes))


def test_every_module_loads_and_the_core_is_compiled():
    if INSTALLED:
        assert "site-packages" in str(PACKAGE), PACKAGE
        with pytest.raises(ImportError):
            importlib.import_module("Cython")           # the wheel needs no Cython at run time
    names = [m.name for m in pkgutil.walk_packages([str(PACKAGE)], "catzilla.")
             if m.name != "catzilla._broadcast_redis" or importlib.util.find_spec("redis")]
    for name in names:
        importlib.import_module(name)
    compiled = compiled_modules()
    assert len(compiled) >= 20, compiled
    for path in compiled:
        name = path.split(".")[0].replace("/", ".")
        module = importlib.import_module(name)
        assert module.__file__ and module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), name
    if INSTALLED:
        assert not list(PACKAGE.rglob("*.pyx")) and not list(PACKAGE.rglob("*.c")), "sources in the wheel"


def test_the_package_carries_its_types():
    assert (PACKAGE / "py.typed").is_file()
    public = [p for p in compiled_modules() if not p.startswith("catzilla/_core/")]
    missing = [p for p in public if not (PACKAGE.parent / (p.split(".")[0] + ".pyi")).is_file()]
    assert public and not missing, missing


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("installed")
    (cwd / "wheelapp.py").write_text(textwrap.dedent(APP))
    with launcher(cwd) as run:
        yield run("wheelapp:app")


def test_a_request_a_stream_and_events_over_a_socket(server):
    addr = ("127.0.0.1", server.port)
    with RawClient(addr) as c:
        r = c.request("GET", "/?name=wheel")
        assert (r.status, r.json()) == (200, {"hello": "wheel"})
        r = c.request("GET", "/stream")
        assert (r.status, r.chunked, r.body) == (200, True, b"chunk 0\nchunk 1\nchunk 2\n")
        r = c.request("GET", "/events")
        assert r.status == 200 and r.header("content-type").startswith("text/event-stream")
        assert parse_sse(r.body).events == [("tick", "0", "0"), ("tick", "1", "1")]


def test_a_websocket_over_a_socket(server):
    key = base64.b64encode(os.urandom(16)).decode()
    with RawClient(("127.0.0.1", server.port)) as c:
        c.send(f"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        assert c.read_head().status == 101

        def send(opcode: int, payload: bytes) -> None:
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            c.send(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

        def receive() -> tuple:
            b0, b1 = c._exactly(2)
            return b0, c._exactly(b1 & 0x7F)

        send(0x1, b"hello")
        assert receive() == (0x81, b"HELLO")
        send(0x2, b"\x01\x02\x03")
        assert receive() == (0x82, b"\x03\x02\x01")
        send(0x8, struct.pack("!H", 1000))
        assert receive() == (0x88, struct.pack("!H", 1000))
        c.wait_closed()
