"""A many-connection load client for tests/test_overload.py, run in its own
process (its descriptors and CPU are its own). Prints one JSON object.

    python tests/loadclient.py flood PORT TOTAL CONCURRENCY
        TOTAL connections, at most CONCURRENCY open at once, each sending
        `GET / HTTP/1.1` with Connection: close and reading to the end. Counts
        complete 200 and 503 answers (Content-Length body whole, the 503 with
        Retry-After), resets, and anything else.
    python tests/loadclient.py streams PORT COUNT PATH ITEMS
        COUNT connections at once (at most 1,000 still waiting for their first
        byte, to stay within the listen backlog), each reading the chunked
        stream at PATH to its last chunk; a stream is complete when its body
        holds ITEMS items and the terminating chunk. Answers are read by
        the tests' one response reader (wire.parse_response). Reports how many completed
        and when the last one did.

uvloop is used when installed (the client must outrun the server it measures).
"""
from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any, Dict, Optional, Tuple

from catzilla.testing import MalformedResponse, ResponseClosed
from wire import parse_response


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class _Exchange(asyncio.Protocol):
    """One request, its whole answer (until the server closes) in `done`."""

    def __init__(self, request: bytes, done: "asyncio.Future[Tuple[bytes, Optional[BaseException]]]",
                 first: Optional[asyncio.Event] = None) -> None:
        self.request = request
        self.done = done
        self.first = first
        self.buf = bytearray()

    def connection_made(self, transport: Any) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.buf and self.first is not None:
            self.first.set()
        self.buf += data

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if self.first is not None:
            self.first.set()
        if not self.done.done():
            self.done.set_result((bytes(self.buf), exc))


def classify(data: bytes, exc: Optional[BaseException]) -> str:
    """"200", "503", "reset", or "other:..." for one answer read to its end."""
    if isinstance(exc, ConnectionResetError):
        return "reset"
    try:
        r = parse_response(data)
    except (MalformedResponse, ResponseClosed) as e:
        return f"other:{e} {exc!r}"
    if r.header("content-length") is None:
        return f"other:no Content-Length {r.raw_head[:80]!r}"
    if r.status == 503 and r.header("retry-after") == "1" and r.header("connection") == "close":
        return "503"
    if r.status == 200 and r.body == b"ok":
        return "200"
    return f"other:{r.status} {r.body[:60]!r}"


async def flood(port: int, total: int, concurrency: int) -> Dict[str, Any]:
    loop = asyncio.get_running_loop()
    request = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    counts: Dict[str, int] = {}
    started = 0

    async def worker() -> None:
        nonlocal started
        while started < total:
            started += 1
            done = loop.create_future()
            try:
                transport, _ = await loop.create_connection(lambda: _Exchange(request, done), "127.0.0.1", port)
                data, exc = await asyncio.wait_for(done, 30)
                transport.close()
                kind = classify(data, exc)
            except (OSError, asyncio.TimeoutError) as e:
                kind = "reset" if isinstance(e, ConnectionResetError) else f"other:{e!r}"
            counts[kind] = counts.get(kind, 0) + 1

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"counts": counts, "seconds": round(time.monotonic() - t0, 2)}


async def streams(port: int, count: int, path: str, items: int) -> Dict[str, Any]:
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
    waiting_first = asyncio.Semaphore(1000)
    last_item = f"chunk {items - 1}\n".encode()
    failures: Dict[str, int] = {}
    finished = []

    async def one() -> None:
        done = loop.create_future()
        first = asyncio.Event()
        async with waiting_first:
            try:
                transport, _ = await loop.create_connection(lambda: _Exchange(request, done, first),
                                                            "127.0.0.1", port)
            except OSError as e:
                failures[repr(e)] = failures.get(repr(e), 0) + 1
                return
            await first.wait()
        data, exc = await done
        transport.close()
        try:
            r = parse_response(data)      # a cut stream (no last chunk) raises ResponseClosed
            ok = r.version == "HTTP/1.1" and r.status == 200 and r.chunked \
                and r.body.count(b"chunk ") == items and last_item in r.body
        except (MalformedResponse, ResponseClosed):
            ok = False
        if ok:
            finished.append(time.monotonic())
        else:
            why = f"{data[:40]!r}...{data[-40:]!r} {exc!r}"
            failures[why] = failures.get(why, 0) + 1

    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count))), 120)
    return {"completed": len(finished), "failures": failures,
            "seconds": round(max(finished) - t0, 2) if finished else None}


def main(argv: list) -> None:
    _raise_fd_limit()
    try:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    mode, port = argv[0], int(argv[1])
    if mode == "flood":
        result = asyncio.run(flood(port, int(argv[2]), int(argv[3])))
    elif mode == "streams":
        result = asyncio.run(streams(port, int(argv[2]), argv[3], int(argv[4])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
