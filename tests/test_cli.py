"""The `catzilla` command line (run as `python -m catzilla`): loading the app,
errors meant for humans, logging (access log, handler tracebacks) and --reload."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from procs import catzilla_env, get, launcher, wait_until

APP = '''
from catzilla import Catzilla

app = Catzilla()
not_an_app = {"a": 1}

@app.get("/hello")
def hello(request):
    return "hello"

@app.get("/boom")
def boom(request):
    raise ValueError("boom-marker: secret detail")

def create_app():
    other = Catzilla()

    @other.get("/hello")
    def hi(request):
        return "from the factory"
    return other

def make_nothing():
    return 42
'''


def cli(tmp_path: Path, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "catzilla", *args], cwd=tmp_path, env=catzilla_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    return tmp_path


@pytest.fixture
def start(app_dir):
    """start(target, *options): `python -m catzilla run target --port 0 ...` in app_dir, banner seen."""
    with launcher(app_dir) as run:
        yield run


# -- help and version ---------------------------------------------------------------


def test_help_reads_well(tmp_path):
    top = cli(tmp_path, "--help")
    assert top.returncode == 0
    assert "run" in top.stdout and "serve an application" in top.stdout
    run = cli(tmp_path, "run", "--help")
    assert run.returncode == 0, run.stderr
    text = run.stdout
    for expected in ("module:app", "module:create_app()", "--workers", "--reload", "--access-log",
                     "--shutdown-timeout", "--loop", "examples:", "catzilla run hello:app --reload"):
        assert expected in text, expected
    assert "--fd" not in text                     # internal option stays hidden


def test_version(tmp_path):
    r = cli(tmp_path, "--version")
    assert r.returncode == 0
    from catzilla import __version__
    assert r.stdout.strip() == f"catzilla {__version__}"


def test_a_command_is_required(tmp_path):
    r = cli(tmp_path)
    assert r.returncode == 2
    assert "usage:" in r.stderr


@pytest.mark.parametrize("args, message", [
    (("--workers", "0"), "--workers: must be at least 1"),
    (("--port", "70000"), "--port: must be between 0 and 65535"),
    (("--shutdown-timeout", "-1"), "--shutdown-timeout: must be >= 0"),
    (("--loop", "tornado"), "invalid choice: 'tornado'"),
    (("--reload-dir", "."), "--reload-dir needs --reload"),
])
def test_bad_options_are_usage_errors(app_dir, args, message):
    r = cli(app_dir, "run", "czapp:app", *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


# -- loading the app: clear errors, exit status 2, no traceback spam --------------------


@pytest.mark.parametrize("target, message", [
    ("nosuchmodule:app", "cannot import 'nosuchmodule': there is no module named 'nosuchmodule'"),
    ("czapp.sub:app", "there is no module named 'czapp.sub'"),
    ("czapp:nope", "module 'czapp' has no attribute 'nope'; Catzilla apps in it: 'czapp:app'"),
    ("czapp:not_an_app", "'czapp:not_an_app' is a dict object, not a Catzilla application"),
    ("czapp:create_app", "write 'czapp:create_app()'"),
    ("czapp:make_nothing()", "the factory 'czapp:make_nothing()' returned an int object, not a Catzilla"),
    ("czapp.py:app", "did you mean 'czapp:app'"),
    ("./czapp.py:app", "did you mean 'czapp:app'"),
    ("czapp:app:x", "is not an attribute name"),
    (":app", "expected APP as 'module:app'"),
])
def test_bad_app_paths_give_one_clear_line(app_dir, target, message):
    r = cli(app_dir, "run", target)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stderr.startswith("catzilla: error: ")
    assert r.stderr.count("\n") == 1, r.stderr     # one line, no traceback
    assert "Traceback" not in r.stderr


def test_an_exception_while_importing_shows_only_the_users_frames(tmp_path):
    (tmp_path / "broken.py").write_text(textwrap.dedent('''
        from catzilla import Catzilla
        app = Catzilla()

        def load_settings():
            raise KeyError("DATABASE_URL")

        load_settings()
    '''))
    r = cli(tmp_path, "run", "broken:app")
    assert r.returncode == 2
    err = r.stderr
    assert "importing 'broken' failed" in err
    assert "Traceback" in err and "broken.py" in err and "load_settings" in err
    assert "KeyError: 'DATABASE_URL'" in err
    assert "importlib" not in err and "cli.py" not in err


def test_a_syntax_error_points_at_the_line(tmp_path):
    (tmp_path / "typo.py").write_text("from catzilla import Catzilla\napp = Catzilla(\n")
    r = cli(tmp_path, "run", "typo:app")
    assert r.returncode == 2
    assert "SyntaxError" in r.stderr and "typo.py" in r.stderr
    assert "importlib" not in r.stderr


def test_a_missing_dependency_inside_the_app_is_not_reported_as_a_bad_path(tmp_path):
    (tmp_path / "needs.py").write_text("import some_missing_dependency_xyz\n")
    r = cli(tmp_path, "run", "needs:app")
    assert r.returncode == 2
    assert "importing 'needs' failed" in r.stderr
    assert "No module named 'some_missing_dependency_xyz'" in r.stderr
    assert "needs.py" in r.stderr


def test_address_in_use_is_a_clear_error(app_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = cli(app_dir, "run", "czapp:app", "--port", str(port))
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "in use" in r.stderr
    assert "Traceback" not in r.stderr


# -- serving -------------------------------------------------------------------------------


def test_module_without_attribute_serves_app_and_factories_work(start):
    plain = start("czapp")
    assert get(plain.port, "/hello")[2] == b"hello"
    factory = start("czapp:create_app()")
    assert get(factory.port, "/hello")[2] == b"from the factory"
    assert plain.stop() == 0 and factory.stop() == 0


def test_access_log_and_handler_tracebacks_go_to_stderr(start):
    server = start("czapp:app", "--access-log")
    status, head, body = get(server.port, "/hello")
    assert status == 200 and body == b"hello"
    line = server.wait_output(r'\[(\d+)\] 127\.0\.0\.1:\d+ - "GET /hello HTTP/1\.1" 200 5 [\d.]+ms$')
    assert int(line.group(1)) == server.proc.pid

    status, head, body = get(server.port, "/boom")
    assert status == 500
    assert body == b"Internal Server Error"           # plain: no traceback, no exception text
    assert b"boom-marker" not in head + body
    server.wait_output(r'"GET /boom HTTP/1\.1" 500 21 ')
    err = server.stderr
    assert "Traceback (most recent call last)" in err
    assert "ValueError: boom-marker: secret detail" in err
    assert "handler raised for GET /boom" in err

    assert get(server.port, "/hello")[0] == 200        # the process lives on
    assert server.stop() == 0


def test_without_access_log_no_request_lines(start):
    server = start("czapp:app")
    assert get(server.port, "/hello")[0] == 200
    assert server.stop() == 0
    assert '"GET /hello' not in server.stderr


def test_log_level_warning_hides_info_but_keeps_errors(start):
    server = start("czapp:app", "--workers", "2", "--log-level", "warning")
    assert get(server.port, "/boom")[0] == 500
    server.wait_output(r"ValueError: boom-marker")
    assert server.stop() == 0
    assert not re.search(r"worker \d+ serving", server.stderr)     # INFO lines are hidden
    assert " INFO " not in server.stderr


# -- --reload ------------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    """Write and move the mtime forward, so the change is seen even on coarse-mtime filesystems."""
    path.write_text(textwrap.dedent(text))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def _wait_body(port: int, path: str, expected: bytes, timeout: float = 15.0) -> None:
    last = []

    def answered() -> bool:
        try:
            last[:] = [get(port, path, timeout=2)]
        except OSError as exc:           # a restart in progress
            last[:] = [exc]
            return False
        return last[0][2] == expected
    try:
        wait_until(answered, timeout, f"{path} to answer {expected!r}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last: {last!r}") from None


@pytest.fixture(params=["watchfiles", "poll"])
def watcher(request):
    """--reload's two ways of finding changes: watchfiles (inotify), and mtime
    polling, its fallback, forced by CATZILLA_RELOAD_POLL=1."""
    if request.param == "watchfiles":
        pytest.importorskip("watchfiles")
        return {}
    return {"CATZILLA_RELOAD_POLL": "1"}


def _check_watcher(server, env: dict) -> None:
    expected = "polling every" if env else "(watchfiles)"
    server.wait_output(re.escape(expected))
    assert "reload mode (development only)" in server.stderr


VERSION = '''
from catzilla import Catzilla
app = Catzilla()

@app.get("/v")
def v(request):
    return "{}"
'''


@pytest.mark.slow
def test_reload_restarts_on_change_survives_a_broken_edit_and_stops_cleanly(start, app_dir, watcher):
    mod = app_dir / "live.py"
    _write(mod, VERSION.format("one"))
    server = start("live:app", "--reload", "--shutdown-timeout", "1", **watcher)
    _check_watcher(server, watcher)
    assert get(server.port, "/v")[2] == b"one"
    reloader = psutil.Process(server.proc.pid)
    first_child = reloader.children()[0].pid

    _write(mod, VERSION.format("two"))
    _wait_body(server.port, "/v", b"two")
    assert "live.py changed; restarting the server" in server.stderr
    assert first_child not in {c.pid for c in reloader.children()}

    # A broken edit: the server child exits, the reloader waits for the fix.
    _write(mod, "from catzilla import Catzilla\napp = Catzilla(\n")
    server.wait_output(r"the server exited \(code 2\); waiting for a file change")
    assert "SyntaxError" in server.stderr
    assert server.proc.poll() is None

    # The fix restarts it.
    _write(mod, VERSION.format("three"))
    _wait_body(server.port, "/v", b"three")

    # Files it does not watch (not Python; Python under __pycache__) do not
    # restart it: changed before a watched one, they would show in that one's
    # restart line or in a restart of their own before it.
    (app_dir / "notes.txt").write_text("not watched")
    (app_dir / "__pycache__").mkdir(exist_ok=True)
    (app_dir / "__pycache__" / "cached.py").write_text("X = 1\n")
    _write(mod, VERSION.format("four"))
    _wait_body(server.port, "/v", b"four")
    restarts = [line for line in server.err if "restarting the server" in line]
    assert len(restarts) == 4, restarts
    assert "notes.txt" not in server.stderr and "cached.py" not in server.stderr, restarts

    children = [c.pid for c in reloader.children()]
    assert server.stop() == 0
    gone, alive = psutil.wait_procs([psutil.Process(p) for p in children if psutil.pid_exists(p)], timeout=5)
    assert not alive


def test_reload_dir_limits_what_is_watched(start, app_dir, watcher):
    (app_dir / "pkg").mkdir()
    (app_dir / "other").mkdir()
    _write(app_dir / "live.py", VERSION.format("a"))
    server = start("live:app", "--reload", "--reload-dir", str(app_dir / "pkg"), **watcher)
    _check_watcher(server, watcher)
    assert get(server.port, "/v")[2] == b"a"
    # other/x.py changes first: had it been watched, it would show in y.py's
    # restart line or in a restart of its own before it.
    _write(app_dir / "other" / "x.py", "X = 1\n")
    _write(app_dir / "pkg" / "y.py", "Y = 1\n")
    server.wait_output(r"y\.py changed; restarting the server")
    assert server.stop() == 0
    restarts = [line for line in server.err if "restarting" in line]
    assert len(restarts) == 1 and "x.py" not in restarts[0], restarts


@pytest.mark.slow
def test_reload_restarts_without_the_apps_drain_delay(start, app_dir):
    """The reloader keeps the socket across restarts (nobody is refused), so its
    child serves with drain_delay=0: a restart is not held up for a minute, nor
    killed at the stop deadline."""
    mod = app_dir / "live.py"
    _write(mod, VERSION.format("one").replace("Catzilla()", 'Catzilla(health_path="/h", drain_delay=60)'))
    server = start("live:app", "--reload", "--shutdown-timeout", "1", CATZILLA_RELOAD_POLL="1")
    assert get(server.port, "/v")[2] == b"one"
    _write(mod, VERSION.format("two").replace("Catzilla()", 'Catzilla(health_path="/h", drain_delay=60)'))
    _wait_body(server.port, "/v", b"two")
    assert server.stop() == 0
    assert "drain_delay" not in server.stderr and "did not stop in time" not in server.stderr, server.stderr
