"""Locust users for a running Catzilla app (the demo, examples/app.py, by default).

    locust -f loadtests/locustfile.py --headless -u 50 -r 25 -t 20s \
        --host http://127.0.0.1:8000 --exit-code-on-error 1

Users (pick some by naming them after the options, e.g. `... StreamUser`):
  PlainUser   GET /                  (text)
  JsonUser    GET /json              (JSON, checked)
  StreamUser  GET /stream/tokens     streamed with requests' stream=True and read chunk by chunk

Streaming metrics, as Locust stats rows (so they land in the console table, --csv and --html):
  "GET /stream/tokens"   one row per stream; response time = ms until the body ended,
                         size = body bytes. Fails on a non-200 status, on a body that ends
                         early (the connection closes before the terminating chunk or before
                         Content-Length bytes), or on fewer than STREAM_MIN_CHUNKS chunks.
  "ttfc /stream/tokens"  (request type "TTFC") response time = ms from sending the request to
                         the first body chunk; size = the NUMBER OF CHUNKS that response had,
                         so the average size in this row ("Average Content Size" in --csv,
                         "Average size" in the web UI) is the average chunks per response;
                         a one-line summary is also logged when the test stops.

Settings from the environment: the host defaults to $CATZILLA_HOST (else http://127.0.0.1:8000;
--host wins); STREAM_PATH (default /stream/tokens); STREAM_MIN_CHUNKS (default 2);
LOCUST_MAX_WAIT, the upper bound of each user's pause between tasks in seconds (default 0.1).
"""
from __future__ import annotations

import logging
import os
import time

import requests
from locust import HttpUser, between, events, task

HOST = os.environ.get("CATZILLA_HOST", "http://127.0.0.1:8000")
STREAM_PATH = os.environ.get("STREAM_PATH", "/stream/tokens")
STREAM_MIN_CHUNKS = int(os.environ.get("STREAM_MIN_CHUNKS", "2"))
MAX_WAIT = float(os.environ.get("LOCUST_MAX_WAIT", "0.1"))


class _Base(HttpUser):
    abstract = True
    host = HOST
    wait_time = between(0, MAX_WAIT)


class PlainUser(_Base):
    @task
    def plain(self) -> None:
        with self.client.get("/", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
            elif not resp.text:
                resp.failure("empty body")


class JsonUser(_Base):
    @task
    def json_route(self) -> None:
        with self.client.get("/json", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
                return
            try:
                data = resp.json()
            except ValueError:
                resp.failure(f"not JSON: {resp.text[:80]!r}")
                return
            if not isinstance(data, dict) or "message" not in data:
                resp.failure(f"unexpected JSON: {data!r}")


class StreamUser(_Base):
    """Reads a streaming response incrementally and reports time to first chunk and chunk count."""

    path = STREAM_PATH

    @task
    def stream(self) -> None:
        start_time = time.time()
        t0 = time.perf_counter()
        ttfc_ms = None
        chunks = 0
        nbytes = 0
        with self.client.get(self.path, name=self.path, stream=True, catch_response=True, timeout=60) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
                return
            try:
                # chunk_size=None: each piece as it arrives (one per HTTP chunk for chunked bodies)
                for piece in resp.iter_content(chunk_size=None):
                    if not piece:
                        continue
                    if ttfc_ms is None:
                        ttfc_ms = (time.perf_counter() - t0) * 1000
                    chunks += 1
                    nbytes += len(piece)
            except (requests.exceptions.RequestException, OSError) as exc:
                resp.failure(f"body ended early after {chunks} chunks ({nbytes} bytes): {exc}")
                return
            # the row for the stream itself: the whole body, not just the head
            resp.request_meta["response_time"] = (time.perf_counter() - t0) * 1000
            resp.request_meta["response_length"] = nbytes
            if chunks < STREAM_MIN_CHUNKS:
                resp.failure(f"only {chunks} chunks (expected at least {STREAM_MIN_CHUNKS})")
                return
            resp.success()
        self.environment.events.request.fire(
            request_type="TTFC",
            name=f"ttfc {self.path}",
            response_time=ttfc_ms,
            response_length=chunks,          # convention: chunks per response
            exception=None,
            context={},
            start_time=start_time,
            url=self.path,
        )


@events.test_stop.add_listener
def _log_stream_summary(environment, **kwargs) -> None:
    entry = environment.stats.entries.get((f"ttfc {STREAM_PATH}", "TTFC"))
    if entry is not None and entry.num_requests:
        logging.info("%s: %d streams, %.1f chunks per response, time to first chunk median %s ms, p95 %s ms",
                     STREAM_PATH, entry.num_requests, entry.avg_content_length,
                     entry.median_response_time, entry.get_response_time_percentile(0.95))
