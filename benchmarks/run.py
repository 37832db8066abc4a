#!/usr/bin/env python3
"""Side-by-side HTTP benchmark: Catzilla against other Python servers (and nginx).

    python benchmarks/run.py                       # every peer, every scenario, 3 rounds of 10 s
    python benchmarks/run.py --quick               # smoke test: catzilla + uvicorn-starlette, 1 short round
    python benchmarks/run.py --before main         # + catzilla-before: main as `git archive` has it, built
    python benchmarks/run.py --duration 10 --rounds 3 \
        --peers catzilla,uvicorn-starlette --scenarios plain,plain16,json,params,post4k,stream10k,stream64m
    python benchmarks/run.py --peers catzilla,fastapi,litestar,catzilla-023 --scenarios json,orders,search

Each peer gets its own venv under benchmarks/.venvs/<peer> (installed from PyPI; catzilla's
is installed from this repository's source with pip, so the measured code is the built
package; catzilla-before's, with --before REV, from `git archive REV` of this repository).
One worker each; the server runs on CPU 0 (taskset -c 0), the load generator
(wrk -t1 -c64, or for stream64m one reading client in this process) on CPU 1.
Rounds are interleaved (round -> scenario -> peer), each measurement on a freshly
started server after a short warm-up, and the table shows the median of the rounds.
The Markdown report goes to stdout and benchmarks/results/latest.md (+ latest.json).

Needs: Linux, wrk, taskset; nginx for the nginx ceiling (skipped with a reason if absent).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import http.client
import json
import os
import platform
import queue
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent          # benchmarks/
ROOT = HERE.parent                              # the repository: what catzilla's venv installs
APPS = HERE / "apps"
LUA = HERE / "lua"
VENVS = HERE / ".venvs"
RESULTS = HERE / "results"

sys.path.insert(0, str(APPS))
import common  # noqa: E402  (the routes' shared data: generator, chunk sizes)

SERVER_CPU = 0
CLIENT_CPU = 1
HOST = "127.0.0.1"
MB = 1_000_000  # MB/s in the tables are 10^6 bytes per second

# ----------------------------------------------------------------------------------------
# Peers. To add one: an app file under benchmarks/apps/ with the six routes, and an entry
# here (pip requirements + how to start it on a port).
# ----------------------------------------------------------------------------------------

UVICORN_FLAGS = ["--host", HOST, "--workers", "1", "--loop", "uvloop", "--http", "httptools",
                 "--no-access-log", "--log-level", "warning"]


@dataclass
class Peer:
    name: str                       # CLI name, venv folder
    label: str                      # column title
    requirements: List[str]         # pip requirements (empty: no venv, e.g. nginx)
    command: Callable[[Optional[Path], int, Path], List[str]]   # (venv, port, workdir) -> argv
    scenarios: Optional[Tuple[str, ...]] = None       # None: all; others show "n/a"
    show_versions: Tuple[str, ...] = ()
    notes: str = ""
    in_defaults: bool = True        # False: only when asked for (catzilla-before comes with --before)
    also: Tuple[str, ...] = ()      # opt-in scenarios (WebSocket echo, uploads, fan-out) this peer serves
    fanout: Optional[Callable[[Optional[Path], int, Path], List[str]]] = None   # argv for the fan-out scenarios
    venv_of: Optional[str] = None   # run from that peer's venv (catzilla-queue: catzilla's)
    env: Dict[str, str] = field(default_factory=dict)   # the server's extra environment (BENCH_MIDDLEWARE)
    reference: Optional[str] = None  # the same app without this peer's middleware: the report's cost ratios


WS_SCENARIOS = ("ws32", "ws16k")
TYPED_SCENARIOS = ("orders", "search")   # validated bodies and query parameters: peers with a typed layer
TYPED_NEEDS = ("BaseModel", "Field", "Query")   # what apps/catzilla_app.py imports for them
DEPS_SCENARIOS = ("deps",)     # dependency injection (a plain and a yield dependency): peers with FastAPI-style DI
DEPS_NEEDS = ("Depends", "Query")   # what apps/catzilla_app.py imports for it
UPLOAD_SCENARIOS = ("upload-cl", "upload-chunked")
SSE_FANOUT = ("sse10k", "sse100x100")
WS_FANOUT = ("ws10k", "ws100x100")
GZIP_SCENARIOS = ("gzip10k", "gzip10k-async")


def _venv_bin(venv: Optional[Path], exe: str) -> str:
    assert venv is not None, "this peer has no venv"
    return str(venv / "bin" / exe)


def _nginx_command(venv: Optional[Path], port: int, workdir: Path) -> List[str]:
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    keepalive_requests 1000000;
    server {{
        listen {HOST}:{port};
        location = / {{
            default_type "text/plain; charset=utf-8";
            return 200 "Hello, World!";
        }}
    }}
}}
""")
    return [shutil.which("nginx") or "nginx", "-p", str(workdir), "-c", str(conf), "-e", "stderr"]


def _catzilla_command(venv: Optional[Path], port: int, workdir: Path) -> List[str]:
    # catzilla and catzilla-before both run this tree's apps/catzilla_app.py (cwd is APPS)
    return [_venv_bin(venv, "python"), "catzilla_app.py", str(port)]


def _catzilla_fanout(mode: str) -> Callable[[Optional[Path], int, Path], List[str]]:
    return lambda venv, port, workdir: [_venv_bin(venv, "python"), "fanout_catzilla_app.py", str(port), mode]


# venvs built from this repository (or run from catzilla's)
CATZILLA_PEERS = ("catzilla", "catzilla-before", "catzilla-queue", "catzilla-mw", "catzilla-gzip")
MIDDLEWARE_VAR = "BENCH_MIDDLEWARE"   # read by apps/common.py: "noop" or "gzip"

PEERS: Dict[str, Peer] = {p.name: p for p in [
    Peer("catzilla", "catzilla", ["<repo>[fast]"], _catzilla_command,
         show_versions=("catzilla", "uvloop", "msgspec"),
         also=WS_SCENARIOS + UPLOAD_SCENARIOS + SSE_FANOUT + WS_FANOUT + GZIP_SCENARIOS + TYPED_SCENARIOS
         + DEPS_SCENARIOS,
         fanout=_catzilla_fanout("hub"),
         notes="this repository, pip-installed with its [fast] extra (uvloop); fan-out: "
               "`apps/fanout_catzilla_app.py hub` (catzilla.Broadcast: `hub.sse()`, `hub.attach()`, `hub.publish()`)"),
    Peer("catzilla-queue", "catzilla (queue per subscriber)", ["<repo>[fast]"], _catzilla_fanout("queue"),
         scenarios=(), also=SSE_FANOUT + WS_FANOUT, venv_of="catzilla", show_versions=("catzilla",),
         notes="the catzilla venv; `apps/fanout_catzilla_app.py queue`: every subscriber an async generator "
               "(SSE, in an EventSourceResponse) or a handler loop (WebSocket) awaiting its own asyncio.Queue, "
               "the publisher putting each event into every queue"),
    Peer("catzilla-mw", "catzilla + no-op middleware", ["<repo>[fast]"], _catzilla_command,
         scenarios=("plain", "plain16", "json"), venv_of="catzilla", env={MIDDLEWARE_VAR: "noop"},
         reference="catzilla", show_versions=("catzilla",),
         notes="the catzilla venv and app, with one `app.add_middleware(NoOpMiddleware)` whose `on_request` and "
               "`on_response` both return None: the cost of one middleware layer"),
    Peer("catzilla-gzip", "catzilla + GZipMiddleware", ["<repo>[fast]"], _catzilla_command,
         scenarios=(), also=GZIP_SCENARIOS, venv_of="catzilla", env={MIDDLEWARE_VAR: "gzip"},
         reference="catzilla", show_versions=("catzilla",),
         notes="the catzilla venv and app with `app.add_middleware(GZipMiddleware, compresslevel=6)` "
               "(catzilla.compression: zlib in C, the compressor sync-flushed whenever the stream writes)"),
    Peer("catzilla-before", "catzilla (before)", ["<git archive REV>[fast]"], _catzilla_command,
         show_versions=("catzilla", "uvloop", "msgspec", "orjson"), in_defaults=False,
         also=WS_SCENARIOS + UPLOAD_SCENARIOS + TYPED_SCENARIOS + DEPS_SCENARIOS,
         notes="the --before revision (git archive), pip-installed with its [fast] extra; "
               "runs this tree's apps/catzilla_app.py"),
    Peer("uvicorn-starlette", "uvicorn+starlette", ["uvicorn[standard]", "starlette", "websockets"],
         lambda v, port, w: [_venv_bin(v, "uvicorn"), "starlette_app:app", "--port", str(port), *UVICORN_FLAGS,
                             "--ws", "websockets"],
         show_versions=("uvicorn", "starlette", "uvloop", "httptools", "websockets"),
         also=WS_SCENARIOS + UPLOAD_SCENARIOS + GZIP_SCENARIOS,
         notes="uvicorn[standard]: httptools + uvloop; WebSockets by the `websockets` library (`--ws websockets`)"),
    Peer("uvicorn-starlette-gzip", "uvicorn+starlette + GZipMiddleware",
         ["uvicorn[standard]", "starlette", "websockets"],
         lambda v, port, w: [_venv_bin(v, "uvicorn"), "starlette_app:app", "--port", str(port), *UVICORN_FLAGS],
         scenarios=(), also=GZIP_SCENARIOS, venv_of="uvicorn-starlette", env={MIDDLEWARE_VAR: "gzip"},
         reference="uvicorn-starlette", show_versions=("uvicorn", "starlette"),
         notes="the uvicorn-starlette venv and app with `app.add_middleware(GZipMiddleware, compresslevel=6)` "
               "(starlette.middleware.gzip: zlib, each body message compressed and Z_SYNC_FLUSHed)"),
    Peer("fastapi", "fastapi (uvicorn)", ["uvicorn[standard]", "fastapi"],
         lambda v, port, w: [_venv_bin(v, "uvicorn"), "fastapi_app:app", "--port", str(port), *UVICORN_FLAGS],
         show_versions=("fastapi", "pydantic", "starlette", "uvicorn"), also=TYPED_SCENARIOS + DEPS_SCENARIOS,
         notes="orders/search: pydantic v2 models with `Field` constraints, `Query` markers, `async def` handlers; "
               "deps: `Depends` on `async def` dependencies (the yield one an async generator), as FastAPI's docs "
               "write them for an async app (a plain `def` dependency runs on its thread pool)"),
    Peer("litestar", "litestar (uvicorn)", ["uvicorn[standard]", "litestar"],
         lambda v, port, w: [_venv_bin(v, "uvicorn"), "litestar_app:app", "--port", str(port), *UVICORN_FLAGS],
         scenarios=(), also=TYPED_SCENARIOS + DEPS_SCENARIOS, show_versions=("litestar", "msgspec", "uvicorn"),
         notes="`apps/litestar_app.py`: msgspec Structs with the constraints as `msgspec.Meta`, query constraints "
               "by `Parameter`, `async def` handlers; deps: the route's `dependencies=` with "
               "`Provide(get_settings, sync_to_thread=False)` and `Provide(get_session)` (a generator: stepped on the "
               "event loop), both on the event loop"),
    Peer("catzilla-023", "catzilla 0.2.3", ["catzilla==0.2.3"],
         lambda v, port, w: [_venv_bin(v, "python"), "catzilla023_app.py", str(port)],
         scenarios=(), also=TYPED_SCENARIOS, show_versions=("catzilla",),
         notes="the earlier release from PyPI in its own venv, `apps/catzilla023_app.py` in its API (BaseModel/Field "
               "with `regex=` and `min_items`, `Query` markers, auto-validation, `production=True`); its query "
               "parameters keep one value per key, so `tags=a&tags=b` gives \"b\": a wrong answer; no deps: its "
               "`Depends(\"name\")` resolves services registered by name, with no yield dependencies"),
    Peer("blacksheep", "blacksheep (uvicorn)", ["uvicorn[standard]", "blacksheep"],
         lambda v, port, w: [_venv_bin(v, "uvicorn"), "blacksheep_app:app", "--port", str(port), *UVICORN_FLAGS],
         show_versions=("blacksheep", "uvicorn")),
    Peer("granian", "granian (RSGI)", ["granian[uvloop]"],
         lambda v, port, w: [_venv_bin(v, "granian"), "--interface", "rsgi", "--host", HOST, "--port", str(port),
                             "--workers", "1", "--runtime-threads", "1", "--blocking-threads", "1",
                             "--loop", "uvloop", "--no-ws", "--log-level", "warning", "--no-access-log",
                             "granian_rsgi_app:app"],
         show_versions=("granian", "uvloop"), also=UPLOAD_SCENARIOS,
         notes="bare RSGI app, 1 worker, 1 runtime thread; uploads read with `async for chunk in proto`"),
    Peer("granian-asgi", "granian (ASGI)", ["granian[uvloop]"],
         lambda v, port, w: [_venv_bin(v, "granian"), "--interface", "asgi", "--host", HOST, "--port", str(port),
                             "--workers", "1", "--runtime-threads", "1", "--blocking-threads", "1",
                             "--loop", "uvloop", "--log-level", "warning", "--no-access-log",
                             "granian_asgi_app:app"],
         scenarios=(), also=WS_SCENARIOS, show_versions=("granian", "uvloop"),
         notes="a bare ASGI app (no framework) for the WebSocket echo, same flags as the RSGI peer"),
    Peer("socketify", "socketify", ["socketify"],
         lambda v, port, w: [_venv_bin(v, "python"), "socketify_app.py", str(port)],
         show_versions=("socketify",), also=WS_SCENARIOS + WS_FANOUT,
         fanout=lambda v, port, w: [_venv_bin(v, "python"), "fanout_socketify_app.py", str(port)],
         notes="WebSocket echo: uWS `message` handler calling `ws.send(message, opcode)`, compression off; "
               "fan-out: uWS pub/sub (`ws.subscribe(topic)` on open, `app.publish(topic, data, OpCode.TEXT)`)"),
    Peer("starlette-broadcaster", "starlette+broadcaster (uvicorn)",
         ["uvicorn[standard]", "starlette", "websockets", "sse-starlette", "broadcaster"],
         lambda v, port, w: [_venv_bin(v, "uvicorn"), "fanout_starlette_app:app", "--port", str(port),
                             *UVICORN_FLAGS, "--ws", "websockets"],
         scenarios=(), also=SSE_FANOUT + WS_FANOUT,
         show_versions=("uvicorn", "starlette", "sse-starlette", "broadcaster", "websockets"),
         notes="`apps/fanout_starlette_app.py`: broadcaster `Broadcast(\"memory://\")`, each subscriber its own "
               "`broadcast.subscribe(channel)`; SSE by sse-starlette's `EventSourceResponse`, WebSockets by "
               "`websockets` (`--ws websockets`)"),
    Peer("uvloop-proto", "uvloop protocol (canned)", ["uvloop"],
         lambda v, port, w: [_venv_bin(v, "python"), "uvloop_proto_app.py", str(port)],
         scenarios=("plain", "plain16"), show_versions=("uvloop",),
         notes="a bare asyncio.Protocol on uvloop answering every request head with one canned response, "
               "no HTTP parsing: the event loop's ceiling"),
    Peer("nginx", "nginx", [], _nginx_command, scenarios=("plain",),
         notes="static `return 200`, 1 worker: the ceiling for tiny responses"),
]}
DEFAULT_PEERS = [p.name for p in PEERS.values() if p.in_defaults]

# ----------------------------------------------------------------------------------------
# Scenarios
# ----------------------------------------------------------------------------------------

STREAM10K_BODY = b"".join(line.encode() for line in common.lines10k())
POST_BODY = b"a" * 4096   # the same body as lua/post4k.lua sends
ORDER_BODY = (LUA / "orders.json").read_bytes().rstrip()   # what lua/orders.lua sends (it strips the same way)


def _order_answer(body: bytes) -> Dict:
    """What POST /orders answers for `body`: the customer's id, the item count, round(sum(qty * price), 2)."""
    order = json.loads(body)
    return {"customer": order["customer"]["id"], "items": len(order["items"]),
            "total": round(sum(item["qty"] * item["price"] for item in order["items"]), 2)}


ORDER_ANSWER = _order_answer(ORDER_BODY)
SEARCH_ANSWER = {"q": "cat", "limit": 20, "offset": 0, "tags": ["a", "b"]}
DEPS_ANSWER = {"region": "eu", "open": True, "limit": 20}
DEPS_CLOSED_ANSWER = {"closed": 1}   # after the one checked GET /deps on a fresh server: its teardown ran, once


@dataclass
class Scenario:
    name: str
    title: str
    path: str
    kind: str = "wrk"                  # "wrk" (requests/s), "download" (one client, MB/s),
                                       # "ws" (loadgen.c echo, messages/s), "upload" (loadgen.c, MB/s),
                                       # "gzip" (wrk with Accept-Encoding: gzip, the answer decoded and checked)
    method: str = "GET"
    lua: Optional[str] = None
    timeout: str = "10s"               # wrk's per-request timeout
    check: Optional[Callable[[int, bytes], Optional[str]]] = None   # -> error text or None
    body: Optional[bytes] = None
    pipeline: int = 1                  # requests per write (the lua script's depth); the check sends as many
    size: int = 0                      # ws: bytes per message
    framing: str = ""                  # upload: "cl" (Content-Length) or "chunked"
    proto: str = ""                    # fanout: "sse" or "wssub" (loadgen.c's mode)
    subscribers: int = 0               # fanout: connections (--subscribers overrides)
    topics: int = 1                    # fanout: subscribers spread evenly over this many topics
    connections: int = 0               # wrk connections for this scenario (0: --connections)
    content_type: str = "application/octet-stream"   # of the body the check sends (the lua script sets its own)
    opt_in: bool = False               # an HTTP scenario only the peers listing it in Peer.also serve
    catzilla_needs: Tuple[str, ...] = ()   # names catzilla must export for a catzilla peer to serve it
                                           # (a --before revision may predate them: then n/a, with a note)
    then: Optional[Tuple[str, Callable[[int, bytes], Optional[str]]]] = None   # a GET after the checked answer,
                                           # and its check (retried for up to 2 s: work after the response)


def _expect(status: int, body: bytes, want: bytes) -> Optional[str]:
    if status != 200:
        return f"status {status}"
    if body != want:
        return f"unexpected body {body[:60]!r} ({len(body)} bytes)"
    return None


def _expect_json(status: int, body: bytes, want) -> Optional[str]:
    if status != 200:
        return f"status {status}"
    try:
        got = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:60]!r}"
    return None if got == want else f"unexpected JSON {got!r}, expected {want!r}"


SCENARIOS: Dict[str, Scenario] = {s.name: s for s in [
    Scenario("plain", 'GET / (text "Hello, World!")', "/",
             check=lambda st, b: _expect(st, b, b"Hello, World!")),
    Scenario("plain16", "GET /, pipelined 16 deep (16 requests per write)", "/", lua="pipeline16.lua",
             pipeline=16, check=lambda st, b: _expect(st, b, b"Hello, World!")),
    Scenario("json", "GET /json", "/json",
             check=lambda st, b: _expect_json(st, b, {"message": "Hello, World!"})),
    Scenario("params", "GET /users/{id}", "/users/42",
             check=lambda st, b: _expect_json(st, b, {"id": 42})),
    Scenario("post4k", "POST /echo, 4 KiB body", "/echo", method="POST", lua="post4k.lua", body=POST_BODY,
             check=lambda st, b: _expect(st, b, POST_BODY)),
    Scenario("orders", "POST /orders: a 10-item JSON order validated into nested models", "/orders",
             method="POST", lua="orders.lua", body=ORDER_BODY, content_type="application/json", opt_in=True,
             catzilla_needs=TYPED_NEEDS, check=lambda st, b: _expect_json(st, b, ORDER_ANSWER)),
    Scenario("search", "GET /search?q=cat&limit=20&tags=a&tags=b: typed query parameters",
             "/search?q=cat&limit=20&tags=a&tags=b", opt_in=True, catzilla_needs=TYPED_NEEDS,
             check=lambda st, b: _expect_json(st, b, SEARCH_ANSWER)),
    Scenario("deps", "GET /deps?limit=20: a plain and a yield dependency, a typed query parameter",
             f"{common.DEPS_PATH}?limit=20", opt_in=True, catzilla_needs=DEPS_NEEDS,
             check=lambda st, b: _expect_json(st, b, DEPS_ANSWER),
             then=(common.DEPS_CLOSED_PATH, lambda st, b: _expect_json(st, b, DEPS_CLOSED_ANSWER))),
    Scenario("stream10k", "GET /stream10k (10,000-line sync generator)", "/stream10k", timeout="60s",
             check=lambda st, b: _expect(st, b, STREAM10K_BODY)),
    Scenario("stream64m", "GET /stream64m (64 MiB in 64 KiB chunks, 1 client)", "/stream64m", kind="download"),
    # Two connections: enough to keep one server CPU busy with 10,000-chunk answers, few enough that a slow
    # peer still finishes answers within a run (wrk counts only finished ones; with 64 Starlette finishes none)
    Scenario("gzip10k", "GET /stream10k with Accept-Encoding: gzip (2 connections)", "/stream10k", kind="gzip",
             lua="gzip.lua", timeout="60s", connections=2),
    Scenario("gzip10k-async", "GET /astream10k (the same lines from an async generator) with Accept-Encoding: "
             "gzip (2 connections)", "/astream10k", kind="gzip", lua="gzip.lua", timeout="60s", connections=2),
    Scenario("ws32", "WebSocket echo, 32 B binary messages", common.WS_PATH, kind="ws", size=32),
    Scenario("ws16k", "WebSocket echo, 16 KiB binary messages", common.WS_PATH, kind="ws", size=16 * 1024),
    Scenario("upload-cl", "POST /upload, 1 GiB body with Content-Length, consumed chunk by chunk",
             common.UPLOAD_PATH, kind="upload", method="POST", framing="cl"),
    Scenario("upload-chunked", "POST /upload, 1 GiB chunked body (64 KiB chunks), consumed chunk by chunk",
             common.UPLOAD_PATH, kind="upload", method="POST", framing="chunked"),
    Scenario("sse10k", "10,000 SSE subscribers of one topic, 2 events/s each", common.FANOUT_SSE_PATH,
             kind="fanout", proto="sse", subscribers=10_000, topics=1),
    Scenario("sse100x100", "100 topics x 100 SSE subscribers, 2 events/s each", common.FANOUT_SSE_PATH,
             kind="fanout", proto="sse", subscribers=10_000, topics=100),
    Scenario("ws10k", "10,000 WebSocket subscribers of one topic, 2 events/s each", common.FANOUT_WS_PATH,
             kind="fanout", proto="wssub", subscribers=10_000, topics=1),
    Scenario("ws100x100", "100 topics x 100 WebSocket subscribers, 2 events/s each", common.FANOUT_WS_PATH,
             kind="fanout", proto="wssub", subscribers=10_000, topics=100),
]}
HTTP_KINDS = ("wrk", "download")       # the main table's scenarios; ws, upload, fanout have their own tables


# (peer, scenario) -> why that peer's install can't serve it (main() fills it in: catzilla_needs)
NOT_SERVED: Dict[Tuple[str, str], str] = {}


def supports(peer: Peer, sc: Scenario) -> bool:
    """Whether `peer` takes part in `sc`: ws, upload and the opt_in scenarios are opt-in (Peer.also)."""
    if (peer.name, sc.name) in NOT_SERVED:
        return False
    if sc.kind not in HTTP_KINDS or sc.opt_in:
        return sc.name in peer.also
    return peer.scenarios is None or sc.name in peer.scenarios
DEFAULT_SCENARIOS = [n for n, sc in SCENARIOS.items() if sc.kind != "fanout"]   # fan-out: ask for it


# ----------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tail(text: str, lines: int = 6) -> str:
    kept = [ln for ln in text.strip().splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
    return " | ".join(kept[-lines:])[-600:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def clean_env() -> Dict[str, str]:
    """The servers' environment: no PYTHONPATH, so each imports its own venv's packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def fetch(port: int, method: str, path: str, body: Optional[bytes] = None, timeout: float = 10.0,
          content_type: str = "application/octet-stream"):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class _SocketReader:
    """Buffered reads from a socket for parsing back-to-back (pipelined) responses."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("connection closed")
        self.buf += data

    def until(self, marker: bytes, limit: int = 65536) -> bytes:
        """Bytes up to and including marker."""
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[:i + len(marker)])
                del self.buf[:i + len(marker)]
                return out
            if len(self.buf) > limit:
                raise RuntimeError(f"no {marker!r} in the first {limit} bytes")
            self._fill()

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def _read_response_parts(reader: _SocketReader) -> Tuple[int, Dict[str, str], List[bytes]]:
    """One HTTP/1.1 response (Content-Length or chunked body) -> (status, headers with lower-case
    names and values, the body as its chunks on the wire: one part for Content-Length)."""
    lines = reader.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: Dict[str, str] = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip().lower()
    if "content-length" in headers:
        return status, headers, [reader.exactly(int(headers["content-length"]))]
    if "chunked" in headers.get("transfer-encoding", ""):
        parts: List[bytes] = []
        while True:
            size = int(reader.until(b"\r\n").split(b";")[0].strip(), 16)
            if size == 0:
                while reader.until(b"\r\n") != b"\r\n":   # trailers, if any
                    pass
                return status, headers, parts
            parts.append(reader.exactly(size))
            if reader.exactly(2) != b"\r\n":
                raise RuntimeError("bad chunk framing")
    raise RuntimeError("a response without Content-Length or chunked framing")


def _read_response(reader: _SocketReader) -> Tuple[int, bytes]:
    """One HTTP/1.1 response -> (status, body)."""
    status, _, parts = _read_response_parts(reader)
    return status, b"".join(parts)


def fetch_pipelined(port: int, path: str, depth: int, timeout: float = 10.0) -> List[Tuple[int, bytes]]:
    """`depth` GET requests written at once on one connection (as lua/pipeline16.lua does);
    -> the (status, body) of each answer, in order."""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(request * depth)
        reader = _SocketReader(sock)
        answers = []
        for i in range(depth):
            try:
                answers.append(_read_response(reader))
            except (RuntimeError, ValueError, IndexError, OSError) as exc:
                raise RuntimeError(f"pipelined answer {i + 1} of {depth}: {exc}") from None
        if reader.buf:
            raise RuntimeError(f"{len(reader.buf)} bytes after the {depth} pipelined answers")
        return answers


# ----------------------------------------------------------------------------------------
# Installing the peers
# ----------------------------------------------------------------------------------------

def catzilla_sources() -> List[Path]:
    """The files pip needs to build catzilla: the repo's packaging files, catzilla/, include/."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\n")
        names = [n for n in out if n]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    keep = []
    for n in names:
        top = n.split("/", 1)[0]
        if "/" not in n or top in ("catzilla", "include"):
            if n.endswith((".so", ".pyc")) or (top == "catzilla" and n.endswith(".c")):
                continue   # build products: the venv's package is compiled from source
            if (ROOT / n).is_file():
                keep.append(ROOT / n)
    return sorted(keep)


def install_catzilla(venv: Path, reinstall: bool) -> str:
    """pip install the repository (copied to a staging folder so that building it never
    touches the working tree's build/ and .so files, which others may be rebuilding).
    Reinstalls only when the sources changed."""
    files = catzilla_sources()
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    stamp_value = digest.hexdigest()
    stamp = venv / ".bench-stamp"
    if not reinstall and stamp.exists() and stamp.read_text() == stamp_value:
        return "up to date"
    with tempfile.TemporaryDirectory(prefix="catzilla-stage-") as stage:
        for f in files:
            dest = Path(stage) / f.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
        _pip_install_stage(venv, Path(stage), "the repository")
    stamp.write_text(stamp_value)
    return "installed from source"


def _pip_install_stage(venv: Path, stage: Path, what: str) -> None:
    r = subprocess.run([_venv_bin(venv, "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--force-reinstall", f"{stage}[fast]"], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"pip install of {what} failed: {tail(r.stderr + r.stdout)}")


@dataclass
class Revision:
    """What --before names: the ref as given, and the commit and tree it resolves to."""
    rev: str
    commit: str
    short: str
    tree: str


def resolve_revision(rev: str) -> Revision:
    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"git {' '.join(a)}: {tail(r.stderr) or 'failed'}")
        return r.stdout.strip()
    commit = git("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
    return Revision(rev, commit, git("rev-parse", "--short", commit), git("rev-parse", f"{commit}^{{tree}}"))


def install_catzilla_revision(venv: Path, revision: Revision, reinstall: bool) -> str:
    """pip install catzilla as it was at a git revision: `git archive` of it unpacked into a
    staging folder and installed from that tree's own packaging files (its pyproject/setup.py,
    whatever layout it has). Reinstalls only when the revision's tree hash changes."""
    stamp = venv / ".bench-stamp"
    stamp_value = f"tree {revision.tree}"
    if not reinstall and stamp.exists() and stamp.read_text() == stamp_value:
        return f"up to date ({revision.short})"
    with tempfile.TemporaryDirectory(prefix="catzilla-before-stage-") as stage:
        archive = Path(stage) / "rev.tar"
        r = subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), revision.commit],
                           cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"git archive {revision.commit} failed: {tail(r.stderr)}")
        tree = Path(stage) / "tree"
        tree.mkdir()
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tree, filter="data")
            else:   # Python < 3.10.12 / 3.11.4: git archive writes no links out of the tree anyway
                tar.extractall(tree)
        if not (tree / "pyproject.toml").exists() and not (tree / "setup.py").exists():
            raise RuntimeError(f"{revision.rev} ({revision.short}) has no pyproject.toml or setup.py at its top")
        _pip_install_stage(venv, tree, f"{revision.rev} ({revision.short})")
    stamp.write_text(stamp_value)
    return f"installed from git archive {revision.short}"


def ensure_peer(peer: Peer, reinstall: bool, before: Optional[Revision] = None) -> Tuple[Optional[Path], str]:
    """-> (venv or None, status). Raises RuntimeError with the reason when it can't be had."""
    if peer.venv_of:
        return ensure_peer(PEERS[peer.venv_of], reinstall, before)
    if not peer.requirements:   # nginx
        exe = shutil.which("nginx")
        if not exe:
            raise RuntimeError("nginx is not installed (apt-get install nginx-light, or `make system-deps`)")
        return None, exe
    venv = VENVS / peer.name
    if not (venv / "bin" / "python").exists():
        base = getattr(sys, "_base_executable", sys.executable)
        r = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"python -m venv failed: {tail(r.stderr + r.stdout)}")
    if peer.name == "catzilla":
        status = install_catzilla(venv, reinstall)
    elif peer.name == "catzilla-before":
        if before is None:
            raise RuntimeError("catzilla-before needs --before REV")
        status = install_catzilla_revision(venv, before, reinstall)
    else:
        stamp = venv / ".bench-stamp"
        want = json.dumps(peer.requirements)
        status = "up to date"
        if reinstall or not stamp.exists() or stamp.read_text() != want:
            r = subprocess.run([_venv_bin(venv, "python"), "-m", "pip", "install", "-q",
                                "--disable-pip-version-check", *peer.requirements],
                               capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                raise RuntimeError(f"pip install {' '.join(peer.requirements)} failed: {tail(r.stderr + r.stdout)}")
            stamp.write_text(want)
            status = "installed"
    return venv, status


def peer_versions(peer: Peer, venv: Optional[Path]) -> str:
    if venv is None:
        r = subprocess.run([shutil.which("nginx") or "nginx", "-v"], capture_output=True, text=True)
        return (r.stderr or r.stdout).strip().replace("nginx version: ", "")
    r = subprocess.run([_venv_bin(venv, "python"), "-m", "pip", "list", "--format=json",
                        "--disable-pip-version-check"], capture_output=True, text=True)
    try:
        installed = {p["name"].lower(): p["version"] for p in json.loads(r.stdout)}
    except ValueError:
        return "?"
    return ", ".join(f"{n} {installed[n]}" for n in peer.show_versions if n in installed)


# ----------------------------------------------------------------------------------------
# Running a server
# ----------------------------------------------------------------------------------------

class Server:
    def __init__(self, peer: Peer, venv: Optional[Path], fanout_topics: int = 0):
        """fanout_topics > 0: start the peer's fan-out app, publishing to that many topics."""
        self.peer = peer
        self.venv = venv
        self.command = peer.fanout if fanout_topics and peer.fanout else peer.command
        self.env = clean_env()
        self.env.update(peer.env)
        if fanout_topics:
            self.env["FANOUT_TOPICS"] = str(fanout_topics)
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bench-{peer.name}-"))
        self.log_path = self.workdir / "server.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 30.0) -> None:
        argv = ["taskset", "-c", str(SERVER_CPU)] + self.command(self.venv, self.port, self.workdir)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=APPS, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with code {self.proc.returncode}: {self.log_tail()}")
            try:
                status, body = fetch(self.port, "GET", "/", timeout=2.0)
                if status == 200:
                    return
                last = f"GET / answered {status}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise RuntimeError(f"not ready after {timeout:.0f} s ({last}): {self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        try:
            return tail(self.log_path.read_text(errors="replace"))
        except OSError:
            return ""

    def pids(self) -> List[int]:
        """The server's process and all its descendants (granian and nginx fork workers)."""
        if not self.alive():
            return []
        children: Dict[int, List[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        assert self.proc is not None
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)   # the group this Server started
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.proc.wait(5)
            else:
                # the leader is gone; make sure no worker of its group lingers
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def rss_bytes(pids: List[int], field: str = "VmRSS:") -> int:
    """Sum of a /proc/<pid>/status memory field over pids (VmRSS now, VmHWM: the peak so far)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            pass
    return total


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_busy_seconds(cpu: int) -> float:
    """Busy time of one CPU so far, from /proc/stat (every state but idle and iowait): unlike a
    process's utime+stime it includes the softirq time in which loopback TCP delivers packets."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                return (sum(v[:8]) - v[3] - v[4]) / _TICK   # user nice system idle iowait irq softirq steal
    return 0.0


def cpu_seconds(pids: List[int]) -> float:
    """User + system CPU time of pids so far (/proc/<pid>/stat utime and stime)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / _TICK


# ----------------------------------------------------------------------------------------
# Load generators
# ----------------------------------------------------------------------------------------

_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def _wrk_bytes(text: str) -> float:
    m = re.match(r"([\d.]+)\s*([KMGT]?)B", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else 0.0


def run_wrk_measured(server: Server, sc: Scenario, duration: float, connections: int) -> Dict:
    """run_wrk, plus the server's CPU time over it (its process tree, /proc): per request it is
    steadier than requests/s when other processes take turns on the server's CPU."""
    pids = server.pids()
    c0 = cpu_seconds(pids)
    res = run_wrk(server.port, sc, duration, connections)
    res["server_cpu_s"] = cpu_seconds(pids) - c0
    if res["requests"]:
        res["cpu_us_per_request"] = res["server_cpu_s"] / res["requests"] * 1e6
    return res


def run_wrk(port: int, sc: Scenario, duration: float, connections: int) -> Dict:
    connections = sc.connections or connections
    argv = ["taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s",
            "--latency", "--timeout", sc.timeout]
    if sc.lua:
        argv += ["-s", str(LUA / sc.lua)]
    argv.append(f"http://{HOST}:{port}{sc.path}")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120)
    out = r.stdout
    if r.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {tail(r.stderr + out)}")
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    res: Dict = {"rps": float(m.group(1)) if m else 0.0}
    m = re.search(r"Transfer/sec:\s*(\S+)", out)
    res["bytes_per_s"] = _wrk_bytes(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+(\S+)", out, re.M)
        res[f"p{pct}"] = m.group(1) if m else "?"
    problems = []
    if res["non2xx"]:
        problems.append(f"{res['non2xx']} non-2xx responses")
    errs = {k: v for k, v in res["socket_errors"].items() if v}
    if errs:
        problems.append("socket errors " + ", ".join(f"{k} {v}" for k, v in errs.items()))
    if problems:
        res["problems"] = "; ".join(problems)
    return res


class ChunkedCounter:
    """Counts the payload of a chunked body as it arrives, without copying it."""

    def __init__(self) -> None:
        self.payload = 0
        self.state = "size"
        self.remaining = 0
        self.line = b""
        self.done = False

    def feed(self, data: memoryview) -> None:
        i, n = 0, len(data)
        while i < n and not self.done:
            if self.state == "data":
                take = min(self.remaining, n - i)
                i += take
                self.remaining -= take
                self.payload += take
                if self.remaining == 0:
                    self.state, self.remaining = "crlf", 2
            elif self.state in ("crlf", "end"):
                take = min(self.remaining, n - i)
                i += take
                self.remaining -= take
                if self.remaining == 0:
                    if self.state == "end":
                        self.done = True
                    self.state = "size"
            else:  # size line
                window = bytes(data[i:i + 80])
                j = window.find(b"\n")
                if j < 0:
                    self.line += window
                    i += len(window)
                    if len(self.line) > 1024:
                        raise ValueError("chunk size line too long")
                    continue
                self.line += window[:j + 1]
                i += j + 1
                size = int(self.line.split(b";")[0].strip(), 16)
                self.line = b""
                if size == 0:
                    self.state, self.remaining = "end", 2   # no trailers expected
                else:
                    self.state, self.remaining = "data", size


def download(port: int, path: str, buf: memoryview, timeout: float = 60.0) -> Tuple[int, float]:
    """GET path on a new connection, read the whole body as fast as possible.
    -> (payload bytes, seconds from connect to the last byte)."""
    t0 = time.perf_counter()
    sock = socket.create_connection((HOST, port), timeout=timeout)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head[:65536]:
            if len(head) > 65536:
                raise RuntimeError("response head too large")
            n = sock.recv_into(buf)
            if n == 0:
                raise RuntimeError("connection closed before the response head")
            head += bytes(buf[:n])
        end = head.index(b"\r\n\r\n") + 4
        lines = head[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if status != 200:
            raise RuntimeError(f"status {status}")
        headers = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                headers[k.strip().lower()] = v.strip().lower()
        rest = memoryview(head)[end:]
        if "content-length" in headers:
            need, got = int(headers["content-length"]), len(rest)
            while got < need:
                n = sock.recv_into(buf)
                if n == 0:
                    break
                got += n
            payload = min(got, need)
        elif "chunked" in headers.get("transfer-encoding", ""):
            counter = ChunkedCounter()
            counter.feed(rest)
            while not counter.done:
                n = sock.recv_into(buf)
                if n == 0:
                    raise RuntimeError("connection closed inside the chunked body")
                counter.feed(buf[:n])
            payload = counter.payload
        else:   # read to EOF
            payload = len(rest)
            while True:
                n = sock.recv_into(buf)
                if n == 0:
                    break
                payload += n
        return payload, time.perf_counter() - t0
    finally:
        sock.close()


def run_download(server: Server, sc: Scenario, duration: float) -> Dict:
    """One client, back-to-back downloads for `duration` s (at least 3); the server's RSS
    (its whole process tree) sampled every 50 ms from /proc."""
    buf = memoryview(bytearray(1 << 20))
    payload, secs = download(server.port, sc.path, buf)          # warm-up + check
    if payload != common.BIG_TOTAL:
        raise RuntimeError(f"body is {payload} bytes, expected {common.BIG_TOTAL}")
    pids = server.pids()
    rss_before = rss_bytes(pids)
    samples: List[int] = [rss_before]
    stop = threading.Event()

    def sampler():
        while not stop.wait(0.05):
            samples.append(rss_bytes(pids))

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    total_bytes, total_secs, count = 0, 0.0, 0
    deadline = time.monotonic() + duration
    try:
        while count < 3 or time.monotonic() < deadline:
            payload, secs = download(server.port, sc.path, buf)
            if payload != common.BIG_TOTAL:
                raise RuntimeError(f"body is {payload} bytes, expected {common.BIG_TOTAL}")
            total_bytes += payload
            total_secs += secs
            count += 1
    finally:
        stop.set()
        th.join()
    samples.append(rss_bytes(pids))
    return {"mb_per_s": total_bytes / total_secs / MB, "downloads": count,
            "rss_before": rss_before, "rss_peak": max(samples), "rss_samples": len(samples)}


def check_stream_answer(port: int, sc: Scenario, want_gzip: bool) -> Dict:
    """One GET of sc.path with Accept-Encoding: gzip, read chunk by chunk: it must be gzip (with
    Vary: Accept-Encoding) when the peer compresses, identity when not, and decode to the 10,000
    lines. -> the answer's shape: body bytes as sent, chunks on the wire, and how many chunks end
    on a whole line once everything up to them is decoded (all of them: each chunk the app
    yielded was flushed on its own, the stream stays incremental)."""
    request = f"GET {sc.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept-Encoding: gzip\r\n\r\n".encode()
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(request)
        status, headers, parts = _read_response_parts(_SocketReader(sock))
    if status != 200:
        raise RuntimeError(f"status {status}")
    coding = headers.get("content-encoding", "identity")
    if coding != ("gzip" if want_gzip else "identity"):
        raise RuntimeError(f"Content-Encoding {coding}, expected {'gzip' if want_gzip else 'none'}")
    if want_gzip and "accept-encoding" not in headers.get("vary", ""):
        raise RuntimeError(f"gzip answer without Vary: Accept-Encoding (Vary: {headers.get('vary')!r})")
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if want_gzip else None
    decoded = bytearray()
    whole_lines = 0
    try:
        for part in parts:
            decoded += decoder.decompress(part) if decoder else part
            whole_lines += decoded.endswith(b"\n")
    except zlib.error as exc:
        raise RuntimeError(f"the gzip body does not decode: {exc}") from None
    if decoder is not None and (not decoder.eof or decoder.unused_data):
        raise RuntimeError("the gzip stream is truncated or has bytes after its end")
    if decoded != STREAM10K_BODY:
        raise RuntimeError(f"decoded body differs from the 10,000 lines ({len(decoded)} bytes)")
    return {"encoding": coding, "body_bytes": sum(map(len, parts)), "decoded_bytes": len(decoded),
            "wire_chunks": len(parts), "whole_line_chunks": whole_lines}


def run_gzip(server: Server, sc: Scenario, duration: float, warmup: float, connections: int) -> Dict:
    """The answer checked once (check_stream_answer), then wrk with lua/gzip.lua; MB/s of the body
    as sent and decoded = requests/s x the checked answer's sizes (wrk does not decode)."""
    shape = check_stream_answer(server.port, sc, server.peer.env.get(MIDDLEWARE_VAR) == "gzip")
    if warmup > 0:
        run_wrk(server.port, sc, warmup, connections)
    res = run_wrk_measured(server, sc, duration, connections)
    res.update(shape)
    res["body_mb_per_s"] = res["rps"] * shape["body_bytes"] / MB
    res["decoded_mb_per_s"] = res["rps"] * shape["decoded_bytes"] / MB
    res["lines_per_s"] = res["rps"] * common.STREAM_LINES
    return res


LOADGEN_SRC = HERE / "loadgen.c"
_loadgen_built: Dict[str, Path] = {}


def ensure_loadgen() -> Path:
    """loadgen.c compiled with gcc -O2 into .venvs/ (once per source version)."""
    digest = hashlib.sha256(LOADGEN_SRC.read_bytes()).hexdigest()[:12]
    if digest in _loadgen_built:
        return _loadgen_built[digest]
    exe = VENVS / f"loadgen-{digest}"
    if not exe.exists():
        cc = shutil.which("gcc") or shutil.which("cc")
        if not cc:
            raise RuntimeError("gcc is not installed (`make system-deps`): the ws/upload load generator is C")
        VENVS.mkdir(parents=True, exist_ok=True)
        tmp = exe.with_suffix(".tmp")
        r = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", str(tmp), str(LOADGEN_SRC)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"compiling loadgen.c failed: {tail(r.stderr)}")
        tmp.rename(exe)
    _loadgen_built[digest] = exe
    return exe


def run_loadgen(args: List[str], timeout: float) -> Dict:
    """loadgen on the client CPU -> its JSON report (RuntimeError with its message on failure)."""
    argv = ["taskset", "-c", str(CLIENT_CPU), str(ensure_loadgen()), *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    lines = r.stdout.strip().splitlines()
    try:
        res = json.loads(lines[-1]) if lines else {}
    except ValueError:
        res = {}
    if "error" in res:
        raise RuntimeError(f"loadgen: {res['error']}")
    if r.returncode != 0 or not res:
        raise RuntimeError(f"loadgen exited with {r.returncode}: {tail(r.stderr + r.stdout)}")
    return res


def run_ws(server: Server, sc: Scenario, duration: float, warmup: float, connections: int) -> Dict:
    """WebSocket echo: `connections` sockets, each one message in flight (loadgen.c checks every
    echo byte for byte). A warm-up run, then the measured one; the server's CPU time (its process
    tree) is read from /proc around the measured run, the client's from its own getrusage."""
    common_args = ["ws", HOST, str(server.port), sc.path, str(connections), str(sc.size)]
    if warmup > 0:
        run_loadgen(common_args + ["0", f"{warmup:g}"], timeout=warmup + 60)
    pids = server.pids()
    c0, t0 = cpu_seconds(pids), time.perf_counter()
    res = run_loadgen(common_args + ["0", f"{duration:g}"], timeout=duration + 60)
    wall = time.perf_counter() - t0
    res["server_cpu"] = (cpu_seconds(pids) - c0) / wall           # cores busy (1.0 = one core)
    res["client_cpu"] = (res["cpu_user"] + res["cpu_sys"]) / res["seconds"]
    return res


def run_fanout(server: Server, sc: Scenario, duration: float, warmup: float, subscribers: int,
               procs: int) -> Dict:
    """Fan-out: `loadgen.c sse|wssub` opens `subscribers` connections (split over `procs` processes,
    all on the client CPU), waits `warmup` s once all are connected, then measures the events
    published in the next `duration` s. Its phase lines ("measuring", "measured") mark the window:
    the server's CPU time (its process tree, /proc) is read at both, its RSS at the end."""
    pids = server.pids()
    rss_idle = rss_bytes(pids)
    argv = ["taskset", "-c", str(CLIENT_CPU), str(ensure_loadgen()), sc.proto, HOST, str(server.port), sc.path,
            str(subscribers), str(sc.topics), str(procs), f"{warmup:g}", f"{duration:g}"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for ln in proc.stdout:
            lines.put(ln)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + 600 + warmup + duration + 60   # loadgen's own connect limit is 600 s
    res: Dict = {}
    marks: Dict[str, Tuple[float, float]] = {}
    rss_connected = 0
    try:
        while True:
            try:
                ln = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError("loadgen did not finish in time") from None
            if ln is None:
                break
            try:
                msg = json.loads(ln)
            except ValueError:
                continue
            phase = msg.get("phase")
            if phase == "connected":
                rss_connected = rss_bytes(pids)
                res["connect_s"] = msg.get("seconds")
            elif phase in ("measuring", "measured"):
                marks[phase] = (cpu_seconds(pids), time.perf_counter(), cpu_busy_seconds(SERVER_CPU))
                if phase == "measured":
                    res["rss"] = rss_bytes(pids)
                    res["hwm"] = rss_bytes(pids, "VmHWM:")
            else:
                res.update(msg)
    finally:
        if proc.poll() is None:
            proc.kill()     # only on an error above: loadgen's subscriber processes die with it
        proc.wait()
    if "error" in res:
        raise RuntimeError(f"loadgen: {res['error']}")
    if proc.returncode != 0 or "deliveries" not in res or len(marks) != 2:
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"loadgen exited with {proc.returncode}: {tail(err)}")
    (c0, w0, b0), (c1, w1, b1) = marks["measuring"], marks["measured"]
    res["server_cpu"] = (c1 - c0) / (w1 - w0)                     # cores busy (1.0 = one core)
    res["cpu0_busy"] = (b1 - b0) / (w1 - w0)                      # the server's CPU as a whole
    res["client_cpu"] = (res["cpu_user"] + res["cpu_sys"]) / res["seconds"]   # all its processes
    res["rss_idle"] = rss_idle
    res["rss_connected"] = rss_connected
    return res


UPLOAD_CHUNK = 64 * 1024       # chunk size of the chunked uploads
UPLOAD_CHECK = 64 * 2 ** 20    # the first, unmeasured upload (answer check + warm-up)


def run_upload(server: Server, sc: Scenario, duration: float, upload_bytes: int) -> Dict:
    """Back-to-back uploads of `upload_bytes` (one connection each) for `duration` s, at least one;
    loadgen.c checks each answer's byte count. The server's peak RSS is VmHWM of its process tree
    (a fresh server per measurement, so the peak covers this run and the 64 MiB check upload)."""
    def upload(size: int, secs: float) -> Dict:
        return run_loadgen(["upload", HOST, str(server.port), sc.path, str(size), sc.framing, str(UPLOAD_CHUNK),
                            "1", f"{secs:g}"], timeout=secs + 600)
    upload(UPLOAD_CHECK, 0)
    pids = server.pids()
    rss_before = rss_bytes(pids)
    c0, t0 = cpu_seconds(pids), time.perf_counter()
    res = upload(upload_bytes, duration)
    wall = time.perf_counter() - t0
    res["server_cpu"] = (cpu_seconds(pids) - c0) / wall
    res["client_cpu"] = (res["cpu_user"] + res["cpu_sys"]) / res["seconds"]
    res["rss_before"] = rss_before
    res["rss_after"] = rss_bytes(pids)
    res["hwm"] = rss_bytes(pids, "VmHWM:")
    return res


def generator_baseline(python: str, repeats: int = 30) -> Dict:
    """The stream10k generator's own cost: b''.join of it (with the same UTF-8 encoding every
    server does), timed in a process on the server's CPU, with the peers' Python."""
    code = (
        "import sys, time, statistics\n"
        f"sys.path.insert(0, {str(APPS)!r})\n"
        "from common import lines10k\n"
        "enc = str.encode\n"
        "ts = []\n"
        f"for _ in range({repeats}):\n"
        "    t0 = time.perf_counter(); body = b''.join(map(enc, lines10k())); ts.append(time.perf_counter() - t0)\n"
        "print(statistics.median(ts), len(body))\n"
    )
    r = subprocess.run(["taskset", "-c", str(SERVER_CPU), python, "-c", code], capture_output=True, text=True,
                       env=clean_env(), timeout=120)
    if r.returncode != 0:
        raise RuntimeError(tail(r.stderr))
    secs, size = r.stdout.split()
    return {"seconds": float(secs), "per_s": 1.0 / float(secs), "bytes": int(size)}


# ----------------------------------------------------------------------------------------
# One measurement
# ----------------------------------------------------------------------------------------

def check_then(port: int, path: str, check: Callable[[int, bytes], Optional[str]]) -> Optional[str]:
    """Scenario.then: GET `path` until `check` passes, for up to 2 s (what it checks, e.g. a
    dependency's teardown, may run after the checked answer was sent); the last problem, or None."""
    deadline = time.monotonic() + 2.0
    while True:
        problem = check(*fetch(port, "GET", path, timeout=10))
        if not problem or time.monotonic() > deadline:
            return problem
        time.sleep(0.02)


def measure(peer: Peer, venv: Optional[Path], sc: Scenario, duration: float, warmup: float,
            connections: int, upload_bytes: int = 2 ** 30, subscribers: int = 0, fan_procs: int = 2) -> Dict:
    server = Server(peer, venv, fanout_topics=sc.topics if sc.kind == "fanout" else 0)
    try:
        try:
            server.start()
        except RuntimeError as exc:
            return {"error": f"server did not start: {exc}"}
        try:
            if sc.kind == "download":
                res = run_download(server, sc, duration)
            elif sc.kind == "ws":
                res = run_ws(server, sc, duration, warmup, connections)
            elif sc.kind == "upload":
                res = run_upload(server, sc, duration, upload_bytes)
            elif sc.kind == "fanout":
                res = run_fanout(server, sc, duration, warmup, subscribers or sc.subscribers, fan_procs)
            elif sc.kind == "gzip":
                res = run_gzip(server, sc, duration, warmup, connections)
            else:
                if sc.pipeline > 1:
                    answers = fetch_pipelined(server.port, sc.path, sc.pipeline, timeout=60)
                else:
                    answers = [fetch(server.port, sc.method, sc.path, sc.body, timeout=60,
                                     content_type=sc.content_type)]
                for i, (status, body) in enumerate(answers):
                    problem = sc.check(status, body) if sc.check else None
                    if problem:
                        where = f" (pipelined answer {i + 1} of {len(answers)})" if len(answers) > 1 else ""
                        return {"error": f"wrong answer{where}: {problem}"}
                if sc.then:
                    problem = check_then(server.port, *sc.then)
                    if problem:
                        return {"error": f"wrong answer of GET {sc.then[0]} after it: {problem}"}
                if warmup > 0:
                    run_wrk(server.port, sc, warmup, connections)
                res = run_wrk_measured(server, sc, duration, connections)
                if sc.pipeline > 1:
                    res["pipeline"] = sc.pipeline   # wrk counts every response: rps is responses/s
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"[:400] + (f" (server log: {server.log_tail()})"
                                                                      if server.log_tail() else "")}
        if not server.alive():
            res["problems"] = (res.get("problems", "") + "; server exited during the run: "
                               + server.log_tail()).lstrip("; ")
        return res
    finally:
        server.stop()


# ----------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------

def fmt_num(x: float) -> str:
    return f"{x:,.0f}"


def fmt_ratio(a: Optional[float], b: Optional[float]) -> str:
    return f"{a / b:.2f}×" if a and b else "–"


def machine_info() -> Dict[str, str]:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": (wrk.stdout + wrk.stderr).split("\n")[0].split(" Copyright")[0].strip(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def median_of(runs: List[Dict], key: str) -> float:
    vals = [r[key] for r in runs if key in r and "error" not in r]
    return statistics.median(vals) if vals else 0.0


def build_report(args, peers: List[Peer], scenarios: List[Scenario], results: Dict, failed: Dict[str, str],
                 versions: Dict[str, str], baseline: List[Dict], info: Dict[str, str], py_version: str,
                 before: Optional[Revision] = None) -> str:
    ran_all = [p for p in peers if p.name not in failed]
    all_scenarios = scenarios
    # the main table and latency: HTTP scenarios, and the peers taking part in any of them
    scenarios = [sc for sc in all_scenarios if sc.kind in HTTP_KINDS]
    ran = [p for p in ran_all if any(supports(p, sc) for sc in scenarios)]
    out: List[str] = []
    out.append("# Catzilla benchmark")
    out.append("")
    out.append(f"- machine: {info['cpu']}, {info['cores']} cores, Linux {info['kernel']}")
    out.append(f"- Python {py_version} (peers' venvs); {info['wrk']}; {info['date']}")
    out.append(f"- server pinned to CPU {SERVER_CPU} (taskset), one worker; load generator on CPU {CLIENT_CPU}: "
               f"`wrk -t1 -c{args.connections} -d{args.duration:g}s` after a {args.warmup:g} s warm-up, "
               f"a fresh server per measurement")
    out.append(f"- {args.rounds} interleaved round(s) (round → scenario → peer); each cell is the median of the rounds")
    if before is not None:
        out.append(f"- before = {before.rev} ({before.short})")
    if any(sc.pipeline > 1 for sc in scenarios):
        out.append("- " + ", ".join(sc.name for sc in scenarios if sc.pipeline > 1)
                   + ": requests written in pipelined batches; requests/s counts every response")
    if any(sc.name == "stream64m" for sc in scenarios):
        out.append("- stream64m: one client in the runner (CPU 1) reading back-to-back downloads for the duration; "
                   "MB = 10^6 bytes")
    if any(sc.kind == "ws" for sc in all_scenarios):
        out.append(f"- ws*: `loadgen.c ws` (C, one epoll thread, CPU {CLIENT_CPU}): {args.connections} WebSockets, "
                   "each sends one masked binary message and waits for its echo (checked byte for byte) before "
                   f"the next; {args.warmup:g} s warm-up run, then {args.duration:g} s measured; server CPU from "
                   "/proc (its process tree), client CPU from the client's getrusage, both as a share of one core")
    if any(sc.kind == "fanout" for sc in all_scenarios):
        out.append(f"- fan-out (sse*, ws* subscribers): `loadgen.c sse|wssub` (C, epoll, {args.fan_procs} process(es), "
                   f"all on CPU {CLIENT_CPU}) opens {args.subscribers or 10_000:,} subscriber connections (batches of 64); "
                   f"the server's own publisher sends one event per topic every {common.FANOUT_INTERVAL:g} s, data "
                   "`{\"t\":<time.time_ns()>,\"seq\":n}`; after all are connected and a "
                   f"{args.warmup:g} s warm-up, the events published in the next {args.duration:g} s are measured "
                   "(latency = receive time - t, both CLOCK_REALTIME), draining up to 10 s for late ones")
    if any(sc.kind == "gzip" for sc in all_scenarios):
        out.append("- gzip10k*: `wrk -t1 -c2` with `lua/gzip.lua` (`Accept-Encoding: gzip`); before each measurement "
                   "one answer is read chunk by chunk and must be gzip (with `Vary: Accept-Encoding`) for the "
                   "+ GZipMiddleware peers and identity for the others, and decode (zlib) to the 10,000 lines; "
                   "MB/s as sent and decoded = requests/s × that answer's body sizes; MB = 10^6 bytes")
    if any(sc.kind == "upload" for sc in all_scenarios):
        out.append(f"- upload*: `loadgen.c upload` (C, CPU {CLIENT_CPU}) POSTs {args.upload_mib} MiB bodies back "
                   f"to back (one connection each) for {args.duration:g} s, at least one, after one unmeasured "
                   "64 MiB upload; each answer's byte count is checked; peak RSS = VmHWM summed over the server's "
                   "process tree (fresh server per measurement); MB = 10^6 bytes")
    out.append("")

    def cell(pname: str, sname: str) -> Tuple[str, Optional[float]]:
        if not supports(PEERS[pname], SCENARIOS[sname]):
            return "n/a", None
        runs = results.get((pname, sname), [])
        good = [r for r in runs if "error" not in r]
        if not good:
            if runs and all(r["error"].startswith("wrong answer") for r in runs):
                return "wrong answer", None
            return ("error" if runs else "–"), None
        sc = SCENARIOS[sname]
        flag = " ⚠" if any(r.get("problems") for r in good) else ""
        if sc.kind == "download":
            v = median_of(good, "mb_per_s")
            return f"{fmt_num(v)} MB/s{flag}", v
        v = median_of(good, "rps")
        if not v:
            return f"0 (none finished in {args.duration:g} s){flag}", None
        if sname == "stream10k":
            mbs = median_of(good, "bytes_per_s") / MB
            return f"{fmt_num(v)} ({fmt_num(mbs)} MB/s){flag}", v
        return f"{fmt_num(v)}{flag}", v

    def zero_finished(pname: str, sname: str) -> bool:
        good = [r for r in results.get((pname, sname), []) if "error" not in r]
        return bool(good) and SCENARIOS[sname].kind == "wrk" and not median_of(good, "rps")

    if scenarios:   # the HTTP scenarios (requests/s, stream64m MB/s)
        headers = ["scenario"] + [p.label for p in ran]
        have_cz = any(p.name == "catzilla" for p in ran)
        have_uvs = any(p.name == "uvicorn-starlette" for p in ran)
        have_nginx = any(p.name == "nginx" for p in ran)
        have_before = any(p.name == "catzilla-before" for p in ran)
        have_uvp = any(p.name == "uvloop-proto" for p in ran)
        # not frameworks to compare with, nor variants of one with a middleware installed
        not_others = ("catzilla", "catzilla-before", "uvloop-proto", "nginx") + \
            tuple(p.name for p in ran if p.reference)
        if have_cz:
            headers.append("catzilla / best other")
            if have_before:
                headers.append("catzilla / before")
            if have_uvs:
                headers.append("catzilla / uvicorn+starlette")
            if have_uvp:
                headers.append("catzilla / uvloop protocol")
            if have_nginx:
                headers.append("catzilla / nginx")
        out.append("Requests/s (stream64m: MB/s of one client). ⚠ = errors during the run, see notes.")
        out.append("")
        out.append("| " + " | ".join(headers) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|")
        for sc in scenarios:
            row = [sc.name]
            values: Dict[str, Optional[float]] = {}
            for p in ran:
                text, v = cell(p.name, sc.name)
                row.append(text)
                values[p.name] = v
            if have_cz:
                cz = values.get("catzilla")
                others = [(v, PEERS[n].label) for n, v in values.items() if v and n not in not_others]
                if others and cz:
                    best, label = max(others)
                    row.append(f"{cz / best:.2f}× (vs {label})")
                else:
                    row.append("–")
                if have_before:
                    row.append(fmt_ratio(cz, values.get("catzilla-before")))
                if have_uvs:
                    uvs = values.get("uvicorn-starlette")
                    if cz and not uvs and zero_finished("uvicorn-starlette", sc.name):
                        # none of its responses finished: its rate was below connections / duration
                        row.append(f"> {cz / (args.connections / args.duration):.0f}×")
                    else:
                        row.append(fmt_ratio(cz, uvs))
                if have_uvp:
                    row.append(fmt_ratio(cz, values.get("uvloop-proto")))
                if have_nginx:
                    row.append(fmt_ratio(cz, values.get("nginx")))
            out.append("| " + " | ".join(row) + " |")
        out.append("")

    typed = [sc for sc in scenarios if sc.opt_in and sc.kind == "wrk"]
    if any(cell("catzilla", sc.name)[1] for sc in typed) and any(p.name == "catzilla" for p in ran):
        # the typed layer against each peer with one, and against catzilla's own untyped /json
        def cpu_per_request(pname: str, sname: str) -> Optional[float]:
            good = [r for r in results.get((pname, sname), []) if "error" not in r]
            return median_of(good, "cpu_us_per_request") or None

        out.append("## Typed endpoints and dependencies: catzilla against each peer")
        out.append("")
        out.append("Medians of the rounds. Server CPU per request: utime + stime of the server's process tree over "
                   "the wrk run / requests (steadier than requests/s when other processes take turns on its CPU). "
                   "\"catzilla ×\": catzilla's requests/s over the peer's, and the peer's CPU per request over "
                   "catzilla's; on the \"catzilla untyped `json`\" rows (when json ran), catzilla's typed figures against "
                   "its own untyped `GET /json` (below 1: what the typed layer costs).")
        out.append("")
        out.append("| scenario | peer | requests/s | server CPU per request | catzilla × (requests/s) | "
                   "catzilla × (CPU per request) |")
        out.append("|---|---|---:|---:|---:|---:|")
        json_v = cell("catzilla", "json")[1] if any(sc.name == "json" for sc in scenarios) else None
        json_cpu = cpu_per_request("catzilla", "json") if json_v else None
        for sc in typed:
            cz, cz_cpu = cell("catzilla", sc.name)[1], cpu_per_request("catzilla", sc.name)
            for p in [q for q in ran if supports(q, sc)]:
                text, v = cell(p.name, sc.name)
                cpu = cpu_per_request(p.name, sc.name)
                us = f"{cpu:,.1f} µs" if cpu else "–"
                if p.name == "catzilla":
                    out.append(f"| {sc.name} | {p.label} | {text} | {us} | | |")
                else:
                    out.append(f"| {sc.name} | {p.label} | {text} | {us} | {fmt_ratio(cz, v)} | "
                               f"{fmt_ratio(cpu, cz_cpu)} |")
            if json_v and cz:
                out.append(f"| {sc.name} | catzilla untyped `json` | {fmt_num(json_v)} | "
                           f"{f'{json_cpu:,.1f} µs' if json_cpu else '–'} | {fmt_ratio(cz, json_v)} | "
                           f"{fmt_ratio(json_cpu, cz_cpu)} |")
        out.append("")

    if any(sc.name == "stream10k" for sc in scenarios) and baseline:
        per_s = statistics.median(b["per_s"] for b in baseline)
        secs = statistics.median(b["seconds"] for b in baseline)
        out.append("## stream10k against the generator's own cost")
        out.append("")
        out.append(f"The same generator consumed in-process by `b''.join(map(str.encode, lines10k()))` on CPU "
                   f"{SERVER_CPU}: **{fmt_num(per_s)} bodies/s** ({secs * 1e6:,.0f} µs each). "
                   "Overhead = time per response minus the generator's time, as a multiple of the generator's time "
                   "(the bar: at most 1.0×).")
        out.append("")
        out.append("| peer | responses/s | µs per response | framing + I/O overhead |")
        out.append("|---|---:|---:|---:|")
        for p in ran:
            _, v = cell(p.name, "stream10k")
            if v:
                us = 1e6 / v
                out.append(f"| {p.label} | {fmt_num(v)} | {us:,.0f} | {(us - secs * 1e6) / (secs * 1e6):.2f}× |")
        out.append("")

    if any(sc.name == "stream64m" for sc in scenarios):
        out.append("## stream64m: server memory during the download")
        out.append("")
        out.append("RSS of the server's whole process tree, sampled every 50 ms while one client downloads "
                   "64 MiB bodies back to back (medians of the rounds).")
        out.append("")
        out.append("| peer | MB/s | downloads per round | RSS before | peak RSS | growth |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for p in ran:
            good = [r for r in results.get((p.name, "stream64m"), []) if "error" not in r]
            if not good:
                continue
            rss0 = median_of(good, "rss_before") / 2 ** 20
            peak = median_of(good, "rss_peak") / 2 ** 20
            out.append(f"| {p.label} | {fmt_num(median_of(good, 'mb_per_s'))} | "
                       f"{fmt_num(median_of(good, 'downloads'))} | {rss0:,.1f} MiB | {peak:,.1f} MiB | "
                       f"{peak - rss0:+,.1f} MiB |")
        out.append("")

    if any(sc.kind == "wrk" and sc.pipeline == 1 for sc in scenarios):
        out.append("## Latency (wrk, median of rounds: p50 / p99)")
        out.append("")
        pipelined = [sc.name for sc in scenarios if sc.kind == "wrk" and sc.pipeline > 1]
        if pipelined:
            out.append(f"Not for {', '.join(pipelined)}: wrk times a pipelined batch as one request, and its "
                       "coordinated-omission correction (tuned to one response per round trip) makes those "
                       "percentiles meaningless (p99 of 0.00us shows up); they are still in the JSON.")
            out.append("")
        out.append("| scenario | " + " | ".join(p.label for p in ran) + " |")
        out.append("|---|" + "---:|" * len(ran))
        for sc in scenarios:
            if sc.kind != "wrk" or sc.pipeline > 1:
                continue
            row = [sc.name]
            for p in ran:
                good = [r for r in results.get((p.name, sc.name), []) if "error" not in r]
                if not good:
                    row.append("n/a" if not supports(p, sc) else "–")
                    continue
                mid = sorted(good, key=lambda r: r["rps"])[len(good) // 2]
                row.append(f"{mid['p50']} / {mid['p99']}")
            out.append("| " + " | ".join(row) + " |")
        out.append("")

    variants = [p for p in ran if p.reference and any(q.name == p.reference for q in ran)]
    if variants:   # a peer against the same app without its middleware (catzilla-mw: one no-op layer)
        out.append("## Middleware cost")
        out.append("")
        out.append("The same app without and with the middleware, medians of the rounds: requests/s, and the "
                   "server's CPU time (utime + stime of its process tree over the wrk run) per request, which "
                   "other processes taking turns on its CPU disturb less; cost = the difference in CPU time. "
                   "\"per round\": with / without requests/s of each round (measured seconds apart, so steadier than "
                   "the ratio of medians when the machine is busy at times).")
        out.append("")
        out.append("| scenario | peer | requests/s without | with | with / without | CPU per request without | "
                   "with | cost per request | per round |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for p in variants:
            for sc in scenarios:
                if sc.kind != "wrk" or not supports(p, sc):
                    continue
                _, w = cell(p.name, sc.name)
                _, wo = cell(p.reference, sc.name)
                if not w or not wo:
                    continue
                pairs = zip(results.get((p.name, sc.name), []), results.get((p.reference, sc.name), []))
                ratios = [a["rps"] / b["rps"] for a, b in pairs
                          if "error" not in a and "error" not in b and a.get("rps") and b.get("rps")]
                rounds = ", ".join(f"{r:.2f}" for r in ratios) + \
                    (f" (median {statistics.median(ratios):.2f})" if ratios else "")
                cpu_w = median_of([r for r in results[(p.name, sc.name)] if "error" not in r], "cpu_us_per_request")
                cpu_wo = median_of([r for r in results[(p.reference, sc.name)] if "error" not in r],
                                   "cpu_us_per_request")
                out.append(f"| {sc.name} | {p.label} | {fmt_num(wo)} | {fmt_num(w)} | {w / wo:.2f}× | "
                           f"{cpu_wo:.2f} µs | {cpu_w:.2f} µs | {(cpu_w - cpu_wo) * 1000:+,.0f} ns | {rounds} |")
        out.append("")

    gz_scenarios = [sc for sc in all_scenarios if sc.kind == "gzip"]
    if gz_scenarios:
        out.append("## Compressed streams (gzip10k)")
        out.append("")
        out.append(f"10,000 lines `Data {{i}}\\n` ({len(STREAM10K_BODY):,} bytes) asked for with "
                   "`Accept-Encoding: gzip`; the peers without a compression middleware answer identity, as the "
                   "reference. Medians of the rounds. "
                   "\"as sent\": the body's bytes without the chunked framing; \"whole-line chunks\": chunks "
                   "after which everything received decodes to whole lines (all of them: every yielded line "
                   "was flushed on its own); \"CPU per answer\": the server's CPU time over the run / answers. "
                   "A peer finishing few answers in a run has a coarse requests/s (wrk counts finished ones): "
                   "its CPU per answer is the finer figure.")
        out.append("")
        out.append("| scenario | peer | encoding | requests/s (answers in a run) | lines/s | MB/s decoded | "
                   "MB/s as sent | body bytes | chunks (whole-line) | CPU per answer | vs no middleware | p50 / p99 |")
        out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for sc in gz_scenarios:
            rps: Dict[str, float] = {}
            cpu: Dict[str, float] = {}
            for p in ran_all:
                if not supports(p, sc):
                    continue
                good = [r for r in results.get((p.name, sc.name), []) if "error" not in r]
                if not good:
                    out.append(f"| {sc.name} | {p.label} | error |" + " – |" * 9)
                    continue
                rps[p.name] = median_of(good, "rps")
                cpu[p.name] = median_of(good, "cpu_us_per_request")
                mid = sorted(good, key=lambda r: r["rps"])[len(good) // 2]
                flag = " ⚠" if any(r.get("problems") for r in good) else ""
                vs = fmt_ratio(rps[p.name], rps.get(p.reference)) if p.reference else ""
                out.append(f"| {sc.name} | {p.label} | {mid['encoding']} | {rps[p.name]:,.1f} "
                           f"({fmt_num(median_of(good, 'requests'))}){flag} | "
                           f"{fmt_num(median_of(good, 'lines_per_s'))} | {median_of(good, 'decoded_mb_per_s'):,.2f} | "
                           f"{median_of(good, 'body_mb_per_s'):,.2f} | {mid['body_bytes']:,} | "
                           f"{mid['wire_chunks']:,} ({mid['whole_line_chunks']:,}) | "
                           f"{cpu[p.name] / 1000:,.1f} ms | {vs} | "
                           f"{mid['p50']} / {mid['p99']} |")
            cz = rps.get("catzilla-gzip")
            for p in ran_all:   # catzilla's gzip against the other gzip peers: requests/s and answers per CPU-s
                if cz and p.name != "catzilla-gzip" and p.env.get(MIDDLEWARE_VAR) == "gzip" and rps.get(p.name):
                    per_cpu = fmt_ratio(cpu.get(p.name), cpu.get("catzilla-gzip"))
                    out.append(f"| {sc.name} | **catzilla / {p.label}** | | {cz / rps[p.name]:.2f}× "
                               f"| | | | | | {per_cpu} per CPU-s | | |")
        out.append("")

    def pct(x: float) -> str:
        return f"{x * 100:.0f} %"

    def mib(x: float) -> str:
        return f"{x / 2 ** 20:,.1f} MiB"

    def others_best(values: Dict[str, float]) -> Tuple[float, str]:
        return max(((v, PEERS[n].label) for n, v in values.items() if v and n not in ("catzilla", "catzilla-before")),
                   default=(0.0, ""))

    ws_scenarios = [sc for sc in all_scenarios if sc.kind == "ws"]
    if ws_scenarios:
        out.append("## WebSocket echo (messages/s)")
        out.append("")
        out.append("Medians of the rounds; \"vs best\" = this peer's messages/s over the best peer's in that "
                   "scenario. CPU is the share of one core over the measured run (server: CPU "
                   f"{SERVER_CPU}; client: loadgen.c on CPU {CLIENT_CPU} — well under 100 % means the client was "
                   "not the bottleneck); \"per server CPU-s\" = messages/s over the server's CPU share (what one "
                   "fully busy core would do at that cost; steadier than messages/s when other processes take "
                   "CPU time). Latency is one round trip, from the median round.")
        out.append("")
        out.append("| scenario | peer | messages/s | vs best | server CPU | client CPU | per server CPU-s | p50 / p99 |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for sc in ws_scenarios:
            values: Dict[str, float] = {}
            rows = []
            for p in ran_all:
                if not supports(p, sc):
                    continue
                good = [r for r in results.get((p.name, sc.name), []) if "error" not in r]
                if not good:
                    rows.append((p, None))
                    continue
                values[p.name] = median_of(good, "msgs_per_s")
                rows.append((p, good))
            best = max(values.values(), default=0.0)
            for p, good in rows:
                if good is None:
                    out.append(f"| {sc.name} | {p.label} | error | – | – | – | – | – |")
                    continue
                mid = sorted(good, key=lambda r: r["msgs_per_s"])[len(good) // 2]
                per_cpu = statistics.median(r["msgs_per_s"] / r["server_cpu"] for r in good if r["server_cpu"] > 0) \
                    if any(r["server_cpu"] > 0 for r in good) else 0.0
                out.append(f"| {sc.name} | {p.label} | {fmt_num(values[p.name])} | "
                           f"{fmt_ratio(values[p.name], best)} | {pct(median_of(good, 'server_cpu'))} | "
                           f"{pct(median_of(good, 'client_cpu'))} | {fmt_num(per_cpu)} | "
                           f"{mid['p50_us'] / 1000:.2f} / {mid['p99_us'] / 1000:.2f} ms |")
            if values.get("catzilla"):
                ob, label = others_best(values)
                if ob:
                    out.append(f"| {sc.name} | **catzilla / best other** | {values['catzilla'] / ob:.2f}× (vs {label}) "
                               "| | | | | |")
        out.append("")

    fan_scenarios = [sc for sc in all_scenarios if sc.kind == "fanout"]
    if fan_scenarios:
        out.append("## Fan-out: publish-to-receive latency")
        out.append("")
        out.append("Medians of the rounds. Latency: 10 µs histogram buckets (upper edges), over every delivery of an "
                   "event published in the window. deliveries/s: of those events, over the window (the target: "
                   "subscribers × 2/s). missing: expected deliveries (per topic: its subscribers × the sequence "
                   "numbers published on it in the window) not received within the 10 s drain; gaps/dups: sequence "
                   "jumps / repeats seen per connection; signals: events without a timestamp (a hub's dropped/reset/gap "
                   "notices). CPU: share of one core over the window (server: its process tree's utime+stime; "
                   f"CPU {SERVER_CPU} busy: that CPU's busy time from /proc/stat, which adds the softirq time of "
                   "loopback delivery and anything else that ran there; client: all its processes). RSS: the server's, "
                   "before the subscribers connected → at the window's end; per subscriber = the difference / "
                   "subscribers.")
        out.append("")
        out.append("| scenario | peer | p50 | p99 | max | deliveries/s | missing | gaps / dups / signals | server CPU | "
                   f"CPU {SERVER_CPU} busy | client CPU | server RSS | per subscriber |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

        def ms(us: float) -> str:
            return f"{us / 1000:,.1f} ms" if us >= 10_000 else f"{us / 1000:,.2f} ms"

        for sc in fan_scenarios:
            for p in ran_all:
                if not supports(p, sc):
                    continue
                good = [r for r in results.get((p.name, sc.name), []) if "error" not in r]
                if not good:
                    out.append(f"| {sc.name} | {p.label} | error | – | – | – | – | – | – | – | – | – | – |")
                    continue
                subs = median_of(good, "connections")
                grow = (median_of(good, "rss") - median_of(good, "rss_idle")) / subs if subs else 0.0
                out.append(f"| {sc.name} | {p.label} | {ms(median_of(good, 'p50_us'))} | "
                           f"{ms(median_of(good, 'p99_us'))} | {ms(median_of(good, 'max_us'))} | "
                           f"{fmt_num(median_of(good, 'deliveries_per_s'))} | {fmt_num(median_of(good, 'missing'))} | "
                           f"{fmt_num(median_of(good, 'gaps'))} / {fmt_num(median_of(good, 'duplicates'))} / "
                           f"{fmt_num(median_of(good, 'signals'))} | {pct(median_of(good, 'server_cpu'))} | "
                           f"{pct(median_of(good, 'cpu0_busy'))} | "
                           f"{pct(median_of(good, 'client_cpu'))} | {mib(median_of(good, 'rss_idle'))} → "
                           f"{mib(median_of(good, 'rss'))} | {grow / 1024:,.1f} KiB |")
        out.append("")

    up_scenarios = [sc for sc in all_scenarios if sc.kind == "upload"]
    if up_scenarios:
        out.append("## Uploads (MB/s, peak RSS)")
        out.append("")
        out.append(f"{args.upload_mib} MiB bodies consumed chunk by chunk by the handler (it counts the bytes). "
                   "Medians of the rounds; \"vs best\" and \"per server CPU-s\" as above; peak RSS is the server's VmHWM (summed over its "
                   "process tree), RSS before is its VmRSS just before the measured uploads.")
        out.append("")
        out.append("| scenario | peer | MB/s | vs best | uploads per round | RSS before | peak RSS | server CPU | "
                   "client CPU | MB per server CPU-s |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for sc in up_scenarios:
            values = {}
            rows = []
            for p in ran_all:
                if not supports(p, sc):
                    continue
                good = [r for r in results.get((p.name, sc.name), []) if "error" not in r]
                if good:
                    values[p.name] = median_of(good, "mb_per_s")
                rows.append((p, good or None))
            best = max(values.values(), default=0.0)
            for p, good in rows:
                if good is None:
                    out.append(f"| {sc.name} | {p.label} | error | – | – | – | – | – | – | – |")
                    continue
                per_cpu = statistics.median(r["mb_per_s"] / r["server_cpu"] for r in good if r["server_cpu"] > 0) \
                    if any(r["server_cpu"] > 0 for r in good) else 0.0
                out.append(f"| {sc.name} | {p.label} | {fmt_num(values[p.name])} | {fmt_ratio(values[p.name], best)} | "
                           f"{fmt_num(median_of(good, 'uploads'))} | {mib(median_of(good, 'rss_before'))} | "
                           f"{mib(median_of(good, 'hwm'))} | {pct(median_of(good, 'server_cpu'))} | "
                           f"{pct(median_of(good, 'client_cpu'))} | {fmt_num(per_cpu)} |")
            if values.get("catzilla"):
                ob, label = others_best(values)
                if ob:
                    out.append(f"| {sc.name} | **catzilla / best other** | {values['catzilla'] / ob:.2f}× (vs {label}) "
                               "| | | | | | | |")
        out.append("")

    out.append("## All rounds")
    out.append("")
    out.append("ws: messages/s (server CPU / client CPU); upload: MB/s, peak RSS (server CPU / client CPU); "
               "fan-out: latency, deliveries/s (server CPU / client CPU); gzip10k*: requests/s (decoded MB/s).")
    out.append("")
    out.append("| scenario | peer | " + " | ".join(f"round {i + 1}" for i in range(args.rounds)) + " |")
    out.append("|---|---|" + "---:|" * args.rounds)
    for sc in all_scenarios:
        for p in ran_all:
            runs = results.get((p.name, sc.name))
            if not runs:
                continue
            cells = []
            for r in runs:
                if "error" in r:
                    cells.append("wrong answer" if r["error"].startswith("wrong answer") else "error")
                elif sc.kind == "download":
                    cells.append(f"{fmt_num(r['mb_per_s'])} MB/s")
                elif sc.kind == "ws":
                    cells.append(f"{fmt_num(r['msgs_per_s'])} ({pct(r['server_cpu'])} / {pct(r['client_cpu'])})")
                elif sc.kind == "fanout":
                    cells.append(f"p50/p99 {r['p50_us'] / 1000:,.1f}/{r['p99_us'] / 1000:,.1f} ms, "
                                 f"{fmt_num(r['deliveries_per_s'])}/s ({pct(r['server_cpu'])} / {pct(r['client_cpu'])})")
                elif sc.kind == "gzip":
                    cells.append(f"{r['rps']:,.1f} ({r['decoded_mb_per_s']:,.1f} MB/s decoded)")
                elif sc.kind == "upload":
                    cells.append(f"{fmt_num(r['mb_per_s'])} MB/s, {mib(r['hwm'])} "
                                 f"({pct(r['server_cpu'])} / {pct(r['client_cpu'])})")
                else:
                    cells.append(fmt_num(r["rps"]))
            out.append(f"| {sc.name} | {p.label} | " + " | ".join(cells) + " |")
    out.append("")

    out.append("## Peers")
    out.append("")
    for p in peers:
        if p.name in failed:
            out.append(f"- **{p.label}**: not measured — {failed[p.name]}")
        else:
            extra = f"; {p.notes}" if p.notes else ""
            out.append(f"- **{p.label}**: {versions.get(p.name, '?')}{extra}")
    out.append("")

    notes = [f"- {PEERS[pname].label} / {sname}: n/a, {why}" for (pname, sname), why in NOT_SERVED.items()
             if any(p.name == pname for p in peers) and any(sc.name == sname for sc in all_scenarios)]
    for (pname, sname), runs in results.items():
        for i, r in enumerate(runs):
            if "error" in r:
                notes.append(f"- {PEERS[pname].label} / {sname} / round {i + 1}: {r['error']}")
            elif r.get("problems"):
                notes.append(f"- {PEERS[pname].label} / {sname} / round {i + 1}: {r['problems']}")
    if notes:
        out.append("## Notes")
        out.append("")
        out.extend(notes)
        out.append("")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=None, help="seconds per measurement (default 10; --quick: 3)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table shows medians (default 3)")
    ap.add_argument("--warmup", type=float, default=None, help="warm-up seconds before each wrk run (default 2)")
    ap.add_argument("--connections", type=int, default=64,
                    help="wrk connections, and WebSockets of the ws scenarios (default 64)")
    ap.add_argument("--upload-mib", type=int, default=1024,
                    help="body size of the upload scenarios, MiB (default 1024)")
    ap.add_argument("--subscribers", type=int, default=0,
                    help="fan-out scenarios: subscriber connections (default: the scenario's, 10,000)")
    ap.add_argument("--fan-procs", type=int, default=2,
                    help="fan-out scenarios: client processes sharing the subscribers, all on CPU 1 (default 2)")
    ap.add_argument("--peers", default=None, help=f"comma-separated, from: {','.join(PEERS)}")
    ap.add_argument("--scenarios", default=None, help=f"comma-separated, from: {','.join(SCENARIOS)}")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 3 s, 1 round, catzilla + uvicorn-starlette, plain/json/params")
    ap.add_argument("--reinstall", action="store_true", help="reinstall every peer's venv packages")
    ap.add_argument("--before", metavar="REV", default=None,
                    help="also measure catzilla as of git revision REV (peer catzilla-before, built from "
                         "`git archive REV`), side by side with the working tree's")
    ap.add_argument("--output", default=str(RESULTS / "latest.md"), help="where to write the Markdown report")
    return ap


def resolve_args(ap: argparse.ArgumentParser, args: argparse.Namespace
                 ) -> Tuple[List[str], List[str], Optional[Revision]]:
    """Defaults filled in and every name checked against PEERS and SCENARIOS
    (ap.error otherwise): (peer names, scenario names, the --before revision).
    Reads nothing of the machine but git (tests/test_readme.py checks the
    README's commands with it)."""
    if args.quick:
        args.duration = args.duration or 3.0
        args.rounds = 1
        args.peers = args.peers or "catzilla,uvicorn-starlette"   # (+ catzilla-before with --before)
        args.scenarios = args.scenarios or "plain,json,params"
    if args.duration is None:
        args.duration = 10.0
    if args.upload_mib < 1:
        ap.error("--upload-mib must be at least 1")
    if not 1 <= args.fan_procs <= 64 or args.subscribers < 0:
        ap.error("--fan-procs must be 1..64 and --subscribers >= 0")
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 2.0
    peer_names = (args.peers or ",".join(DEFAULT_PEERS)).split(",")
    before: Optional[Revision] = None
    if args.before is not None:
        try:
            before = resolve_revision(args.before)
        except RuntimeError as exc:
            ap.error(f"--before {args.before!r}: {exc}")
        if "catzilla-before" not in peer_names:   # right after the working tree's catzilla
            at = peer_names.index("catzilla") + 1 if "catzilla" in peer_names else len(peer_names)
            peer_names.insert(at, "catzilla-before")
    elif "catzilla-before" in peer_names:
        ap.error("peer catzilla-before needs --before REV")
    scenario_names = (args.scenarios or ",".join(DEFAULT_SCENARIOS)).split(",")
    for n in peer_names:
        if n not in PEERS:
            ap.error(f"unknown peer {n!r} (known: {', '.join(PEERS)})")
    for n in scenario_names:
        if n not in SCENARIOS:
            ap.error(f"unknown scenario {n!r} (known: {', '.join(SCENARIOS)})")
    return peer_names, scenario_names, before


def main(argv: Optional[List[str]] = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    peer_names, scenario_names, before = resolve_args(ap, args)
    if not sys.platform.startswith("linux"):
        ap.error("Linux only (taskset, /proc)")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            ap.error(f"{tool} is not installed (`make system-deps` installs wrk)")
    if (os.cpu_count() or 1) < 2:
        ap.error("needs 2 CPUs: the server on CPU 0, the load generator on CPU 1")
    os.sched_setaffinity(0, {CLIENT_CPU})   # this runner (and its stream64m client) stays off the server's CPU

    scenarios = [SCENARIOS[n] for n in scenario_names]
    peers = []
    for n in peer_names:   # a peer that serves none of the scenarios is left out (the fan-out-only ones)
        if any(supports(PEERS[n], sc) for sc in scenarios):
            peers.append(PEERS[n])
        elif args.peers:
            log(f"[setup] {n}: serves none of the scenarios asked for, left out")
    fan = [sc for sc in scenarios if sc.kind == "fanout"]
    if fan:
        # the server holds every subscriber's socket, loadgen a share each: lift the soft limit to the hard one
        # (Catzilla's default max_connections is 7/8 of the soft limit: the subscribers must fit in that)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = (max(args.subscribers or sc.subscribers for sc in fan) + 256) * 8 // 7 + 1
        if soft < want:
            new_soft = want if hard == resource.RLIM_INFINITY or hard >= want else hard
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
            if new_soft < want:
                ap.error(f"the fan-out scenarios need {want} descriptors per server, RLIMIT_NOFILE's hard "
                         f"limit is {hard} (raise it, or use --subscribers)")
    failed: Dict[str, str] = {}
    venvs: Dict[str, Optional[Path]] = {}
    versions: Dict[str, str] = {}
    VENVS.mkdir(parents=True, exist_ok=True)
    for p in peers:
        log(f"[setup] {p.name} ...")
        try:
            venvs[p.name], status = ensure_peer(p, args.reinstall, before)
            versions[p.name] = peer_versions(p, venvs[p.name])
            log(f"[setup] {p.name}: {status} ({versions[p.name]})")
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            failed[p.name] = f"install failed: {exc}"
            log(f"[setup] {p.name}: FAILED: {exc}")
    needs = sorted({n for sc in scenarios for n in sc.catzilla_needs})
    for name in CATZILLA_PEERS:   # the measured catzilla must be its own venv's, not the working tree's
        venv = venvs.get(name)
        if venv is None:
            continue
        # line 1: where catzilla comes from; line 2: the names of `needs` it lacks
        code = f"import catzilla; print(catzilla.__file__); print(*[n for n in {needs!r} if not hasattr(catzilla, n)])"
        r = subprocess.run([_venv_bin(venv, "python"), "-c", code],
                           cwd=APPS, env=clean_env(), capture_output=True, text=True)
        lines = r.stdout.split("\n")
        if r.returncode != 0 or not lines[0].startswith(str(venv) + os.sep):
            failed[name] = f"venv import check failed: {tail(r.stdout + r.stderr)}"
            venvs.pop(name)
            log(f"[setup] {name}: {failed[name]}")
            continue
        lacking = set(lines[1].split()) if len(lines) > 1 else set()
        for sc in scenarios:
            missing = [n for n in sc.catzilla_needs if n in lacking]
            if missing and sc.name in PEERS[name].also:
                NOT_SERVED[(name, sc.name)] = f"its catzilla has no {', '.join(missing)}"
                log(f"[setup] {name}: {sc.name} n/a ({NOT_SERVED[(name, sc.name)]})")
    if before is not None and "catzilla-before" in versions:
        versions["catzilla-before"] += f"; {before.rev} = {before.commit}"

    # a peer that cannot start at all is reported once and dropped
    for p in peers:
        if p.name in failed:
            continue
        srv = Server(p, venvs[p.name])
        try:
            srv.start()
        except RuntimeError as exc:
            failed[p.name] = f"server did not start: {exc}"
            log(f"[setup] {p.name}: does not start: {exc}")
        finally:
            srv.stop()

    py_python = next((_venv_bin(v, "python") for v in venvs.values() if v is not None), sys.executable)
    py_version = subprocess.run([py_python, "-c", "import platform; print(platform.python_version())"],
                                capture_output=True, text=True).stdout.strip() or platform.python_version()

    results: Dict[Tuple[str, str], List[Dict]] = {}
    baseline: List[Dict] = []
    active = [p for p in peers if p.name not in failed]
    total = args.rounds * sum(1 for sc in scenarios for p in active if supports(p, sc))
    done = 0
    t_start = time.monotonic()
    for rnd in range(args.rounds):
        if "stream10k" in scenario_names:
            try:
                baseline.append(generator_baseline(py_python))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                log(f"[baseline] failed: {exc}")
        for sc in scenarios:
            for p in active:
                if not supports(p, sc):
                    continue
                done += 1
                log(f"[round {rnd + 1}/{args.rounds}] {sc.name:<9} {p.name:<18} ({done}/{total}) ...")
                res = measure(p, venvs[p.name], sc, args.duration, args.warmup, args.connections,
                              args.upload_mib * 2 ** 20, args.subscribers, args.fan_procs)
                results.setdefault((p.name, sc.name), []).append(res)
                if "error" in res:
                    log(f"    error: {res['error']}")
                elif sc.kind == "download":
                    log(f"    {res['mb_per_s']:,.0f} MB/s, RSS {res['rss_before'] / 2**20:.1f} -> "
                        f"{res['rss_peak'] / 2**20:.1f} MiB ({res['downloads']} downloads)")
                elif sc.kind == "ws":
                    log(f"    {res['msgs_per_s']:,.0f} messages/s, p99 {res['p99_us']:,.0f} us, "
                        f"server CPU {res['server_cpu']:.0%}, client CPU {res['client_cpu']:.0%}")
                elif sc.kind == "fanout":
                    log(f"    p50 {res['p50_us'] / 1000:,.2f} ms, p99 {res['p99_us'] / 1000:,.2f} ms, max "
                        f"{res['max_us'] / 1000:,.1f} ms, {res['deliveries_per_s']:,.0f} deliveries/s, missing "
                        f"{res['missing']}, server CPU {res['server_cpu']:.0%} (CPU {SERVER_CPU} busy "
                        f"{res['cpu0_busy']:.0%}), client CPU {res['client_cpu']:.0%}, "
                        f"RSS {res['rss_idle'] / 2**20:.1f} -> {res['rss'] / 2**20:.1f} MiB "
                        f"(connected in {res.get('connect_s', 0):.1f} s)")
                elif sc.kind == "gzip":
                    log(f"    {res['rps']:,.1f} req/s, {res['encoding']}: {res['body_mb_per_s']:,.1f} MB/s as sent, "
                        f"{res['decoded_mb_per_s']:,.1f} MB/s decoded ({res['body_bytes']:,} B in "
                        f"{res['wire_chunks']:,} chunks per answer)"
                        + (f"  [{res['problems']}]" if res.get("problems") else ""))
                elif sc.kind == "upload":
                    log(f"    {res['mb_per_s']:,.0f} MB/s ({res['uploads']} uploads), peak RSS (VmHWM) "
                        f"{res['hwm'] / 2**20:.1f} MiB, server CPU {res['server_cpu']:.0%}, "
                        f"client CPU {res['client_cpu']:.0%}")
                else:
                    log(f"    {res['rps']:,.0f} req/s" + ("" if sc.pipeline > 1 else f", p99 {res['p99']}") +
                        (f"  [{res['problems']}]" if res.get("problems") else ""))
    log(f"[done] {time.monotonic() - t_start:.0f} s")

    info = machine_info()
    report = build_report(args, peers, scenarios, results, failed, versions, baseline, info, py_version, before)
    print(report)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    raw = {"machine": info, "python": py_version, "args": vars(args), "failed": failed, "versions": versions,
           "before": vars(before) if before is not None else None,
           "baseline_stream10k": baseline,
           "results": [{"peer": p, "scenario": s, "rounds": runs} for (p, s), runs in results.items()]}
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    log(f"[report] {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
