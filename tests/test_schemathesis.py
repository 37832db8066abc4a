"""Schemathesis (property-based tests generated from the OpenAPI document)
against real servers of the demo (examples/app.py: its typed API, the operations
tagged "llm"; the rest of the demo streams without end or for gigabytes) and of
the typed test app (tests/apps/typed_app.py, with its typed streams: an OpenAPI
3.2 document, every operation): for each, a bounded number of generated
requests, valid ones and invalid ones, each answered without a 5xx and with a
body that conforms to the schema documented for its status (a 422 included). Schemathesis 4 checks each SSE event against
the 3.2 `itemSchema`; it does not read application/jsonl, so the test checks
each line of those itself."""
from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))
import typed_app  # noqa: E402

from examples.app import app as demo  # noqa: E402
from procs import launcher  # noqa: E402

pytestmark = pytest.mark.slow

#: examples per operation and generation mode: the whole file stays well under a minute
EXAMPLES = 25

#: app name -> (catzilla run target, its document, the operations tested)
APPS = {
    "demo": ("examples.app:app", demo.openapi(), lambda op: "llm" in op.get("tags", ())),
    "typed_app": ("typed_app:stream_app", typed_app.make_app(streams=True).openapi(), lambda op: True),
}
OPERATIONS = [(name, method.upper(), path) for name, (_, doc, tested) in APPS.items()
              for path, item in doc["paths"].items() for method, op in item.items() if tested(op)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """One server per app, started when a test first needs it."""
    cwd = tmp_path_factory.mktemp("schemathesis")
    shutil.copy(typed_app.__file__, cwd)
    started: dict = {}
    with launcher(cwd) as run:
        def get(name):
            if name not in started:
                started[name] = run(APPS[name][0])
            return started[name]
        yield get


def check_jsonl(response, operation, doc) -> int:
    """Every line of a JSON Lines answer against the operation's documented itemSchema."""
    from jsonschema import Draft202012Validator
    media = operation["responses"][str(response.status_code)]["content"]["application/jsonl"]
    validator = Draft202012Validator(dict(media["itemSchema"], components=doc["components"]))
    lines = response.content.decode().splitlines()
    for line in lines:
        validator.validate(json.loads(line))
    return len(lines)


@pytest.mark.parametrize("app, method, path", OPERATIONS, ids=[f"{a} {m} {p}" for a, m, p in OPERATIONS])
def test_operation(servers, app, method, path):
    import requests
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    server = servers(app)
    base = f"http://127.0.0.1:{server.port}"
    doc = APPS[app][1]
    op = schemathesis.openapi.from_url(f"{base}/openapi.json", timeout=10)[path][method]
    documented = doc["paths"][path][method.lower()]
    seen: dict = {}
    with requests.Session() as session:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def check(case):
                response = case.call_and_validate(base_url=base, session=session, timeout=10,
                                                  checks=[not_a_server_error, response_schema_conformance])
                seen.setdefault(mode.value, []).append(response.status_code)
                if response.headers.get("content-type", [""])[0].startswith("application/jsonl"):
                    seen["jsonl items"] = seen.get("jsonl items", 0) + check_jsonl(response, documented, doc)
            try:
                check()
            except Unsatisfiable:
                # nothing invalid can be written for it: no parameters (GET /v1/models), or only a
                # path segment that takes anything non-empty (GET /hello/{name})
                assert mode is GenerationMode.NEGATIVE and path in ("/hello/{name}", "/v1/models"), (method, path)
            except Exception:
                print(server.text())
                raise
    assert server.proc.poll() is None, server.text()
    # the valid examples reached the handler; the invalid ones were refused: by the router
    # (a segment its converter does not take: 404) or by the plan (422, documented)
    assert any(200 <= s < 300 for s in seen["positive"]), seen
    if "application/jsonl" in json.dumps(documented["responses"]):
        assert seen["jsonl items"] > 0, seen
    if "negative" in seen:
        assert set(seen["negative"]) & {404, 422}, seen
    if documented.get("requestBody") or any(p["in"] != "path" for p in documented.get("parameters", ())):
        assert 422 in seen["negative"], seen
