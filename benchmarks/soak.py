#!/usr/bin/env python3
"""Soak test: does the server's memory settle? Each scenario gets a fresh one-worker server
(benchmarks/apps/soak_app.py, this checkout's compiled modules, pinned to CPU 0) and 10
identical load phases from a client on CPU 1. After each phase, once the server's threads and
fds are back to their idle counts (or IDLE_TIMEOUT + 3 s passed) and a short settle, it prints
the server's RSS, high-water mark (VmHWM), threads and open fds.

    python benchmarks/soak.py                                  # every scenario, 3 s phases
    python benchmarks/soak.py --phase-seconds 2 --scenarios stream,abort

Passes when, for every scenario, RSS after phase 10 is within 2 MiB of phase 3 and the
threads are back to their idle count (the count before the first phase); exit status 1 if
not (or when a phase's load failed). The Markdown report goes to stdout.

Scenarios (wrk -t1 -c128 unless said): plain (GET /), json, stream (10,000-line sync
generator), astream (the same from an async generator), file (FileResponse, 1 MiB), abort
(128 asyncio clients that read the first 8 KiB of a sync or async 10,000-line stream and
then reset the connection), upload (loadgen.c: back-to-back 4 MiB chunked uploads read with
`async for chunk in request.stream()`), ws (loadgen.c: 128 WebSockets echoing 1 KiB messages).

Needs: Linux, wrk, taskset, gcc (loadgen.c).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

import run  # benchmarks/run.py: the server runner, wrk and loadgen.c drivers, machine info
from run import CLIENT_CPU, HOST, ROOT, Peer, Server

sys.path.insert(0, str(ROOT))
from catzilla._core.workers import IDLE_TIMEOUT  # noqa: E402

MiB = 1024 * 1024
PHASES = 10
CONNECTIONS = 128
FILE_SIZE = 1 * MiB
UPLOAD_SIZE = 4 * MiB
SETTLE = 0.5            # s after the threads are back, for the last frees (and the trim) to land
RSS_TOLERANCE = 2 * MiB


def wrk(path: str) -> Callable[[int, float], str]:
    def load(port: int, seconds: float) -> str:
        res = run.run_wrk(port, run.Scenario(name=path, title=path, path=path), seconds, CONNECTIONS)
        if res.get("problems"):
            raise RuntimeError(f"wrk {path}: {res['problems']}")
        return f"{res['rps']:.0f} req/s"
    return load


async def _abort_clients(port: int, seconds: float) -> int:
    """CONNECTIONS clients, each in a loop: GET a 10,000-line stream (sync and async in turn),
    read its first 8 KiB, reset the connection (SO_LINGER 0). Returns the streams cut."""
    deadline = time.monotonic() + seconds
    cut = 0

    async def client(i: int) -> None:
        nonlocal cut
        while time.monotonic() < deadline:
            i += 1
            path = "/stream10k" if i % 2 else "/astream10k"
            reader, writer = await asyncio.open_connection(HOST, port)
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
                got = 0
                while got < 8192:
                    part = await asyncio.wait_for(reader.read(65536), 10)
                    if not part:
                        raise RuntimeError(f"{path}: the server closed before 8 KiB")
                    got += len(part)
                writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                           struct.pack("ii", 1, 0))
                cut += 1
            finally:
                writer.close()

    await asyncio.gather(*(client(i) for i in range(CONNECTIONS)))
    return cut


def abort(port: int, seconds: float) -> str:
    cut = asyncio.run(_abort_clients(port, seconds))
    return f"{cut / seconds:.0f} cut/s"


def upload(port: int, seconds: float) -> str:
    res = run.run_loadgen(["upload", HOST, str(port), "/upload", str(UPLOAD_SIZE), "chunked", str(64 * 1024),
                           "1", f"{seconds:g}"], timeout=seconds + 120)
    return f"{res['uploads'] / res['seconds']:.0f} uploads/s"


def ws(port: int, seconds: float) -> str:
    res = run.run_loadgen(["ws", HOST, str(port), "/ws", str(CONNECTIONS), "1024", "0", f"{seconds:g}"],
                          timeout=seconds + 120)
    return f"{res['msgs_per_s']:.0f} msg/s"


SCENARIOS: Dict[str, Callable[[int, float], str]] = {
    "plain": wrk("/"),
    "json": wrk("/json"),
    "stream": wrk("/stream10k"),
    "astream": wrk("/astream10k"),
    "file": wrk("/file"),
    "abort": abort,
    "upload": upload,
    "ws": ws,
}


def status(pid: int) -> Dict[str, int]:
    """RSS and VmHWM (bytes), threads and open fds of a process, from /proc."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
            elif key == "Threads":
                out[key] = int(value)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def settle(pid: int, idle: Dict[str, int]) -> Dict[str, int]:
    """The status once threads and fds are back to their idle counts (streams still running when
    the client stopped finish or are cut; idle threads exit) or IDLE_TIMEOUT + 3 s passed."""
    deadline = time.monotonic() + IDLE_TIMEOUT + 3
    while time.monotonic() < deadline:
        st = status(pid)
        if st["Threads"] <= idle["Threads"] and st["fds"] <= idle["fds"]:
            break
        time.sleep(0.1)
    time.sleep(SETTLE)
    return status(pid)


def soak(name: str, phase_seconds: float, soak_file: str) -> Tuple[List[str], str, bool, str]:
    """One scenario on a fresh server: (its per-phase rows, its summary row, passed, the verdict line)."""
    peer = Peer("catzilla-soak", "Catzilla", [], lambda venv, port, workdir: [sys.executable, "soak_app.py", str(port)],
                env={"PYTHONPATH": str(ROOT), "SOAK_FILE": soak_file})
    server = Server(peer, None)
    rows: List[str] = []
    try:
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        time.sleep(SETTLE)
        idle = status(pid)
        rows.append(f"| {name} | idle | | {idle['VmRSS'] / MiB:.1f} | {idle['VmHWM'] / MiB:.1f} "
                    f"| {idle['Threads']} | {idle['fds']} |")
        after: List[Dict[str, int]] = []
        for phase in range(1, PHASES + 1):
            load = SCENARIOS[name](server.port, phase_seconds)
            if not server.alive():
                raise RuntimeError(f"the server exited: {server.log_tail()}")
            st = settle(pid, idle)
            after.append(st)
            rows.append(f"| {name} | {phase} | {load} | {st['VmRSS'] / MiB:.1f} | {st['VmHWM'] / MiB:.1f} "
                        f"| {st['Threads']} | {st['fds']} |")
            print(rows[-1], file=sys.stderr, flush=True)
    except Exception as exc:
        return rows, f"| {name} | failed: {exc} |", False, f"{name}: FAILED: {exc}"
    finally:
        server.stop()
    growth = after[-1]["VmRSS"] - after[2]["VmRSS"]
    ok_rss = abs(growth) <= RSS_TOLERANCE
    ok_threads = after[-1]["Threads"] == idle["Threads"]
    verdict = (f"{name}: RSS phase 3 -> 10 {after[2]['VmRSS'] / MiB:.1f} -> {after[-1]['VmRSS'] / MiB:.1f} MiB "
               f"({growth / MiB:+.1f}, {'ok' if ok_rss else 'MORE THAN 2 MiB'}); threads "
               f"{after[-1]['Threads']} (idle {idle['Threads']}: {'ok' if ok_threads else 'NOT BACK'})")
    summary = (f"| {name} | {load} | {idle['VmRSS'] / MiB:.1f} | "
               + " | ".join(f"{st['VmRSS'] / MiB:.1f}" for st in after)
               + f" | {after[-1]['VmHWM'] / MiB:.1f} | {idle['Threads']} / {max(st['Threads'] for st in after)} "
               f"| {idle['fds']} / {max(st['fds'] for st in after)} |")
    return rows, summary, ok_rss and ok_threads, verdict


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phase-seconds", type=float, default=3.0, help="load per phase (default 3)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated, default all: "
                    + ",".join(SCENARIOS))
    return ap


def scenario_names(ap: argparse.ArgumentParser, args: argparse.Namespace) -> List[str]:
    """The scenarios asked for, each checked against SCENARIOS (ap.error otherwise)."""
    names = [s for s in args.scenarios.split(",") if s]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return names


def main(argv: List[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    names = scenario_names(ap, args)
    os.sched_setaffinity(0, {CLIENT_CPU})      # the asyncio clients; wrk and loadgen pin themselves
    if "upload" in names or "ws" in names:
        run.ensure_loadgen()
    info = run.machine_info()
    t0 = time.monotonic()
    all_rows, summaries, verdicts, ok = [], [], [], True
    with tempfile.TemporaryDirectory(prefix="catzilla-soak-") as tmp:
        soak_file = os.path.join(tmp, "blob.bin")
        with open(soak_file, "wb") as f:
            f.write(os.urandom(FILE_SIZE))
        for name in names:
            rows, summary, passed, verdict = soak(name, args.phase_seconds, soak_file)
            all_rows += rows
            summaries.append(summary)
            verdicts.append(verdict)
            ok = ok and passed
            print(verdict, file=sys.stderr, flush=True)
    print(f"Machine: {info['cpu']}, {info['cores']} cores, Linux {info['kernel']}, Python {info['python']}, "
          f"{info['wrk']}; {info['date']}.  ")
    print(f"Command: `python benchmarks/soak.py {' '.join(argv if argv is not None else sys.argv[1:])}`".rstrip()
          + f" ({time.monotonic() - t0:.0f} s; server on CPU 0, clients on CPU {CLIENT_CPU}; after each phase: "
          f"threads and fds back to idle, then {SETTLE:g} s)\n")
    print("RSS in MiB when idle and after each phase; VmHWM after phase 10; threads and fds: idle / most "
          "after any phase; load: phase 10's.\n")
    print("| scenario | load | idle | " + " | ".join(str(i) for i in range(1, PHASES + 1))
          + " | VmHWM | threads | fds |")
    print("|---|---:|" + "---:|" * (PHASES + 4))
    print("\n".join(summaries))
    print("\nEvery phase:\n")
    print("| scenario | phase | load | RSS MiB | VmHWM MiB | threads | fds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(all_rows))
    print()
    for v in verdicts:
        print(f"- {v}")
    print(f"\n{'PASS' if ok else 'FAIL'}: RSS after phase 10 within {RSS_TOLERANCE // MiB} MiB of phase 3 and "
          f"threads back to idle, in every scenario")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
