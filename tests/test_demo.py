"""The demo app (examples/app.py), through the real compiled request path
(TestClient): its database routes, /v1/db/rows (a stream read through a `yield`
dependency's sqlite3 session) and /v1/db/downloads (what a background task
recorded after each download)."""
from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, List

import pytest

from catzilla.testing import TestClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("catzilla_demo_app", os.path.join(ROOT, "examples", "app.py"))
    assert spec is not None and spec.loader is not None
    module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DB_FILE = str(tmp_path / "demo.sqlite3")     # this test's own (the demo's is shared by its runs)
    yield module


def downloads(client: TestClient, count: int) -> List[Any]:
    """/v1/db/downloads once it lists `count` downloads: each is recorded by a
    background task after the response is over, so a few requests may pass first."""
    deadline = time.monotonic() + 10
    while True:
        r = client.get("/v1/db/downloads")
        assert r.status_code == 200
        listed: List[Any] = r.json()
        if len(listed) >= count or time.monotonic() > deadline:
            return listed
        time.sleep(0.02)


def test_rows_stream_as_json_lines_and_each_download_is_recorded(demo: ModuleType) -> None:
    with TestClient(demo.app) as client:
        r = client.get("/v1/db/rows?after=10&limit=3")
        assert r.status_code == 200 and r.headers["content-type"] == "application/jsonl"
        assert [json.loads(line) for line in r.text.splitlines()] == [
            {"id": 11, "name": "item-000011", "price": 72.09},
            {"id": 12, "name": "item-000012", "price": 51.28},
            {"id": 13, "name": "item-000013", "price": 30.47}]
        assert downloads(client, 1) == [{"id": 1, "after": 10, "rows_read": 3, "at": pytest.approx(time.time(), abs=60)}]

        whole = client.get(f"/v1/db/rows?limit={demo.DB_ROWS}")     # more than high_water: paced by the socket
        ids = [json.loads(line)["id"] for line in whole.text.splitlines()]
        assert ids == list(range(1, demo.DB_ROWS + 1))
        assert [d["rows_read"] for d in downloads(client, 2)] == [demo.DB_ROWS, 3]      # the latest first

        for bad in ("limit=0", f"limit={demo.DB_ROWS + 1}", "after=-1", "delay=2"):
            assert client.get(f"/v1/db/rows?{bad}").status_code == 422, bad
        assert len(downloads(client, 2)) == 2          # a refused request never ran the endpoint: no task

    with TestClient(demo.app) as client:              # started again on the same file: the same rows
        assert client.get(f"/v1/db/rows?after={demo.DB_ROWS - 1}").text.count("\n") == 1
        assert len(downloads(client, 3)) == 3


def test_a_hang_up_closes_the_session_and_the_download_is_still_recorded(demo: ModuleType) -> None:
    ended: List[Any] = []

    def watched_db() -> Iterator[Any]:           # get_db itself, and what ended each session
        try:
            yield from demo.get_db()             # an exception thrown in reaches get_db's yield
        except BaseException as exc:
            ended.append(type(exc).__name__)
            raise
        ended.append(None)

    demo.app.dependency_overrides[demo.get_db] = watched_db
    with TestClient(demo.app) as client:
        with client.stream("GET", "/v1/db/rows?limit=500&delay=0.01") as r:
            assert r.status_code == 200
            first = next(r.iter_bytes())
            assert json.loads(first.split(b"\n")[0]) == {"id": 1, "name": "item-000001", "price": 80.19}
        # hung up: the generator is closed, then the session (ClientDisconnect thrown in at its
        # yield: rolled back, closed), then record_download, added with add_task, runs
        [cut] = downloads(client, 1)
        assert 1 <= cut["rows_read"] < 500
        assert "ClientDisconnect" in ended           # torn down before the task ran
        # the session was let go: the next download reads and is recorded as usual
        assert len(client.get(f"/v1/db/rows?after={demo.DB_ROWS - 5}").text.splitlines()) == 5
        assert [d["rows_read"] for d in downloads(client, 2)] == [5, cut["rows_read"]]
    # one session ended by the hang-up; every other one (the rows, the polls of downloads) committed
    assert ended.count("ClientDisconnect") == 1 and set(ended) == {"ClientDisconnect", None}


def test_the_db_routes_are_in_the_document(demo: ModuleType) -> None:
    paths = demo.app.openapi()["paths"]
    rows = paths["/v1/db/rows"]["get"]
    assert rows["tags"] == ["db"]
    assert {p["name"] for p in rows["parameters"]} == {"after", "limit", "delay"}       # not the session
    listed = paths["/v1/db/downloads"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed == {"type": "array", "items": {"$ref": "#/components/schemas/Download"}}
