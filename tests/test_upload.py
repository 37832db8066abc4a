"""Large uploads against the demo app in its own process (its RSS is its own):
1 GiB streamed through `request.stream()` at flat memory, Content-Length and
chunked."""
import hashlib
import socket
import sys
import threading

import psutil
import pytest

from procs import ROOT, launcher, wait_until
from wire import RawClient

MiB = 1 << 20
GiB = 1 << 30


@pytest.fixture(scope="module")
def demo():
    with launcher(ROOT) as run:
        yield run.start([sys.executable, str(ROOT / "examples" / "app.py")], PORT="0")


class PeakRSS:
    """Samples a process's RSS on a thread until stopped."""

    def __init__(self, pid):
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.done.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(5)


def upload(port, total, chunked):
    """POST total bytes (a repeating 1 MiB pattern) to /upload; the parsed JSON
    answer and the sha256 the client computed."""
    block = bytes(range(256)) * (256 if chunked else 4096)   # chunked: 64 KiB chunks, as curl -T sends
    digest = hashlib.sha256()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(f"POST /upload HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n".encode())
        sent = 0
        while sent < total:
            part = block[:min(len(block), total - sent)]
            digest.update(part)
            s.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            sent += len(part)
        if chunked:
            s.sendall(b"0\r\n\r\n")
        r = RawClient(None, timeout=s.gettimeout(), sock=s).read_response()
    assert (r.version, r.status) == ("HTTP/1.1", 200), r
    return r.json(), digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_one_gib_upload_is_hashed_as_it_arrives_at_flat_memory(demo, chunked):
    upload(demo.port, 8 * MiB, chunked)               # warm up: buffers and code paths touched once
    start = psutil.Process(demo.proc.pid).memory_info().rss
    with PeakRSS(demo.proc.pid) as rss:
        answer, sha = upload(demo.port, GiB, chunked)
    assert answer == {"bytes": GiB, "sha256": sha}
    grown = (rss.peak - start) / MiB
    assert grown < 8, f"server RSS grew {grown:.1f} MiB during a 1 GiB upload"


@pytest.mark.slow
def test_one_gib_multipart_file_lands_on_disk_byte_exact_at_flat_memory(demo):
    """`await request.form()` parses as it reads: the file part goes to a temporary
    file, not memory, and that file is gone once the response is sent."""
    proc = psutil.Process(demo.proc.pid)
    boundary = "----catzilla-test-boundary-7d2f"
    block = bytes(range(256)) * 4096
    digest = hashlib.sha256()

    def post(total):
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        with socket.create_connection(("127.0.0.1", demo.port), timeout=60) as s:
            s.sendall(f"POST /upload/form HTTP/1.1\r\nHost: t\r\nContent-Length: {len(head) + total + len(tail)}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode() + head)
            sent = 0
            while sent < total:
                part = block[:min(len(block), total - sent)]
                if total == GiB:
                    digest.update(part)
                s.sendall(part)
                sent += len(part)
            s.sendall(tail)
            r = RawClient(None, timeout=s.gettimeout(), sock=s).read_response()
        assert (r.version, r.status) == ("HTTP/1.1", 200), r
        return r.json()

    post(4 * MiB)                                     # warm up
    start, fds = proc.memory_info().rss, proc.num_fds()
    with PeakRSS(demo.proc.pid) as rss:
        answer = post(GiB)
    assert answer == {"title": "holiday",
                      "file": {"filename": "big.bin", "size": GiB, "sha256": digest.hexdigest()}}
    grown = (rss.peak - start) / MiB
    assert grown < 8, f"server RSS grew {grown:.1f} MiB during a 1 GiB multipart upload"
    # (the server may still hold the just-closed connections' sockets for a moment)
    wait_until(lambda: proc.num_fds() <= fds, 5.0, "the upload's temporary file to be closed")
