"""A graceful stop waits for background tasks (a typed endpoint's
BackgroundTasks), queued or running, within the same deadline as the
connections (--shutdown-timeout): a task that ends in time ends, one that
does not is cancelled (its cleanup gets a short grace) and named in a
WARNING. A def task runs on a worker thread, which nothing can interrupt: it
is counted as cut and named too."""
from __future__ import annotations

import asyncio
import logging
import signal
import textwrap
import time

import pytest

import procs
from catzilla import BackgroundTasks, Catzilla
from catzilla.testing import TestClient
from procs import launcher

APP = '''
import asyncio, os, pathlib, time
from catzilla import BackgroundTasks, Catzilla

app = Catzilla()

def note(what):
    with pathlib.Path("events").open("a") as f:
        f.write(what + "\\n")

async def send_mail(seconds):
    note("send_mail started")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        note("send_mail cancelled")
        raise
    note("send_mail done")

def build_report(seconds):
    note("build_report started")
    time.sleep(seconds)
    note("build_report done")

@app.post("/orders")
def order(tasks: BackgroundTasks, seconds: float):
    tasks.add_task(send_mail, seconds)
    return {"queued": "send_mail"}

@app.post("/reports")
def report(tasks: BackgroundTasks, seconds: float):
    tasks.add_task(build_report, seconds)
    return {"queued": "build_report"}

@app.on_shutdown
def bye():
    note("shutdown hook")
'''

CUT = r"\] WARNING catzilla: shutdown: background task {name} for POST {path} still running"


@pytest.fixture
def start(tmp_path):
    (tmp_path / "czapp.py").write_text(textwrap.dedent(APP))
    with launcher(tmp_path) as launch:
        yield lambda timeout: launch("czapp:app", "--shutdown-timeout", str(timeout), "--loop", "asyncio")


def events(tmp_path):
    path = tmp_path / "events"
    return path.read_text().splitlines() if path.exists() else []


def queue(port: int, path: str, seconds: float) -> float:
    """POST path?seconds=...; when the 200 came (its task is queued or running by then)."""
    status, _, body = procs.get(port, f"{path}?seconds={seconds}", method="POST")
    assert status == 200, body
    return time.monotonic()


def test_sigterm_waits_for_a_background_task_that_ends_before_the_deadline(start, tmp_path):
    server = start(3)
    answered = queue(server.port, "/orders", 2)
    server.proc.send_signal(signal.SIGTERM)          # right after the response
    assert server.wait_exit(10) == 0
    took = time.monotonic() - answered
    assert events(tmp_path) == ["send_mail started", "send_mail done", "shutdown hook"]
    assert 1.9 <= took < 3.0, f"exited {took:.2f} s after the response: the task needs 2 s, the deadline is 3 s"
    assert "still running" not in server.stderr and "Traceback" not in server.stderr, server.stderr
    assert "waiting up to" in server.stderr and "for 1 background task(s)" in server.stderr


def test_sigterm_cuts_a_background_task_at_the_deadline_and_names_it(start, tmp_path):
    server = start(3)
    queue(server.port, "/orders", 60)
    procs.wait_until(lambda: "send_mail started" in events(tmp_path), 5, "the task to start")
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait_exit(15) == 0
    took = time.monotonic() - sent
    assert 2.9 <= took < 4.5, f"exited {took:.2f} s after SIGTERM (shutdown timeout 3 s)"
    assert events(tmp_path) == ["send_mail started", "send_mail cancelled", "shutdown hook"]
    server.wait_output(CUT.format(name="send_mail", path="/orders") + r".*\(3 s\) ran out; cancelled$")
    assert "Traceback" not in server.stderr and "Task was destroyed" not in server.stderr, server.stderr


@pytest.mark.slow
def test_a_def_background_task_past_the_deadline_is_named_as_cut_and_does_not_hang_the_exit(start, tmp_path):
    server = start(1)
    queue(server.port, "/reports", 60)
    procs.wait_until(lambda: "build_report started" in events(tmp_path), 5, "the task to start")
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait_exit(15) == 0
    took = time.monotonic() - sent
    # the deadline (1 s), then CLOSE_GRACE (5 s) for the blocked worker thread, then the exit
    assert 0.9 <= took < 8.0, f"exited {took:.2f} s after SIGTERM"
    assert events(tmp_path) == ["build_report started", "shutdown hook"]
    server.wait_output(CUT.format(name="build_report", path="/reports")
                       + r".*its def function is running on a worker thread, which cannot be interrupted")
    server.wait_output(r"1 worker thread\(s\) still blocked")


# -- in process: the TestClient's stop takes the same path (with a 1 s deadline) -----------------------

def test_the_test_client_names_the_tasks_it_cuts_on_close(caplog):
    app = Catzilla()
    done = []

    async def send_mail(to: str) -> None:
        await asyncio.sleep(60)

    async def audit() -> None:
        done.append("audit")

    @app.post("/orders")
    def order(tasks: BackgroundTasks):
        tasks.add_task(audit)
        tasks.add_task(send_mail, "a@example.com")
        return {"ok": True}

    client = TestClient(app)
    assert client.post("/orders").json() == {"ok": True}
    sent = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="catzilla"):
        client.close()
    assert time.monotonic() - sent < 3.0
    assert done == ["audit"]
    [record] = [r for r in caplog.records if "background" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        "shutdown: background tasks audit, send_mail for POST /orders still running when the shutdown "
        "timeout (1 s) ran out; cancelled")


def test_def_tasks_cut_in_process_say_whether_they_were_running_or_still_queued(caplog):
    """One worker thread: the first def task holds it past the TestClient's 1 s deadline, the
    second waits for it. Both are cut; the running one goes on (nothing interrupts a thread),
    the queued one never starts."""
    app = Catzilla(worker_threads=1)
    ran = []

    def build_report(n: int) -> None:
        ran.append(n)
        time.sleep(2)

    @app.post("/reports/{n:int}")
    def report(n: int, tasks: BackgroundTasks):
        tasks.add_task(build_report, n)
        return {"ok": True}

    client = TestClient(app)
    for n in (1, 2):
        assert client.post(f"/reports/{n}").json() == {"ok": True}
    with caplog.at_level(logging.WARNING, logger="catzilla"):
        client.close()
    assert ran == [1]
    cut = {r.getMessage().split(" still running")[0]: r.getMessage() for r in caplog.records
           if "background task" in r.getMessage()}
    assert cut.keys() == {"shutdown: background task build_report for POST /reports/1",
                          "shutdown: background task build_report for POST /reports/2"}
    assert cut["shutdown: background task build_report for POST /reports/1"].endswith(
        "its def function is running on a worker thread, which cannot be interrupted: it runs on, "
        "no longer awaited")
    assert cut["shutdown: background task build_report for POST /reports/2"].endswith(
        "its def function, still queued for a worker thread, will not run")
