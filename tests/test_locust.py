"""loadtests/locustfile.py against a real Catzilla server: Locust runs headless for a few
seconds with every user type, and its CSV stats must show traffic for each, no failures,
and the streaming metrics (time to first chunk, chunks per response)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCUSTFILE = os.path.join(ROOT, "loadtests", "locustfile.py")
TOKENS = 20   # chunks the test app's /stream/tokens sends

APP = textwrap.dedent(f"""
    import asyncio
    import sys

    sys.path.insert(0, {ROOT!r})

    from catzilla import Catzilla, StreamingResponse
    from catzilla.runner import bind_socket, run

    app = Catzilla()


    @app.get("/")
    def home(request):
        return "Hello, World!"


    @app.get("/json")
    def json_route(request):
        return {{"message": "Hello, World!"}}


    @app.get("/stream/tokens")
    async def tokens(request):
        async def generate():
            for i in range({TOKENS}):
                await asyncio.sleep(0.01)
                yield f"token{{i}} "
        return StreamingResponse(generate())


    sock = bind_socket("127.0.0.1", 0)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    import os
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    run(app, sock=sock, banner=False)
""")


@pytest.fixture
def server_url(tmp_path):
    script = tmp_path / "locust_target.py"
    script.write_text(APP)
    port_file = tmp_path / "port"
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(script), str(port_file)], stdout=log,
                                stderr=subprocess.STDOUT, cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 15
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the test server did not start: {log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def read_stats(path: str) -> dict:
    with open(path, newline="") as f:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(f)}


@pytest.mark.timeout(60)
def test_locust_headless_run(server_url, tmp_path):
    prefix = str(tmp_path / "run")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "STREAM_", "CATZILLA_HOST"))}
    cmd = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "-u", "6", "-r", "6", "-t", "8s",
           "--host", server_url, "--exit-code-on-error", "1", "--csv", prefix, "--only-summary",
           "--stop-timeout", "5", "--loglevel", "WARNING"]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=45, cwd=ROOT, env=env)
    elapsed = time.monotonic() - t0
    output = (r.stdout + r.stderr)[-3000:]
    assert r.returncode == 0, f"locust exited with {r.returncode}:\n{output}"
    assert elapsed < 40, f"locust took {elapsed:.1f} s"

    stats = read_stats(prefix + "_stats.csv")
    for key in [("GET", "/"), ("GET", "/json"), ("GET", "/stream/tokens"), ("TTFC", "ttfc /stream/tokens")]:
        assert key in stats, f"no stats row {key}; rows: {sorted(stats)}\n{output}"
        assert int(stats[key]["Request Count"]) > 0, f"{key}: no requests"
        assert int(stats[key]["Failure Count"]) == 0, f"{key}: failures\n{output}"
    total = stats[("", "Aggregated")]
    assert int(total["Failure Count"]) == 0

    stream = stats[("GET", "/stream/tokens")]
    ttfc = stats[("TTFC", "ttfc /stream/tokens")]
    assert int(ttfc["Request Count"]) == int(stream["Request Count"])
    # each token arrives as its own chunk, 10 ms apart: many chunks, and the first long before the last
    assert float(ttfc["Average Content Size"]) >= TOKENS / 2, ttfc
    assert float(ttfc["Average Response Time"]) < float(stream["Average Response Time"]), (ttfc, stream)
    assert float(stream["Average Response Time"]) >= TOKENS * 10 * 0.9, stream
