"""10,000 idle keep-alive connections: the server's total RSS (design.md §7 bar: < 64 MiB).

    .venv/bin/python benchmarks/idle_keepalive.py [N]

Starts a Catzilla app in a subprocess, opens N connections (default 10,000), makes one
request on each, leaves them idle for 2.5 s (long enough for idle buffers to be released)
and prints the server's RSS before and after. Loopback only; raises RLIMIT_NOFILE itself.
"""
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = """
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
from catzilla import Catzilla
app = Catzilla(keepalive_timeout=120)

@app.get("/")
def home(request):
    return "ok"

app.listen(0, banner=True)
"""


def main(n: int) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(APP)
    proc = subprocess.Popen([sys.executable, f.name], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    try:
        port = int(re.search(r":(\d+) ", proc.stdout.readline()).group(1))
        server = psutil.Process(proc.pid)
        time.sleep(0.5)
        before = server.memory_info().rss
        socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            socks.append(s)
            if len(socks) % 500 == 0:
                for t in socks[-500:]:
                    assert t.recv(4096).startswith(b"HTTP/1.1 200")
        for t in socks[len(socks) - len(socks) % 500:]:
            assert t.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(2.5)
        after = server.memory_info().rss
        print(f"{n} idle keep-alive connections: server RSS {after / 2**20:.1f} MiB "
              f"(before the clients: {before / 2**20:.1f} MiB)")
        for s in socks:
            s.close()
    finally:
        proc.terminate()
        proc.wait(10)
        os.unlink(f.name)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
