"""One start-up contract for one process and many, through real processes:
nothing says "serving" before the startup hooks completed, and a start that
fails (a startup hook raising) exits with status 3 and its error once on
stderr, whether the server is `catzilla run` (--workers 1 or 2) or a script
calling `app.listen()`."""
from __future__ import annotations

import re
import sys
import textwrap

import pytest

import procs
from procs import BANNER, launcher

APP = '''
import asyncio, pathlib
from catzilla import Catzilla

app = Catzilla()

@app.get("/")
def home(request):
    return "hi"
'''

FAILING = APP + '''
@app.on_startup
async def connect():
    raise RuntimeError("database unreachable")
'''

LISTEN = '''
if __name__ == "__main__":
    app.listen(0, workers={workers})
'''


@pytest.fixture
def run(tmp_path):
    with launcher(tmp_path) as launch:
        yield launch


def write(tmp_path, source: str) -> None:
    (tmp_path / "czapp.py").write_text(textwrap.dedent(source))


def assert_failed_start(server: procs.Proc) -> None:
    """Exit status 3, the hook's error (its traceback once) on stderr, no banner anywhere."""
    assert server.wait_exit(20) == 3, server.stderr
    err = server.stderr
    assert err.count('raise RuntimeError("database unreachable")') == 1, err
    assert "RuntimeError: database unreachable" in err
    assert not re.search(BANNER, server.text()), server.text()
    assert "serving" not in server.text(), server.text()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_failing_startup_hook_exits_3_without_serving(run, tmp_path, workers):
    write(tmp_path, FAILING)
    server = run("czapp:app", "--workers", workers, ready=False)
    assert_failed_start(server)
    assert "failed to start" in server.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_app_listen_with_a_failing_startup_hook_exits_3(run, tmp_path, workers):
    write(tmp_path, FAILING + LISTEN.format(workers=workers))
    server = run.start([sys.executable, "czapp.py"], ready=False)
    assert_failed_start(server)
    assert "exiting with status 3" in server.stderr


@pytest.mark.parametrize("how", ["cli", "cli --workers 2", "listen"])
def test_the_banner_comes_only_after_a_slow_startup_hook_completed(run, tmp_path, how):
    """The hook takes a while, then says so on stdout (the banner's stream) and leaves
    a marker file: the banner follows its line, and when it is read the marker exists."""
    write(tmp_path, APP + textwrap.dedent('''
        @app.on_startup
        async def warm_up():
            await asyncio.sleep(0.5)             # a cache being filled
            pathlib.Path("warmed").write_text("yes")
            print("warmed up", flush=True)
    ''') + LISTEN.format(workers=1))
    if how == "listen":
        argv = [sys.executable, "czapp.py"]
    else:
        argv = [sys.executable, "-m", "catzilla", "run", "czapp:app", "--port", "0", *how.split()[1:]]
    server = run.start(argv, ready=False)
    port = server.wait_banner()
    assert (tmp_path / "warmed").read_text() == "yes"
    lines = list(server.out)
    banner = next(i for i, line in enumerate(lines) if re.search(BANNER, line))
    assert "warmed up\n" in lines[:banner], lines
    assert procs.get(port, "/")[0] == 200
    assert server.stop() == 0


def test_app_serve_raises_the_hooks_own_error_and_is_never_ready():
    """The library-level coroutine is no process: no exit status, the original exception."""
    import asyncio

    from catzilla import Catzilla
    from catzilla.runner import bind_socket

    app = Catzilla()
    ready = []

    @app.on_startup
    def connect():
        raise RuntimeError("database unreachable")

    sock = bind_socket("127.0.0.1", 0)
    try:
        with pytest.raises(RuntimeError, match="database unreachable"):
            asyncio.run(app.serve([sock], stop=asyncio.Event(), ready=lambda: ready.append(1)))
    finally:
        sock.close()
    assert ready == []
