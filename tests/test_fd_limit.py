"""Out of file descriptors: new clients wait in the listen backlog, the server
neither crashes nor drops the clients it already has (design.md §4)."""
import socket
import sys
import textwrap

from procs import fetch, launcher, read_to_eof
from wire import parse_response

APP = """
import resource, sys
from catzilla import Catzilla
app = Catzilla()

@app.get("/")
def home(request):
    return "ok"

resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
app.listen(0, banner=True, loop="asyncio")
"""


def test_clients_beyond_the_fd_limit_wait_and_are_served(tmp_path):
    (tmp_path / "fdapp.py").write_text(textwrap.dedent(APP))
    with launcher(tmp_path) as run:
        server = run.start([sys.executable, "fdapp.py"])
        port = server.port
        # 120 clients at once: more than the server's 48 descriptors can hold
        clients = []
        for _ in range(120):
            s = socket.create_connection(("127.0.0.1", port), timeout=15)
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            clients.append(s)
        answered = 0
        for s in clients:
            data = read_to_eof(s)
            s.close()
            r = parse_response(data)
            assert (r.version, r.status, r.reason, r.body) == ("HTTP/1.1", 200, "OK", b"ok"), data[:200]
            answered += 1
        assert answered == 120
        assert server.proc.poll() is None               # still serving
        assert fetch(port, "/").endswith(b"ok")
        assert server.stop(10) == 0
    assert "out of file descriptors" in server.stderr
