"""Clients for Broadcast tests: SSE subscribers on raw sockets, read together
through a selector, and the test app's publish and metrics endpoints
(tests/apps/broadcast_app.py)."""
import json
import selectors
import socket
import time

from procs import get


class Feed:
    """One SSE subscriber on a raw socket: the head, then chunked framing and
    the event stream decoded incrementally into dicts of fields."""

    def __init__(self, port, path, headers="", http10=False, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        version = "1.0" if http10 else "1.1"
        self.sock.sendall(f"GET {path} HTTP/{version}\r\nHost: t\r\n{headers}\r\n".encode())
        self.sock.setblocking(False)
        self.raw = b""
        self.head = None
        self.chunked = not http10
        self.body = b""
        self.events = []
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
            if not data:
                self.closed = True
                if not self.chunked:
                    self.ended = True
                break
            self.raw += data
        self._parse()
        return not self.closed

    def _parse(self):
        if self.head is None:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head, self.raw = self.raw[:end].decode("latin-1"), self.raw[end + 4:]
        if self.chunked:
            while True:
                line_end = self.raw.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(self.raw[:line_end], 16)
                if size == 0:
                    self.ended = True
                    self.raw = b""
                    break
                if len(self.raw) < line_end + 2 + size + 2:
                    break
                self.body += self.raw[line_end + 2:line_end + 2 + size]
                self.raw = self.raw[line_end + 2 + size + 2:]
        else:
            self.body, self.raw = self.body + self.raw, b""
        now = time.time_ns()
        while b"\n\n" in self.body:
            block, self.body = self.body.split(b"\n\n", 1)
            fields = {}
            for line in block.decode("utf-8").split("\n"):
                name, _, value = line.partition(":")
                fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
            event = {k: "\n".join(v) for k, v in fields.items()}
            if set(event) != {""}:          # comment-only blocks (pings) are kept under ""
                self.events.append(event)
                self.arrived.append(now)
            else:
                self.events.append({"comment": event[""]})
                self.arrived.append(now)

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
