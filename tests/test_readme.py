"""Every Python sample in README.md runs, and every GET route it defines answers
through the real compiled request path, without a server error or a 404/405."""
import os
import re

import pytest

from catzilla import Catzilla, StaticFiles
from catzilla.testing import TestClient

pytestmark = pytest.mark.wheel      # the samples a user of the installed package runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
SAMPLE = {"int": "3", "float": "1.5", "path": "a/b.txt", "uuid": "12345678-1234-5678-1234-567812345678",
          "str": "cat"}


def concrete(path):
    return re.sub(r"\{(\w+)(?::(\w+))?\}", lambda m: SAMPLE[m.group(2) or "str"], path)


def test_readme_has_samples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_sample_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "public").mkdir()                 # for app.static("/assets", "public/")
    (tmp_path / "public" / "index.html").write_bytes(b"<h1>index</h1>")
    namespace = {"__name__": f"readme_sample_{index}", "__file__": os.path.join(ROOT, "README.md")}
    exec(compile(BLOCKS[index], f"README.md sample {index}", "exec"), namespace)
    app = namespace.get("app")
    if not isinstance(app, Catzilla):
        return
    with TestClient(app) as client:
        for route in app.router.routes:
            if "GET" not in route.methods:
                continue
            path = concrete(route.path)
            if "EventSource" in BLOCKS[index] and "events" in path:
                with client.stream("GET", path) as r:
                    assert r.status_code == 200
                    assert next(r.iter_bytes()).startswith(b"event: tick")
                continue
            if "hub.sse(" in BLOCKS[index] and path.startswith("/feed"):
                with client.stream("GET", path) as r:      # a live feed: it never ends by itself
                    assert r.status_code == 200
                    assert next(r.iter_bytes()).startswith(b"retry: ")
                continue
            r = client.get(path)
            # the route exists and takes GET: neither a server error nor a routing miss
            # (a static mount's 404 is for the sample file not being in public/)
            missing = (405,) if isinstance(route.endpoint, StaticFiles) else (404, 405)
            assert r.status_code < 500 and r.status_code not in missing, (path, r.status_code, r.content[:200])
