"""A real browser on the docs page: headless Chromium (as in test_browser.py)
loads /docs of the typed test app, whose Swagger UI assets are served by the
app itself from the `flask-swagger-ui` wheel's copy of swagger-ui-dist
(installed by `make deps` with --no-deps: only its dist/ files are used), so no
network is needed; Swagger UI fetches /openapi.json and lists every operation."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys

import pytest

from procs import get, launcher
from test_browser import browser  # noqa: F401  (the fixture: one headless Chromium)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))
import typed_app  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.environ.get("CIBUILDWHEEL") == "1", reason="not in cibuildwheel's test containers"),
    pytest.mark.timeout(120),
    pytest.mark.slow,
]


def swagger_dist() -> str:
    spec = importlib.util.find_spec("flask_swagger_ui")
    assert spec is not None and spec.submodule_search_locations, \
        "flask-swagger-ui is not installed: make deps (pip install --no-deps 'flask-swagger-ui==5.34.*')"
    dist = os.path.join(list(spec.submodule_search_locations)[0], "dist")
    assert os.path.isfile(os.path.join(dist, "swagger-ui-bundle.js")), dist
    return dist


@pytest.mark.parametrize("target, version", [("app", "3.1.0"), ("stream_app", "3.2.0")])
def test_swagger_ui_shows_every_operation(browser, tmp_path, target, version):  # noqa: F811
    from selenium.webdriver.support.ui import WebDriverWait

    shutil.copy(typed_app.__file__, tmp_path)
    with launcher(tmp_path) as run:
        server = run(f"typed_app:{target}", SWAGGER_DIR=swagger_dist())
        base = f"http://127.0.0.1:{server.port}"
        status, _, body = get(server.port, "/openapi.json")
        document = json.loads(body)
        assert status == 200 and document["openapi"] == version
        status, _, page = get(server.port, "/docs")
        assert status == 200 and b'src="/swagger/swagger-ui-bundle.js"' in page
        expected = sorted((method.upper(), path) for path, item in document["paths"].items() for method in item)

        browser.get(f"{base}/docs")
        assert browser.title == "Typed shop - Swagger UI"

        def shown():
            return sorted(tuple(pair) for pair in browser.execute_script(
                "return Array.from(document.querySelectorAll('.opblock'), b => ["
                "b.querySelector('.opblock-summary-method').textContent, "
                "b.querySelector('[data-path]').getAttribute('data-path')])"))

        WebDriverWait(browser, 20).until(lambda _: len(shown()) == len(expected),
                                         message=f"operations not shown; page text:\n"
                                                 f"{browser.find_element('tag name', 'body').text[:2000]}")
        assert shown() == expected
        assert "Typed shop" in browser.find_element("css selector", ".info .title").text
        deprecated = browser.find_elements("css selector", ".opblock-deprecated [data-path]")
        assert [d.get_attribute("data-path") for d in deprecated] == ["/old"]
        # no error box (an unreadable document shows one)
        assert not browser.find_elements("css selector", ".errors-wrapper"), \
            browser.find_element("css selector", ".errors-wrapper").text
