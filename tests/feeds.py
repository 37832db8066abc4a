"""Clients for Broadcast tests: SSE subscribers on raw sockets, read together
through a selector, and the test app's publish and metrics endpoints
(tests/apps/broadcast_app.py)."""
import json
import selectors
import socket
import time

from catzilla.testing import NeedData, ResponseClosed, ResponseReader
from procs import get
from wire import EventStreamParser


class Feed:
    """One SSE subscriber on a raw socket, read incrementally by the tests' one
    response reader and event-stream parser: the head, then each event block
    as a dict of its fields."""

    def __init__(self, port, path, headers="", http10=False, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        version = "1.0" if http10 else "1.1"
        self.sock.sendall(f"GET {path} HTTP/{version}\r\nHost: t\r\n{headers}\r\n".encode())
        self.sock.setblocking(False)
        self.reader = ResponseReader()
        self.sse = EventStreamParser()
        self.head = None
        self.events = self.sse.blocks   # each block's fields; comment-only blocks (pings) as {"comment": ...}
        self.arrived = []          # time.time_ns() when each event was parsed
        self.ended = False         # the last chunk (or EOF on HTTP/1.0) was seen
        self.closed = False

    def fileno(self):
        return self.sock.fileno()

    def pump(self):
        """Read what is there; False once the connection is closed."""
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                break
            except ConnectionResetError:
                data = b""
            self.reader.feed(data)
            if not data:
                self.closed = True
                break
        self._parse()
        return not self.closed

    def _parse(self):
        try:
            if self.head is None:
                self.head = self.reader.head()[4][:-4].decode("latin-1")
            while not self.ended:
                piece = self.reader.piece()
                if piece is None:
                    self.ended = True
                else:
                    self.sse.feed(piece)
        except (NeedData, ResponseClosed):
            pass
        now = time.time_ns()
        self.arrived += [now] * (len(self.events) - len(self.arrived))

    def data_events(self):
        return [e for e in self.events if "data" in e and "event" not in e]

    def close(self):
        self.sock.close()


def pump_all(feeds, until, timeout, what):
    sel = selectors.DefaultSelector()
    for f in feeds:
        sel.register(f, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            for key, _ in sel.select(0.05):
                if not key.fileobj.pump():
                    sel.unregister(key.fileobj)
    finally:
        sel.close()


def post(port, path, body=b"", expect=200):
    """POST on a fresh connection: its JSON answer, after checking the status."""
    status, head, payload = get(port, path, method="POST", body=body, timeout=10)
    assert status == expect, (status, head, payload)
    return json.loads(payload)


def metrics(port):
    """The test app's hub.metrics()."""
    status, _, payload = get(port, "/metrics", timeout=10)
    assert status == 200, payload
    return json.loads(payload)
