"""examples/deploy/nginx.conf, for real: two Catzilla instances behind nginx.

The shipped config is rendered with free loopback ports into tmp_path (nginx
runs with -p tmp_path, so its pid, logs and temp files stay there; no root
needed). Checks: requests are balanced over both instances through kept-alive
upstream connections, Host and X-Forwarded-For reach the app, an app with
ProxyHeadersMiddleware sees the client's address, scheme (https on a TLS port)
and host through nginx (and ignores what the client claims), and a stream
paced at 0.5 s arrives through nginx as it is produced (measured with a raw
socket, not a buffering client library)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import textwrap
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

import procs
from catzilla.testing import NeedData, ResponseReader
from procs import ROOT, free_port, launcher
from wire import parse_response
CONFIG = ROOT / "examples" / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                       if os.access(p, os.X_OK)), None)

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (scripts/system-deps.sh installs it)")

APP = '''
import json, os, time
from catzilla import Catzilla, ProxyHeadersMiddleware, StreamingResponse

app = Catzilla()
app.add_middleware(ProxyHeadersMiddleware, trusted=["127.0.0.1"])     # nginx
INSTANCE = os.environ["INSTANCE"]

@app.get("/forwarded")
def forwarded(request):
    return {"client": request.client[0], "scheme": request.scheme, "host": request.host, "url": request.url,
            "raw_host": request.headers.get("host"), "raw_forwarded": request.headers.getlist("forwarded")}

@app.get("/who")
def who(request):
    return {"instance": INSTANCE, "host": request.headers.get("host"),
            "xff": request.headers.get("x-forwarded-for"), "proto": request.headers.get("x-forwarded-proto")}

def paced():
    for i in range(4):
        yield f"chunk {i}\\n"
        time.sleep(0.5)

@app.get("/stream")
def stream(request):
    return StreamingResponse(paced())

@app.get("/stream-accel")
def stream_accel(request):
    return StreamingResponse(paced(), headers={"X-Accel-Buffering": "no"})

@app.get("/stream-buffered")
def stream_buffered(request):
    return StreamingResponse(paced(), headers={"X-Accel-Buffering": "yes"})   # asks nginx to buffer

@app.websocket("/ws")
async def ws_echo(ws):
    await ws.accept()
    async for message in ws:
        await ws.send(f"{INSTANCE}:{message}" if isinstance(message, str) else message)
'''


def nginx_has(module: str) -> bool:
    info = subprocess.run([NGINX, "-V"], capture_output=True, text=True, timeout=10).stderr
    return f"--without-http_{module}_module" not in info


def render_config(tmp_path: Path, upstreams: List[int], listen: int, buffering: str,
                  tls: Optional[Tuple[int, Path, Path]] = None) -> Path:
    """The shipped config with our ports (and `buffering`, plus gzip); paths stay
    relative to the -p prefix (tmp_path)."""
    text = CONFIG.read_text()
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+;", text, re.M)
    assert len(servers) == 2, "the example should list two Catzilla instances"
    for line, port in zip(servers, upstreams):
        text = text.replace(line, re.sub(r":\d+;", f":{port};", line), 1)
    text, n = re.subn(r"listen 127\.0\.0\.1:\d+;", f"listen 127.0.0.1:{listen};", text)
    assert n == 1
    if tls is not None:     # (port, certificate, key): https on a second port, same server block
        text = text.replace(f"listen 127.0.0.1:{listen};", f"listen 127.0.0.1:{listen};\n"
                            f"        listen 127.0.0.1:{tls[0]} ssl;\n"
                            f"        ssl_certificate {tls[1]};\n        ssl_certificate_key {tls[2]};", 1)
    assert "proxy_buffering off;" in text
    text = text.replace("            proxy_buffering off;", f"            proxy_buffering {buffering};")
    # Compression, as many production configs have it: the filter that holds
    # small pieces back unless nginx flushes after each (what unbuffered
    # proxying and X-Accel-Buffering: no make it do).
    text = text.replace("    access_log logs/access.log;\n", "    access_log logs/access.log;\n"
                        "    gzip on; gzip_types text/plain; gzip_min_length 1; gzip_proxied any;\n", 1)
    # Temp paths the example leaves to the distribution (see its comment),
    # needed by a full nginx when it cannot write to its compiled-in paths.
    extra = "".join(f"    {m}_temp_path temp/{m};\n" for m in ("fastcgi", "uwsgi", "scgi") if nginx_has(m))
    text = text.replace("    proxy_temp_path temp/proxy;\n", "    proxy_temp_path temp/proxy;\n" + extra, 1)
    for d in ("logs", "temp"):
        (tmp_path / d).mkdir(exist_ok=True)
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


def nginx_argv(tmp_path: Path, conf: Path) -> List[str]:
    argv = [NGINX, "-p", f"{tmp_path}/", "-c", str(conf), "-e", str(tmp_path / "logs" / "error.log"),
            "-g", "daemon off;"]
    if os.geteuid() == 0:
        argv[-1] += " user root;"     # workers otherwise drop to `nobody`, who cannot enter tmp_path
    return argv


@pytest.fixture(params=["off", "on"], ids=["proxy_buffering-off", "proxy_buffering-on"])
def stack(request, tmp_path):
    """Two Catzilla instances (A and B, with access logs) and nginx in front."""
    buffering = request.param
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    with launcher(tmp_path, grace=15) as run:
        apps = [run("czapp:app", "--access-log", INSTANCE=name) for name in ("A", "B")]
        listen = free_port()
        conf = render_config(tmp_path, [app.port for app in apps], listen, buffering)
        nginx = run.start(nginx_argv(tmp_path, conf), ready=False)
        nginx.wait_port(listen)
        yield {"port": listen, "apps": apps, "buffering": buffering, "nginx": nginx, "dir": tmp_path}


def request(port: int, path: str, headers: str = "", timeout: float = 10.0) -> Tuple[int, str, bytes]:
    """One HTTP/1.1 request on a fresh connection (Connection: close); (status, head, decoded body)."""
    status, head, body = procs.get(port, path, host="example.test", headers=headers, timeout=timeout)
    return status, head.decode("latin-1"), body


def timed_stream(port: int, path: str, gzip: bool = False, timeout: float = 10.0):
    """A raw-socket GET; returns (head, [(seconds after the request, line)], complete).
    Each body line's time is when its last byte arrived, whatever chunking (and
    compression, with gzip=True) nginx used."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    encoding = "Accept-Encoding: gzip\r\n" if gzip else ""
    try:
        t0 = time.monotonic()
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: example.test\r\n{encoding}\r\n".encode())
        reader, head, body, lines, complete = ResponseReader(), None, b"", [], False
        inflate = None
        while not complete:
            data = s.recv(65536)
            now = time.monotonic() - t0
            if not data:
                break
            reader.feed(data)
            try:
                if head is None:
                    head = reader.head()[4][:-4].decode("latin-1")
                    assert "transfer-encoding: chunked" in head.lower(), head
                    if "content-encoding: gzip" in head.lower():
                        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    assert bool(inflate) == gzip, head
                while (piece := reader.piece()) is not None:
                    body += inflate.decompress(piece) if inflate else piece
                    while b"\n" in body:
                        line, body = body.split(b"\n", 1)
                        lines.append((now, line.decode()))
                complete = not reader.trailers          # the last chunk, and no trailer section
            except NeedData:
                pass
        return head, lines, complete
    finally:
        s.close()


def test_requests_are_balanced_over_both_instances_with_upstream_keepalive(stack):
    seen = Counter()
    for _ in range(12):
        status, head, body = request(stack["port"], "/who", headers="X-Forwarded-For: 203.0.113.7\r\n")
        assert status == 200, (head, body)
        info = json.loads(body)
        seen[info["instance"]] += 1
        assert info["host"] == "example.test"
        assert info["xff"] == "203.0.113.7, 127.0.0.1"     # the client's chain plus nginx's peer
        assert info["proto"] == "http"
    assert set(seen) == {"A", "B"} and min(seen.values()) >= 3, seen

    # Upstream keep-alive: each instance saw its requests on fewer connections
    # than requests (one per nginx worker at most), not one connection each.
    for app, name in zip(stack["apps"], ("A", "B")):
        app.wait_output(r'"GET /who HTTP/1\.1" 200', count=seen[name], timeout=5)
        lines = [line for line in app.err if '"GET /who HTTP/1.1" 200' in line]
        assert len(lines) == seen[name]
        peers = {re.search(r"127\.0\.0\.1:(\d+) - ", line).group(1) for line in lines}
        assert len(peers) < len(lines), f"instance {name}: a new upstream connection per request ({peers})"


@pytest.mark.serial
@pytest.mark.parametrize("gzip", [False, True], ids=["identity", "gzip"])
def test_a_paced_stream_arrives_through_nginx_as_it_is_produced(stack, gzip):
    path = "/stream" if stack["buffering"] == "off" else "/stream-accel"
    for attempt in range(2):       # once per instance: round robin sends the two requests to A and B
        head, lines, complete = timed_stream(stack["port"], path, gzip=gzip)
        assert head.startswith("HTTP/1.1 200"), head
        assert complete, f"no terminating chunk: {lines}"
        assert [text for _, text in lines] == [f"chunk {i}" for i in range(4)]
        times = [t for t, _ in lines]
        assert times[0] < 0.3, f"first chunk after {times[0]:.3f} s: {times}"
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(0.3 <= g <= 0.7 for g in gaps), f"chunks not ~0.5 s apart: {times}"


def test_control_a_buffered_compressed_stream_is_held_back(stack):
    """The measurement can tell: the same stream, compressed, with nginx
    buffering it (X-Accel-Buffering: yes overrides proxy_buffering for that
    response), reaches the client only at its end."""
    head, lines, complete = timed_stream(stack["port"], "/stream-buffered", gzip=True)
    assert complete and [text for _, text in lines] == [f"chunk {i}" for i in range(4)]
    assert lines[0][0] > 1.5, f"expected nginx to hold the stream back: {lines}"


def test_stopping_one_instance_is_invisible_to_clients(stack):
    """A rolling restart: SIGTERM to instance A, and clients keep asking while it
    stops and after it has exited: nginx moves on to B, and no request fails."""
    a = stack["apps"][0]

    def who(i: int) -> str:
        status, head, body = request(stack["port"], "/who")
        assert status == 200, (i, head, body)
        return json.loads(body)["instance"]

    before = [who(i) for i in range(10)]
    a.proc.send_signal(signal.SIGTERM)
    during = []
    deadline = time.monotonic() + 10
    while True:                                    # from the signal until A has exited
        during.append(who(len(before) + len(during)))
        if a.proc.poll() is not None:
            break
        assert time.monotonic() < deadline, "instance A did not exit within 10 s of SIGTERM"
    after = [who(len(before) + len(during) + i) for i in range(10)]
    assert a.wait_exit(1) == 0
    assert "A" in before and set(after) == {"B"}, (before, during, after)


def test_websocket_through_nginx(stack):
    """The Upgrade/Connection map lets the handshake through; frames flow both
    ways, and plain requests still use kept-alive upstream connections."""
    import asyncio
    import websockets

    async def main() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{stack['port']}/ws", compression=None) as c:
            await c.send("hello")
            assert re.fullmatch(r"[AB]:hello", await c.recv())
            await c.send(b"\x00" * 100_000)
            assert await c.recv() == b"\x00" * 100_000
            await c.close(4000)
        assert c.close_code == 4000

    asyncio.run(asyncio.wait_for(main(), 20))
    status, _, body = request(stack["port"], "/who")
    assert status == 200 and json.loads(body)["instance"] in ("A", "B")



@pytest.fixture
def proxied(tmp_path):
    """The shipped config with https added on a second port (a throwaway
    self-signed certificate), in front of two instances whose app trusts
    nginx's address (127.0.0.1) only."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=example.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    with launcher(tmp_path, grace=15) as run:
        apps = [run("czapp:app", INSTANCE=name) for name in ("A", "B")]
        listen, tls = free_port(), free_port()
        conf = render_config(tmp_path, [app.port for app in apps], listen, "off", tls=(tls, cert, key))
        nginx = run.start(nginx_argv(tmp_path, conf), ready=False)
        nginx.wait_port(listen)
        nginx.wait_port(tls)
        yield {"http": listen, "https": tls, "apps": apps}


def as_client(port: int, path: str, host: str, headers: str = "", tls: bool = False) -> dict:
    """GET from 127.0.0.2 -- an address the app does not trust, unlike nginx's
    127.0.0.1 -- over plain TCP or TLS; the JSON body."""
    import ssl
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0))
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE          # the throwaway certificate
        sock = context.wrap_socket(sock, server_hostname="example.test")
    data = procs.fetch(port, path, host=host, headers=headers, sock=sock)
    r = parse_response(data)
    assert (r.version, r.status) == ("HTTP/1.1", 200), data
    assert b"transfer-encoding" not in r.raw_head.lower(), r.raw_head
    return json.loads(r.body)


SPOOFED = ("X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6;proto=https;host=evil.example\r\n"
           "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n")


def test_the_app_sees_the_client_scheme_and_host_through_nginx(proxied):
    """ProxyHeadersMiddleware(trusted=["127.0.0.1"]) behind the shipped config:
    request.client is the client's address (not nginx's), request.scheme the
    scheme the client used, request.host/url the host and port it asked for
    (nginx's own Host header drops the port); what the client itself claims
    in those headers changes nothing."""
    port, tls = proxied["http"], proxied["https"]
    for headers in ("", SPOOFED):
        got = as_client(port, "/forwarded?q=1", f"example.test:{port}", headers)
        # nginx replaced the client's Forwarded with its own, well-formed element
        assert got.pop("raw_forwarded") == [f'for=127.0.0.2;proto=http;host="example.test:{port}"']
        assert got == {"client": "127.0.0.2", "scheme": "http", "host": f"example.test:{port}",
                       "url": f"http://example.test:{port}/forwarded?q=1", "raw_host": "example.test"}, headers
        got = as_client(tls, "/forwarded?q=1", f"example.test:{tls}", headers, tls=True)
        assert got.pop("raw_forwarded") == [f'for=127.0.0.2;proto=https;host="example.test:{tls}"']
        assert got == {"client": "127.0.0.2", "scheme": "https", "host": f"example.test:{tls}",
                       "url": f"https://example.test:{tls}/forwarded?q=1", "raw_host": "example.test"}, headers
    # straight to the app, from an untrusted address: the same headers are ignored
    got = as_client(proxied["apps"][0].port, "/forwarded", "backend", SPOOFED)
    assert got.pop("raw_forwarded") == ["for=6.6.6.6;proto=https;host=evil.example"]
    assert got == {"client": "127.0.0.2", "scheme": "http", "host": "backend", "url": "http://backend/forwarded",
                   "raw_host": "backend"}
