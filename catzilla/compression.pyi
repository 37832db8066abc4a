"""Type stub for catzilla/compression.pyx: response compression (gzip in C
through zlib; br and zstd with the `compression` extra). Streams are
compressed as they go and flushed whenever they write, so they stay incremental."""
from collections.abc import Sequence
from typing import Any

from catzilla.response import Response

class GzipEncoder:
    """One gzip stream, a body filter for Response.wrap_body."""

    def __init__(self, level: int = 6) -> None:
        """ValueError for a level outside -1..9."""
    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """What deflate emits for data so far (often nothing: see flush)."""
    def flush(self) -> bytes:
        """Everything held back: all data fed so far is decodable (Z_SYNC_FLUSH)."""
    def close(self, data: bytes | bytearray | memoryview = b"") -> bytes:
        """The last data and the gzip trailer; later calls raise ValueError."""

class BrotliEncoder:
    """br through the brotli package (RuntimeError when it is missing)."""

    def __init__(self, quality: int = 4) -> None: ...
    def feed(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...
    def close(self, data: bytes = b"") -> bytes: ...

class ZstdEncoder:
    """zstd through the zstandard package (RuntimeError when it is missing)."""

    def __init__(self, level: int = 3) -> None: ...
    def feed(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...
    def close(self, data: bytes = b"") -> bytes: ...

class CompressionMiddleware:
    """Compress responses in the coding the client prefers (Accept-Encoding
    q-values; ties go to the order of `encodings`, by default zstd, br, gzip,
    the first two only when their packages are installed). Left alone: HEAD
    and Range requests, 1xx/204/206/304, responses with Content-Encoding or
    Cache-Control: no-transform, compressed media types, bodies under
    minimum_size, files over max_file_size (None: every file), broadcast feeds."""

    encodings: tuple[str, ...]
    minimum_size: int
    max_file_size: int | None
    gzip_level: int
    brotli_quality: int
    zstd_level: int

    def __init__(
        self,
        minimum_size: int = 500,
        *,
        encodings: Sequence[str] | None = None,
        gzip_level: int = 6,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        max_file_size: int | None = 1048576,
    ) -> None:
        """ValueError for an unknown coding or a bad size/level; RuntimeError when
        br or zstd is asked for without its package."""
    def encoder(self, coding: str) -> GzipEncoder | BrotliEncoder | ZstdEncoder: ...
    def on_response(self, request: Any, response: Response) -> None: ...
    def large_enough(self, response: Response) -> bool: ...

class GZipMiddleware(CompressionMiddleware):
    """Starlette's name and arguments: gzip only."""

    def __init__(self, minimum_size: int = 500, compresslevel: int = 6, **options: Any) -> None: ...
