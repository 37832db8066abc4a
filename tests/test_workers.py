"""Multi-process serving through the real CLI: `python -m catzilla run mod:app --workers 2`.

A worker killed with SIGKILL is replaced while requests keep succeeding; a
worker that cannot start stops the whole server with exit status 3 (2, with
the error once, for an app that cannot be imported); workers do not outlive a
supervisor that was killed; SIGHUP reloads (a broken reload keeps the old
workers, a SIGHUP during a reload is queued); a crash loop stops with status 4.
The Locust runs across a reload and a kill are in test_locust.py."""
from __future__ import annotations

import os
import re
import signal
import sys
import textwrap
import threading
import time
from typing import List, Set

import psutil
import pytest

import procs
from procs import Proc, launcher, wait_until

APP = '''
import os
from catzilla import Catzilla

app = Catzilla()

@app.get("/")
def home(request):
    return f"pid={os.getpid()}"
'''


def get(port: int) -> tuple:
    """One GET / on a fresh connection; (status, body)."""
    status, _, body = procs.get(port, "/")
    return status, body.decode()


@pytest.fixture
def start(tmp_path):
    """start(source, *options): source written to czapp.py, then `python -m catzilla
    run czapp:app --port 0 ...` in tmp_path; with wait_ready, once the banner is seen."""
    with launcher(tmp_path) as launch:
        def run(source: str, *args: str, wait_ready: bool = True) -> Proc:
            (tmp_path / "czapp.py").write_text(textwrap.dedent(source))
            return launch("czapp:app", *args, ready=wait_ready)
        run.start = launch.start        # type: ignore[attr-defined]
        yield run


def test_killed_workers_are_replaced_while_requests_keep_succeeding(start):
    server = start(APP, "--workers", "2")
    server.wait_output(r"worker \d+ serving", count=2, timeout=10)
    original = wait_until(lambda: (lambda w: w if len(w) == 2 else None)(server.workers()), 5, "two workers")

    served_by: Set[int] = set()
    for _ in range(20):
        status, body = get(server.port)
        assert status == 200
        served_by.add(int(body.split("=")[1]))
    assert served_by <= original

    current = set(original)
    for victim in sorted(original):
        os.kill(victim, signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + 8.0
        replacement: Set[int] = set()
        while time.monotonic() < deadline:
            status, body = get(server.port)          # never fails: the other worker serves
            statuses.append(status)
            replacement = server.workers() - current
            if replacement and victim not in server.workers():
                break
        assert statuses and all(s == 200 for s in statuses), statuses
        assert len(replacement) == 1, f"no replacement for {victim}: workers {server.workers()}"
        current = (current - {victim}) | replacement
        assert server.workers() == current
        server.wait_output(rf"worker {next(iter(replacement))} serving", timeout=10)

    # Both original workers are gone: every answer now comes from a replacement.
    for _ in range(10):
        status, body = get(server.port)
        assert status == 200
        pid = int(body.split("=")[1])
        assert pid in current and pid not in original
    assert "killed by SIGKILL" in server.stderr

    server.proc.send_signal(signal.SIGTERM)
    assert server.wait_exit(20) == 0
    for pid in current:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_workers_serve_concurrent_clients_during_a_kill(start):
    """Clients hammering the port from several threads while a worker is killed:
    only requests that were on the killed worker's connections at that instant
    may fail; new connections all succeed."""
    server = start(APP, "--workers", "2")
    server.wait_output(r"worker \d+ serving", count=2, timeout=10)
    stop = threading.Event()
    results: List[tuple] = []

    def client() -> None:
        while not stop.is_set():
            t = time.monotonic()
            try:
                status, _ = get(server.port)
            except Exception as exc:      # recorded, judged below
                status = repr(exc)
            results.append((t, time.monotonic(), status))

    def answered_since(t0: float) -> int:
        return sum(1 for start, _, _ in list(results) if start > t0)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: answered_since(0) >= 20, 5, "the clients to be answered")
        victim = min(server.workers())
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(server.workers() - {victim}) == 2 and victim not in server.workers(), 8,
                   "a replacement worker")
        # the judged window starts 50 ms after the kill, even when the replacement was quicker
        judged_from = max(time.monotonic(), killed_at + 0.05)
        wait_until(lambda: answered_since(judged_from) >= 20, 5, "answers after the replacement")
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    after = [r for r in results if r[0] > killed_at + 0.05]
    assert len(after) > 20
    assert all(status == 200 for _, _, status in after), [r for r in after if r[2] != 200][:5]
    # Failures, if any, are requests that were in flight at the kill.
    failed = [r for r in results if r[2] != 200]
    assert all(start <= killed_at + 0.05 for start, _, _ in failed), failed


def test_a_worker_that_cannot_start_stops_the_server_with_status_3(start):
    server = start('''
        from catzilla import Catzilla
        app = Catzilla()

        @app.on_startup
        def connect():
            raise RuntimeError("database unreachable")
    ''', "--workers", "2", wait_ready=False)
    assert server.wait_exit(20) == 3
    err = server.stderr
    assert "database unreachable" in err
    assert "failed to start" in err
    assert "the workers failed to start" in err


def test_workers_exit_when_the_supervisor_is_killed(start):
    server = start(APP, "--workers", "2")
    server.wait_output(r"worker \d+ serving", count=2, timeout=10)
    workers = server.workers()
    assert len(workers) == 2
    server.proc.kill()
    server.proc.wait(5)
    gone, alive = psutil.wait_procs([psutil.Process(p) for p in workers if psutil.pid_exists(p)], timeout=8)
    assert not alive, f"workers {[p.pid for p in alive]} outlived their supervisor"
    assert "supervisor" in server.stderr and "is gone" in server.stderr


def test_workers_auto_and_sigint(start):
    server = start(APP, "--workers", "auto")
    n = os.cpu_count() or 1
    if n > 1:
        server.wait_output(r"worker \d+ serving", count=n, timeout=10)
        assert len(server.workers()) == n
    assert get(server.port)[0] == 200
    server.proc.send_signal(signal.SIGINT)
    assert server.wait_exit(20) == 0


def test_an_app_that_cannot_be_loaded_is_one_error_and_status_2(start):
    """The workers import the app (the supervisor does not): a broken app
    shows its error once, not once per worker, and exits 2 like one process."""
    server = start("from catzilla import Catzilla\napp = Catzilla(\n", "--workers", "3", wait_ready=False)
    assert server.wait_exit(20) == 2
    err = server.stderr
    assert err.count("SyntaxError") == 1, err
    assert "catzilla: error: importing 'czapp' failed" in err
    assert not [line for line in server.out if "serving on" in line]      # no banner: nothing served


VERSIONED = APP.replace('f"pid={os.getpid()}"', 'f"{VERSION} pid={os.getpid()}"')


def versioned(version: str) -> str:
    return f"VERSION = {version!r}\n" + VERSIONED


def test_a_reload_with_broken_code_keeps_the_old_workers_serving(start, tmp_path):
    server = start(versioned("v1"), "--workers", "2", "--shutdown-timeout", "2")
    server.wait_output(r"worker \d+ serving", count=2, timeout=10)
    original = server.workers()

    (tmp_path / "czapp.py").write_text("from catzilla import Catzilla\napp = Catzilla(\n")
    server.send(signal.SIGHUP)
    server.wait_output(r"reload failed \(the old workers keep serving\): new worker \d+ \(exit code 3\) "
                       r"could not load the app:", timeout=15)
    wait_until(lambda: server.workers() == original, 10, "the failed new workers to be gone")
    for _ in range(10):
        status, body = get(server.port)
        assert status == 200 and body.startswith("v1 ") and int(body.split("=")[1]) in original, body
    assert server.stderr.count("SyntaxError") == 1, server.stderr     # one report per failed reload

    # A startup hook that fails is a failed reload too.
    (tmp_path / "czapp.py").write_text(versioned("v2") + textwrap.dedent('''
        @app.on_startup
        def connect():
            raise RuntimeError("database unreachable")
    '''))
    server.send(signal.SIGHUP)
    server.wait_output(r"reload failed .*failed to start:", timeout=15)
    assert "database unreachable" in server.stderr
    wait_until(lambda: server.workers() == original, 10, "the failed new workers to be gone")
    assert get(server.port)[1].startswith("v1 ")

    # Fixed: the next SIGHUP replaces both workers.
    (tmp_path / "czapp.py").write_text(versioned("v3"))
    server.send(signal.SIGHUP)
    server.wait_output(r"reload done: 2 new worker\(s\) serving", timeout=15)
    wait_until(lambda: not server.workers() & original, 10, "the old workers to stop")
    for _ in range(10):
        assert get(server.port)[1].startswith("v3 ")
    assert server.stop() == 0


@pytest.mark.slow
def test_a_sighup_during_a_reload_is_queued_as_one_more_reload(start, tmp_path):
    slow = versioned("v1") + textwrap.dedent('''
        import time

        @app.on_startup
        def warm_up():
            time.sleep(1.0)
    ''')
    server = start(slow, "--workers", "2")
    server.wait_output(r"worker \d+ serving", count=2, timeout=15)
    server.send(signal.SIGHUP)
    server.wait_output(r"SIGHUP received: starting 2 new worker", timeout=5)
    server.send(signal.SIGHUP)          # during the reload: three signals, one more reload
    server.send(signal.SIGHUP)
    server.send(signal.SIGHUP)
    server.wait_output(r"reload done", count=2, timeout=20)
    time.sleep(2.5)                      # a third reload would be done by now
    assert len([line for line in server.err if "reload done" in line]) == 2, server.stderr
    assert len([line for line in server.err if "SIGHUP received" in line]) == 2, server.stderr
    assert len(server.workers()) == 2
    assert server.stop() == 0


@pytest.mark.slow
def test_a_crash_loop_stops_the_server_with_status_4(start):
    """Workers killed (as by the OOM killer) 0.3 s after they start serving:
    replaced at once, then with a growing delay, and the sixth death of a slot
    within a minute stops the server instead of spinning."""
    server = start(APP + textwrap.dedent('''
        import asyncio, signal

        @app.on_startup
        async def die_soon():
            asyncio.get_running_loop().call_later(0.3, os.kill, os.getpid(), signal.SIGKILL)
    '''), "--workers", "2")
    assert server.wait_exit(30) == 4
    err = server.stderr
    assert "killed by SIGKILL); starting a new one\n" in err       # the first death: at once
    for delay in ("0.5", "1.0", "2.0", "4.0"):
        assert f"killed by SIGKILL); starting a new one in {delay} s" in err, err
    assert "this is a crash loop, stopping the server" in err
    assert "catzilla: error: crash loop: workers kept exiting (6 times within 60 s)" in err
    started = len([line for line in server.err if re.search(r"worker \d+ serving", line)])
    assert started <= 2 * 6, err


def test_sighup_with_the_programmatic_api_restarts_workers_on_the_same_app(start, tmp_path):
    """app.listen(workers=2) forks the app object it was given: a SIGHUP
    replaces the workers without downtime, with the same code."""
    (tmp_path / "prog.py").write_text(APP + '\nVERSION = "v1"\napp.listen(0, workers=2)\n')
    server = start.start([sys.executable, "prog.py"])
    server.wait_output(r"worker \d+ serving", count=2, timeout=10)
    original = server.workers()
    (tmp_path / "prog.py").write_text("raise SystemExit('not read again')\n")
    server.send(signal.SIGHUP)
    server.wait_output(r"reload done: 2 new worker\(s\) serving", timeout=15)
    wait_until(lambda: not server.workers() & original, 10, "the old workers to stop")
    new = server.workers()
    assert len(new) == 2
    for _ in range(6):
        status, body = get(server.port)
        assert status == 200 and int(body.split("=")[1]) in new
    assert server.stop() == 0


@pytest.mark.slow
def test_an_old_worker_stuck_past_the_drain_deadline_is_killed(start):
    """A reload's old worker whose loop is blocked cannot end itself at
    --shutdown-timeout: the supervisor kills it (after the close grace)."""
    server = start(APP + textwrap.dedent('''
        import time

        @app.get("/block")
        def block(request):
            time.sleep(60)
            return "late"
    '''), "--workers", "2", "--shutdown-timeout", "1")
    server.wait_output(r"worker \d+ serving", count=2, timeout=10)
    original = server.workers()
    blocked = threading.Thread(target=lambda: procs.fetch(server.port, "/block", timeout=30), daemon=True)
    blocked.start()
    time.sleep(0.5)                      # one worker is now in time.sleep(60), its loop blocked
    server.send(signal.SIGHUP)
    server.wait_output(r"reload done", timeout=15)
    m = server.wait_output(r"worker (\d+) did not stop in time; killing it", timeout=20)
    stuck = int(m.group(1))
    assert stuck in original
    wait_until(lambda: not server.workers() & original, 10, "the old workers to be gone")
    server.wait_output(rf"worker {stuck} stopped \(killed by SIGKILL\)", timeout=5)
    assert len(server.workers()) == 2 and get(server.port)[0] == 200
    assert server.stop() == 0


def test_one_process_logs_and_ignores_sighup(start):
    server = start(APP)                  # --workers 1: no supervisor
    pid = int(get(server.port)[1].split("=")[1])
    assert pid == server.proc.pid
    server.send(signal.SIGHUP)
    server.wait_output(r"SIGHUP ignored: reloading without downtime needs workers >= 2", timeout=5)
    assert get(server.port) == (200, f"pid={pid}")
    assert server.stop() == 0


@pytest.mark.slow
def test_a_worker_hung_in_startup_is_killed_after_the_boot_timeout(start, tmp_path):
    """A reload whose new workers hang in a startup hook fails after --boot-timeout (the old
    workers keep serving); at first start the same hang stops the server with status 3."""
    hanging = versioned("v2") + textwrap.dedent('''
        import time

        @app.on_startup
        def connect():
            time.sleep(3600)            # a database that never answers
    ''')
    server = start(versioned("v1"), "--workers", "2", "--boot-timeout", "1.5", "--shutdown-timeout", "1")
    server.wait_output(r"worker \d+ serving", count=2, timeout=10)
    original = server.workers()
    (tmp_path / "czapp.py").write_text(hanging)
    server.send(signal.SIGHUP)
    server.wait_output(r"did not start serving within 1.5 s; killing it", timeout=15)
    server.wait_output(r"reload failed \(the old workers keep serving\)", timeout=15)
    wait_until(lambda: server.workers() == original, 15, "the hung new workers to be gone")
    assert get(server.port)[1].startswith("v1 ")
    assert server.stop() == 0

    hung = start(hanging, "--workers", "2", "--boot-timeout", "1.5", "--shutdown-timeout", "1",
                 wait_ready=False)
    assert hung.wait_exit(20) == 3
    assert "did not start serving within 1.5 s" in hung.stderr
