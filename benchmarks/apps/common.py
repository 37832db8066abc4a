"""What every benchmark app serves, defined once so all peers stream the same bytes.

Imported by the app files (benchmarks/apps is on sys.path when they run) and by
run.py for the in-process generator baseline.
"""
import os
import sys

HELLO = "Hello, World!"
STREAM_LINES = 10_000
CHUNK_SIZE = 64 * 1024
CHUNK = b"x" * CHUNK_SIZE            # one preallocated 64 KiB bytes object, sent 1024 times
CHUNK_COUNT = 1024                   # 64 MiB in total
BIG_TOTAL = CHUNK_SIZE * CHUNK_COUNT
WS_PATH = "/ws"                      # WebSocket echo: every message sent back as it came (binary/text)
UPLOAD_PATH = "/upload"              # POST: the body consumed chunk by chunk, answers {"bytes": n}


def lines10k():
    """GET /stream10k: the sync generator every peer streams."""
    for i in range(STREAM_LINES):
        yield f"Data {i}\n"


def chunks64m():
    """GET /stream64m: 64 MiB in 64 KiB chunks of one preallocated bytes object."""
    for _ in range(CHUNK_COUNT):
        yield CHUNK


def port_from_argv(default=8000):
    """Apps started as scripts take the port as their only argument (or $PORT)."""
    if len(sys.argv) > 1:
        return int(sys.argv[1])
    return int(os.environ.get("PORT", default))
