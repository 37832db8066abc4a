"""Locust users for a running Catzilla app (the demo, examples/app.py, by default).

    locust -f loadtests/locustfile.py --headless -u 50 -r 25 -t 20s \
        --host http://127.0.0.1:8000 --exit-code-on-error 1

Users (pick some by naming them after the options, e.g. `... StreamUser`):
  PlainUser      GET /                  (text)
  JsonUser       GET /json              (JSON, checked)
  StreamUser     GET /stream/tokens     streamed with requests' stream=True and read chunk by chunk
  UploadUser     POST /upload           a generator body (sent chunked), answer {"bytes": n, "sha256": hex} checked
  WebSocketUser  /ws/echo               one WebSocket per user, held open; text and binary messages echoed
  SSESubscriberUser  /live/feed         an EventSource-like subscriber of a Broadcast topic: delivery latency

Streaming metrics, as Locust stats rows (so they land in the console table, --csv and --html):
  "GET /stream/tokens"   one row per stream; response time = ms until the body ended,
                         size = body bytes. Fails on a non-200 status, on a body that ends
                         early (the connection closes before the terminating chunk or before
                         Content-Length bytes), on fewer than STREAM_MIN_CHUNKS chunks, or, when
                         STREAM_END is set, on a body that does not end with it (its last item).
  "ttfc /stream/tokens"  (request type "TTFC") response time = ms from sending the request to
                         the first body chunk; size = the NUMBER OF CHUNKS that response had,
                         so the average size in this row ("Average Content Size" in --csv,
                         "Average size" in the web UI) is the average chunks per response;
                         a one-line summary is also logged when the test stops.

Upload and WebSocket rows:
  "POST /upload"         response time = ms from the first body byte sent to the answer; size = the
                         BYTES UPLOADED (UPLOAD_BYTES). Fails on a non-200 status, or an answer whose
                         "bytes" or "sha256" differs from what was sent.
  "WS /ws/echo"          (request type "WS") one row per message: response time = ms from send to the
                         echo; size = message bytes. Fails when the echo differs (content or text/binary
                         type) or the socket breaks (the user reconnects on its next task).
  "WS connect /ws/echo"  the opening handshake of each user's WebSocket (ms), size 0.

Broadcast subscriber rows (request type "SSE"):
  "delivery /live/feed"  one row per event received: response time = ms from its publish time (the
                         event's JSON data carries "t", milliseconds since the epoch, as the demo's
                         dashboard publisher sends it; server and Locust on one clock) to its arrival;
                         size = data bytes. Fails when an event id is not the one after the previous
                         (a lost or repeated event, across a reconnect too: each subscription after the
                         first sends Last-Event-ID and must be replayed without a gap).
  "connect /live/feed"   each subscription: ms to the response head. Each user holds it SSE_HOLD s,
                         then reconnects.
  "gap|dropped|reset /live/feed"  a hub signal received (events were lost): a failure.

Settings from the environment: the host defaults to $CATZILLA_HOST (else http://127.0.0.1:8000;
--host wins); STREAM_PATH (default /stream/tokens); STREAM_MIN_CHUNKS (default 2); STREAM_END (default: unset);
UPLOAD_PATH (default /upload); UPLOAD_BYTES (default 4 MiB); UPLOAD_CHUNK (bytes per yielded
piece, default 64 KiB); WS_PATH (default /ws/echo); WS_MESSAGE_BYTES (default 64); SSE_PATH (default /live/feed);
SSE_HOLD (seconds per subscription, default 10);
LOCUST_MAX_WAIT, the upper bound of each user's pause between tasks in seconds (default 0.1).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
from typing import Any, Iterator, Optional, Tuple

import requests
import websocket   # the websocket-client package (blocking sockets, which Locust's gevent makes cooperative)
from locust import HttpUser, User, between, events, task

HOST = os.environ.get("CATZILLA_HOST", "http://127.0.0.1:8000")
STREAM_PATH = os.environ.get("STREAM_PATH", "/stream/tokens")
STREAM_MIN_CHUNKS = int(os.environ.get("STREAM_MIN_CHUNKS", "2"))
STREAM_END = os.environ.get("STREAM_END", "").encode()
MAX_WAIT = float(os.environ.get("LOCUST_MAX_WAIT", "0.1"))
UPLOAD_PATH = os.environ.get("UPLOAD_PATH", "/upload")
UPLOAD_BYTES = int(os.environ.get("UPLOAD_BYTES", str(4 * 2 ** 20)))
UPLOAD_CHUNK = int(os.environ.get("UPLOAD_CHUNK", str(64 * 1024)))
WS_PATH = os.environ.get("WS_PATH", "/ws/echo")
WS_MESSAGE_BYTES = int(os.environ.get("WS_MESSAGE_BYTES", "64"))
SSE_PATH = os.environ.get("SSE_PATH", "/live/feed")
SSE_HOLD = float(os.environ.get("SSE_HOLD", "10"))

# The upload body: one pattern block, yielded in UPLOAD_CHUNK pieces; its digest computed once.
_BLOCK = bytes(range(256)) * (UPLOAD_CHUNK // 256 + 1)


def _upload_pieces() -> Iterator[bytes]:
    left = UPLOAD_BYTES
    while left > 0:
        n = min(left, UPLOAD_CHUNK)
        yield _BLOCK[:n]
        left -= n


UPLOAD_SHA256 = hashlib.sha256(b"".join(_upload_pieces())).hexdigest()


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


def _json_of(resp: Any) -> Tuple[bool, Any]:
    """(True, the JSON) of a 200 response; (False, None) after marking it failed."""
    if resp.status_code != 200:
        resp.failure(f"status {resp.status_code}: {resp.text[:80]!r}")
        return False, None
    try:
        return True, resp.json()
    except ValueError:
        resp.failure(f"not JSON: {resp.text[:80]!r}")
        return False, None


class JsonUser(_Base):
    @task
    def json_route(self) -> None:
        with self.client.get("/json", catch_response=True) as resp:
            ok, data = _json_of(resp)
            if not ok:
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
        tail = b""
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
                    tail = (tail + piece)[-len(STREAM_END):] if STREAM_END else b""
            except (requests.exceptions.RequestException, OSError) as exc:
                resp.failure(f"body ended early after {chunks} chunks ({nbytes} bytes): {exc}")
                return
            # the row for the stream itself: the whole body, not just the head
            resp.request_meta["response_time"] = (time.perf_counter() - t0) * 1000
            resp.request_meta["response_length"] = nbytes
            if chunks < STREAM_MIN_CHUNKS:
                resp.failure(f"only {chunks} chunks (expected at least {STREAM_MIN_CHUNKS})")
                return
            if tail != STREAM_END:
                resp.failure(f"the body ends with {tail!r}, not {STREAM_END!r}")
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


class UploadUser(_Base):
    """Streams a generator body (requests sends it with Transfer-Encoding: chunked) and checks the
    server's count and digest of what it received."""

    @task
    def upload(self) -> None:
        with self.client.post(UPLOAD_PATH, data=_upload_pieces(), name=UPLOAD_PATH, catch_response=True,
                              headers={"Content-Type": "application/octet-stream"}, timeout=120) as resp:
            resp.request_meta["response_length"] = UPLOAD_BYTES   # convention: bytes uploaded
            ok, data = _json_of(resp)
            if not ok:
                return
            if not isinstance(data, dict) or data.get("bytes") != UPLOAD_BYTES:
                resp.failure(f"server counted {data.get('bytes') if isinstance(data, dict) else data!r} bytes, "
                             f"sent {UPLOAD_BYTES}")
            elif data.get("sha256") != UPLOAD_SHA256:
                resp.failure(f"sha256 {data.get('sha256')!r}, sent {UPLOAD_SHA256}")


class WebSocketUser(User):
    """Holds one WebSocket to WS_PATH for its whole life; each task sends one message (text and
    binary in turn) and waits for the echo, reported as a "WS" request."""

    host = HOST
    wait_time = between(0, MAX_WAIT)

    def on_start(self) -> None:
        self.ws: Optional[websocket.WebSocket] = None
        self.seq = itertools.count()

    def on_stop(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close(timeout=2)
            except (websocket.WebSocketException, OSError):
                pass
            self.ws = None

    def _fire(self, name: str, start_time: float, ms: float, size: int, exc: Optional[BaseException]) -> None:
        self.environment.events.request.fire(request_type="WS", name=name, response_time=ms, response_length=size,
                                             exception=exc, context={}, start_time=start_time, url=WS_PATH)

    def _connect(self) -> Optional[websocket.WebSocket]:
        url = "ws" + self.host[len("http"):] if self.host.startswith("http") else self.host
        start_time, t0 = time.time(), time.perf_counter()
        try:
            ws = websocket.create_connection(url.rstrip("/") + WS_PATH, timeout=30)
        except (websocket.WebSocketException, OSError) as exc:
            self._fire(f"connect {WS_PATH}", start_time, (time.perf_counter() - t0) * 1000, 0, exc)
            return None
        self._fire(f"connect {WS_PATH}", start_time, (time.perf_counter() - t0) * 1000, 0, None)
        return ws

    @task
    def echo(self) -> None:
        if self.ws is None:
            self.ws = self._connect()
            if self.ws is None:
                return
        n = next(self.seq)
        text = f"user {id(self)} message {n} ".ljust(WS_MESSAGE_BYTES, ".")[:WS_MESSAGE_BYTES]
        binary = n % 2 == 1
        payload = text.encode() if binary else text
        start_time, t0 = time.time(), time.perf_counter()
        exc: Optional[BaseException] = None
        try:
            if binary:
                self.ws.send_binary(payload)
            else:
                self.ws.send(payload)
            opcode, data = self.ws.recv_data()
            want = websocket.ABNF.OPCODE_BINARY if binary else websocket.ABNF.OPCODE_TEXT
            if opcode != want:
                exc = AssertionError(f"echo opcode {opcode}, sent {want}")
            elif data != text.encode():
                exc = AssertionError(f"echo {data[:40]!r} differs from the message sent")
        except (websocket.WebSocketException, OSError) as err:
            exc = err
        ms = (time.perf_counter() - t0) * 1000
        if exc is not None and not isinstance(exc, AssertionError):
            self.on_stop()   # broken socket: reconnect on the next task
        self._fire(WS_PATH, start_time, ms, WS_MESSAGE_BYTES, exc)


class SSESubscriberUser(_Base):
    """Subscribes to a Broadcast topic over SSE for SSE_HOLD seconds at a time, resuming with
    Last-Event-ID, and reports each event's publish-to-receive latency."""

    def on_start(self) -> None:
        self.last_id: Optional[int] = None

    def _fire(self, name: str, start_time: float, ms: float, size: int, exc: Optional[BaseException]) -> None:
        self.environment.events.request.fire(request_type="SSE", name=f"{name} {SSE_PATH}", response_time=ms,
                                             response_length=size, exception=exc, context={},
                                             start_time=start_time, url=SSE_PATH)

    def _event(self, block: str) -> None:
        fields: dict = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            if name:                                   # "" is a comment line (keep-alive)
                fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
        if "data" not in fields:
            return
        event = fields.get("event", ["message"])[0]
        data = "\n".join(fields["data"])
        now = time.time()
        if event in ("gap", "dropped", "reset"):
            self._fire(event, now, 0, len(data), AssertionError(f"hub signal {event}: {data}"))
            self.last_id = None                        # the sequence starts afresh
            return
        exc: Optional[BaseException] = None
        if "id" in fields:
            event_id = int(fields["id"][0])
            if self.last_id is not None and event_id != self.last_id + 1:
                exc = AssertionError(f"event id {event_id} after {self.last_id}")
            self.last_id = event_id
        try:
            published = float(json.loads(data)["t"]) / 1000
        except (ValueError, KeyError, TypeError):
            published = now
        self._fire("delivery", now, max(0.0, (now - published) * 1000), len(data), exc)

    @task
    def subscribe(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        start_time, t0 = time.time(), time.perf_counter()
        try:
            with requests.get(self.host.rstrip("/") + SSE_PATH, headers=headers, stream=True,
                              timeout=30) as resp:
                self._fire("connect", start_time, (time.perf_counter() - t0) * 1000, 0,
                           None if resp.status_code == 200 else AssertionError(f"status {resp.status_code}"))
                if resp.status_code != 200:
                    return
                buf = ""
                for piece in resp.iter_content(chunk_size=None):
                    buf += piece.decode("utf-8")
                    while "\n\n" in buf:
                        block, buf = buf.split("\n\n", 1)
                        self._event(block)
                    if time.perf_counter() - t0 > SSE_HOLD:
                        break
        except (requests.exceptions.RequestException, OSError) as exc:
            self._fire("connect", start_time, (time.perf_counter() - t0) * 1000, 0, exc)


@events.test_stop.add_listener
def _log_stream_summary(environment, **kwargs) -> None:
    entry = environment.stats.entries.get((f"ttfc {STREAM_PATH}", "TTFC"))
    if entry is not None and entry.num_requests:
        logging.info("%s: %d streams, %.1f chunks per response, time to first chunk median %s ms, p95 %s ms",
                     STREAM_PATH, entry.num_requests, entry.avg_content_length,
                     entry.median_response_time, entry.get_response_time_percentile(0.95))
