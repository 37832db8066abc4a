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

from procs import launcher

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCUSTFILE = os.path.join(ROOT, "loadtests", "locustfile.py")
TOKENS = 20   # chunks the test app's /stream/tokens sends

APP = textwrap.dedent(f"""
    import asyncio
    import sys

    sys.path.insert(0, {ROOT!r})

    from catzilla import Catzilla, StreamingResponse

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


    app.listen(0, "127.0.0.1", banner=True)
""")


@pytest.fixture
def server_url(tmp_path):
    (tmp_path / "locust_target.py").write_text(APP)
    with launcher(tmp_path) as run:
        server = run.start([sys.executable, "locust_target.py"])
        yield f"http://127.0.0.1:{server.port}"


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
