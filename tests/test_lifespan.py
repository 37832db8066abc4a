"""Catzilla(lifespan=fn), Starlette's convention: fn(app) returns an async
context manager, entered when serving starts (after the on_startup hooks)
and exited when it stops (after the drain, before the on_shutdown hooks).
What it yields lands in app.state; each request.state starts as a shallow
copy of app.state. A lifespan whose start raises fails the start the way a
startup hook does (exit 3, its traceback once, no banner); one whose exit
raises is logged and the shutdown goes on."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import textwrap
from typing import Any, AsyncIterator, Dict, List

import pytest

import procs
from catzilla import Catzilla, Request, State
from catzilla.runner import bind_socket
from catzilla.testing import TestClient
from procs import BANNER, launcher


def lifespan_app(events: List[str], state: Any = None) -> Catzilla:
    """An app whose hooks and lifespan append to `events`; the lifespan yields `state`."""
    @contextlib.asynccontextmanager
    async def lifespan(app: Catzilla) -> AsyncIterator[Any]:
        events.append(f"lifespan enter (startup hook ran: {getattr(app.state, 'hooked', False)})")
        yield state
        events.append("lifespan exit")

    app = Catzilla(lifespan=lifespan)

    @app.on_startup
    def first() -> None:
        app.state.hooked = True
        events.append("startup hook")

    @app.on_shutdown
    async def last() -> None:
        events.append("shutdown hook")

    return app


# -- State ---------------------------------------------------------------------------------------

def test_state_is_an_attribute_bag_over_a_dict():
    backing: Dict[str, Any] = {"db": "pool"}
    state = State(backing)
    assert state.db == "pool" and state._state is backing     # Starlette's: the dict itself
    state.cache = {}
    assert backing == {"db": "pool", "cache": {}}
    del state.db
    assert "db" not in backing
    with pytest.raises(AttributeError, match="'State' object has no attribute 'db'"):
        state.db
    with pytest.raises(AttributeError):
        del state.db
    assert getattr(state, "missing", None) is None and not hasattr(state, "missing")
    assert repr(State({"a": 1})) == "State(a=1)"
    assert State()._state == {} and State([("a", 1)]).a == 1


def test_a_request_made_in_a_test_has_an_empty_state():
    r = Request()
    assert isinstance(r.state, State) and r.state._state == {}
    r.state.user = "alice"
    assert r.state.user == "alice"


# -- through the TestClient -------------------------------------------------------------------------

def test_lifespan_state_reaches_app_state_and_each_request_state_as_a_copy():
    events: List[str] = []
    pool = object()
    app = lifespan_app(events, {"db": pool, "settings": {"mode": "test"}})

    @app.get("/")
    def read(request):
        before = sorted(request.state._state)
        request.state.user = "alice"          # this request's own
        del request.state.hooked
        request.state.settings["seen"] = True  # shallow: the objects themselves are shared
        return {"before": before, "same_db": request.state.db is pool and app.state.db is pool,
                "app": sorted(app.state._state)}

    @app.get("/again")
    async def again(request):
        return {"keys": sorted(request.state._state), "settings": request.state.settings}

    with TestClient(app) as client:
        assert events == ["startup hook", "lifespan enter (startup hook ran: True)"]
        assert client.get("/").json() == {"before": ["db", "hooked", "settings"], "same_db": True,
                                          "app": ["db", "hooked", "settings"]}
        assert client.get("/again").json() == {"keys": ["db", "hooked", "settings"],
                                               "settings": {"mode": "test", "seen": True}}
        assert not hasattr(app.state, "user")
    assert events[2:] == ["lifespan exit", "shutdown hook"]


def test_middleware_and_hooks_see_the_same_request_state():
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield {"greeting": "hello"}

    app = Catzilla(lifespan=lifespan)

    @app.before_request
    def who(request):
        request.state.user = "alice"

    @app.get("/")
    def home(request):
        return f"{request.state.greeting} {request.state.user}"

    @app.after_request
    def stamp(request, response):
        response.headers["x-user"] = request.state.user

    with TestClient(app) as client:
        r = client.get("/")
        assert (r.text, r.headers["x-user"]) == ("hello alice", "alice")


def test_a_lifespan_yielding_nothing_leaves_app_state_as_the_app_set_it():
    events: List[str] = []
    app = lifespan_app(events, None)
    app.state.version = "1.0"

    @app.get("/")
    def home(request):
        return {"version": request.state.version}

    with TestClient(app) as client:
        assert client.get("/").json() == {"version": "1.0"}
    assert events == ["startup hook", "lifespan enter (startup hook ran: True)", "lifespan exit",
                      "shutdown hook"]


def test_each_serving_enters_the_lifespan_again():
    events: List[str] = []
    app = lifespan_app(events, {"n": 1})
    for _ in range(2):
        with TestClient(app):
            pass
    assert events.count("lifespan exit") == 2 and events.count("shutdown hook") == 2


def test_a_lifespan_exit_that_raises_is_logged_and_the_shutdown_goes_on(caplog):
    events: List[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        raise RuntimeError("pool already closed")

    app = Catzilla(lifespan=lifespan)
    app.on_shutdown(lambda: events.append("shutdown hook"))
    with caplog.at_level(logging.ERROR, logger="catzilla"):
        with TestClient(app):
            pass
    assert events == ["shutdown hook"]
    [record] = [r for r in caplog.records if "lifespan" in r.getMessage()]
    assert record.getMessage() == "lifespan lifespan failed on exit"     # named from its enclosing function on
    assert record.exc_info and "pool already closed" in str(record.exc_info[1])


def test_a_lifespan_start_that_raises_fails_the_start_without_the_shutdown_hooks():
    events: List[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("enter")
        raise ConnectionError("database unreachable")
        yield                                     # pragma: no cover

    app = Catzilla(lifespan=lifespan)
    app.on_shutdown(lambda: events.append("shutdown hook"))
    with pytest.raises(ConnectionError, match="database unreachable"):
        TestClient(app)
    assert events == ["enter"]


def test_a_non_callable_lifespan_is_a_type_error_at_construction():
    with pytest.raises(TypeError, match="lifespan must be a function taking the app"):
        Catzilla(lifespan={"db": 1})                  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown Catzilla settings: lifespans"):
        Catzilla(lifespans=None)


async def _returns_a_dict_coroutine(app):
    return {"db": 1}


async def _undecorated_generator(app):
    yield {"db": 1}


@contextlib.contextmanager
def _sync_manager(app):
    yield {"db": 1}


@pytest.mark.parametrize("lifespan, says", [
    (lambda app: {"db": 1}, "returned a dict"),
    (_returns_a_dict_coroutine, "returned a coroutine"),
    (_undecorated_generator, "returned an async generator: decorate the function with "
                             "@contextlib.asynccontextmanager"),
    (_sync_manager, "returned a synchronous generator or context manager"),
], ids=["plain-function", "async-def", "async-generator", "sync-context-manager"])
def test_a_lifespan_that_is_no_async_context_manager_is_a_type_error_when_serving_starts(
        lifespan, says, recwarn):
    app = Catzilla(lifespan=lifespan)             # accepted: it is callable
    with pytest.raises(TypeError, match="a lifespan returns an async context manager") as info:
        TestClient(app)
    assert says in str(info.value)
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_a_lifespan_yielding_something_else_than_a_mapping_is_a_type_error_and_is_exited():
    events: List[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield ["db"]
        finally:
            events.append("exited")

    with pytest.raises(TypeError, match="lifespan .*lifespan yielded a list: it yields a mapping"):
        TestClient(Catzilla(lifespan=lifespan))
    assert events == ["exited"]


def test_app_serve_raises_the_lifespans_own_error_and_is_never_ready():
    @contextlib.asynccontextmanager
    async def lifespan(app):
        raise RuntimeError("database unreachable")
        yield                                     # pragma: no cover

    app = Catzilla(lifespan=lifespan)
    ready: List[int] = []
    sock = bind_socket("127.0.0.1", 0)
    try:
        with pytest.raises(RuntimeError, match="database unreachable"):
            asyncio.run(app.serve([sock], stop=asyncio.Event(), ready=lambda: ready.append(1)))
    finally:
        sock.close()
    assert ready == []


# -- through a real server process ----------------------------------------------------------------

APP = '''
import contextlib, os, pathlib
from catzilla import Catzilla

EVENTS = pathlib.Path("events")

def note(what):
    with EVENTS.open("a") as f:
        f.write(f"{os.getpid()} {what}\\n")

@contextlib.asynccontextmanager
async def lifespan(app):
    note("lifespan enter")
    START
    yield {"db": {"url": "sqlite://"}, "hits": []}
    note("lifespan exit")

app = Catzilla(lifespan=lifespan)

@app.on_startup
def startup():
    note("startup hook")

@app.on_shutdown
def shutdown():
    note("shutdown hook")

@app.get("/")
def home(request):
    request.state.hits.append(1)             # the list is shared: a shallow copy
    request.state.mine = True                # the attribute is this request's
    return {"db": request.state.db, "hits": len(app.state.hits), "app_has_mine": hasattr(app.state, "mine")}

if __name__ == "__main__":
    app.listen(0, workers=WORKERS)
'''


@pytest.fixture
def run(tmp_path):
    with launcher(tmp_path) as launch:
        yield launch


def write(tmp_path, *, start: str = "pass", workers: int = 1) -> None:
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP.replace("START", start)
                                                      .replace("WORKERS", str(workers))))


def events(tmp_path) -> List[str]:
    path = tmp_path / "events"
    return [line.split(" ", 1)[1] for line in path.read_text().splitlines()] if path.exists() else []


def test_a_served_app_enters_its_lifespan_before_the_banner_and_exits_it_on_sigterm(run, tmp_path):
    write(tmp_path)
    server = run("czapp:app")
    assert events(tmp_path) == ["startup hook", "lifespan enter"]
    for n in (1, 2):
        status, _, body = procs.get(server.port, "/")
        assert status == 200
        assert json.loads(body) == {"db": {"url": "sqlite://"}, "hits": n, "app_has_mine": False}
    assert server.stop() == 0
    assert events(tmp_path) == ["startup hook", "lifespan enter", "lifespan exit", "shutdown hook"]
    assert "Traceback" not in server.stderr, server.stderr


def assert_failed_start(server: procs.Proc, tmp_path) -> None:
    """Exit status 3, the lifespan's error (its traceback once) on stderr, no banner anywhere."""
    assert server.wait_exit(20) == 3, server.stderr
    err = server.stderr
    assert err.count('raise RuntimeError("database unreachable")') == 1, err
    assert "RuntimeError: database unreachable" in err
    assert not re.search(BANNER, server.text()), server.text()
    assert "serving" not in server.text(), server.text()
    assert "lifespan exit" not in events(tmp_path) and "shutdown hook" not in events(tmp_path)


@pytest.mark.parametrize("how", ["cli", "cli --workers 2", "listen", "listen workers=2"])
def test_a_lifespan_that_raises_at_startup_exits_3_without_serving(run, tmp_path, how):
    workers = 2 if "2" in how else 1
    write(tmp_path, start='raise RuntimeError("database unreachable")', workers=workers)
    if how.startswith("cli"):
        server = run("czapp:app", "--workers", str(workers), ready=False)
    else:
        server = run.start([sys.executable, "czapp.py"], ready=False)
    assert_failed_start(server, tmp_path)
    assert ("exiting with status 3" if how.startswith("listen") else "failed to start") in server.stderr
    assert "startup hook" in events(tmp_path) and "lifespan enter" in events(tmp_path)
