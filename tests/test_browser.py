"""A real browser against Catzilla's WebSockets: headless Chromium (Debian's
chromium + chromium-driver, installed by scripts/system-deps.sh), driven by
Selenium, loads the demo app's /ws page over HTTP; the page's script opens
ws://HOST/ws/echo, sends two text messages (one with 2-, 3- and 4-byte UTF-8)
and one binary message, lists the echoes, then closes with 1000; and the /live
dashboard follows its Broadcast feed with an EventSource. Not skipped
when Chromium is missing: the test fails and says what to install."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from procs import get, launcher

pytestmark = [
    # cibuildwheel's containers have no browser; .ci/run covers this.
    pytest.mark.skipif(os.environ.get("CIBUILDWHEEL") == "1", reason="not in cibuildwheel's test containers"),
    pytest.mark.timeout(120),
    pytest.mark.serial,         # a real browser; asserts on event latency and spacing
]


def find(*names: str) -> str:
    for name in names:
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
        if path:
            return path
    raise AssertionError(f"none of {names} found: run scripts/system-deps.sh (Debian: chromium, chromium-driver)")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = find("chromium", "chromium-browser", "google-chrome")
    # Flags that work as root in a container: no sandbox (it needs user
    # namespaces), and /tmp instead of a small /dev/shm.
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    # An explicit driver path: Selenium would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(find("chromedriver")))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_demo_page_echoes_text_and_binary_over_a_websocket(browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    with launcher(tmp_path, grace=10) as run:
        server = run("examples.app:app")
        browser.get(f"http://127.0.0.1:{server.port}/ws")
        assert browser.title == "Catzilla WebSocket echo"
        status = browser.find_element("id", "status")
        WebDriverWait(browser, 20).until(lambda _: status.text.startswith("closed"),
                                         message=f"no close; server output:\n{server.text()}")
        echoes = [li.text for li in browser.find_elements("css selector", "#log li")]
        assert echoes == ["text: hello", "text: héllo ✓ 🐈", "binary: 00 01 02 7f 80 ff"], (echoes, server.text())
        # The browser's view of the close handshake: our 1000 came back, cleanly.
        assert status.text == "closed 1000 clean", (status.text, server.text())
        assert server.proc.poll() is None, server.text()


def test_the_live_dashboard_receives_events_as_they_are_published(browser, tmp_path):
    """The demo's /live page: an EventSource on the Broadcast hub's feed, its
    numbers updated by each event (twice a second), in the browser's own SSE parser."""
    from selenium.webdriver.support.ui import WebDriverWait
    with launcher(tmp_path, grace=10) as run:
        server = run("examples.app:app")
        browser.get(f"http://127.0.0.1:{server.port}/live")
        assert browser.title == "Catzilla live dashboard"
        status = browser.find_element("id", "status")
        WebDriverWait(browser, 20).until(lambda _: status.text.startswith("live, event "),
                                         message=f"no event; server output:\n{server.text()}")
        first = int(status.text.rsplit(" ", 1)[1])
        WebDriverWait(browser, 20).until(lambda _: int(status.text.rsplit(" ", 1)[1]) >= first + 3,
                                         message="the feed stopped")
        assert browser.find_element("id", "subscribers").text == "1"
        assert float(browser.find_element("id", "price").text) > 0
        assert float(browser.find_element("id", "latency").text) < 1000      # same machine, same clock
        assert server.proc.poll() is None, server.text()


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cross-origin feed</title></head>
<body><pre id="log">[]</pre><p id="status">connecting</p>
<script>
const arrivals = [];
const source = new EventSource("http://127.0.0.1:%d/events");
source.addEventListener("tick", (e) => {
  arrivals.push([e.data, e.lastEventId, performance.now()]);
  document.getElementById("log").textContent = JSON.stringify(arrivals);
});
source.addEventListener("end", () => {
  source.close();
  document.getElementById("status").textContent = "done";
});
source.onerror = () => { document.getElementById("status").textContent = "error"; };
</script></body></html>
"""


def test_a_static_page_follows_a_cross_origin_event_stream_through_cors_and_gzip(browser, tmp_path):
    """A page from one Catzilla's static mount opens an EventSource to a second
    Catzilla on another port (another origin): CORS lets it read the stream,
    gzip compresses it, and the events arrive one by one as they are sent."""
    from selenium.webdriver.support.ui import WebDriverWait
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(os.path.join(os.path.dirname(__file__), "apps", "cross_origin_app.py"), tmp_path)
    app = "cross_origin_app"
    with launcher(tmp_path, grace=5) as run:
        page = run(f"{app}:page", STATIC_DIR=str(site))
        origin = f"http://127.0.0.1:{page.port}"
        events = run(f"{app}:events", PAGE_ORIGIN=origin)
        (site / "index.html").write_text(PAGE % events.port)
        browser.get(f"{origin}/site/")
        assert browser.title == "cross-origin feed"
        status = browser.find_element("id", "status")
        WebDriverWait(browser, 20).until(lambda _: status.text in ("done", "error"),
                                         message=f"no end event; events server:\n{events.text()}")
        assert status.text == "done"
        arrivals = json.loads(browser.find_element("id", "log").text)
        assert [(data, ident) for data, ident, _ in arrivals] == [(f"tick {i}", str(i)) for i in range(5)]
        gaps = [b[2] - a[2] for a, b in zip(arrivals, arrivals[1:])]
        # paced 400 ms apart on the server: arriving in one piece would make these ~0
        assert all(gap > 200 for gap in gaps), gaps
        status_code, _, body = get(events.port, "/seen")
        seen = json.loads(body)
        assert status_code == 200 and len(seen) == 1, seen
        assert seen[0]["origin"] == origin and seen[0]["allow-origin"] == origin
        assert "gzip" in seen[0]["accept-encoding"] and seen[0]["content-encoding"] == "gzip"


def test_the_demo_static_page_shows_streams_through_gzip(browser, tmp_path):
    """The demo's /assets/ page (a static mount, gzip on): its EventSource clock
    ticks and its fetch() token stream is read to the end."""
    import re
    from selenium.webdriver.support.ui import WebDriverWait
    with launcher(tmp_path, grace=10) as run:
        server = run("examples.app:app")
        browser.get(f"http://127.0.0.1:{server.port}/assets/")
        assert browser.title == "Catzilla static files"
        clock = browser.find_element("id", "clock")
        WebDriverWait(browser, 20).until(lambda _: re.fullmatch(r"\d\d:\d\d:\d\d", clock.text),
                                         message=f"no tick; server output:\n{server.text()}")
        tokens = browser.find_element("id", "tokens")
        WebDriverWait(browser, 20).until(lambda _: tokens.text.strip().endswith("produces it ."),
                                         message="the token stream did not complete")
        status, head, _ = get(server.port, "/assets/app.js", headers="Accept-Encoding: gzip\r\n")
        assert status == 200 and b"content-encoding: gzip" in head.lower()
