"""Response compression: gzip through zlib in C (include/cz_deflate.c); br and
zstd with the optional `brotli` / `zstandard` packages (extra
``catzilla[compression]``).

A stream is compressed as it goes and the compressor is flushed (a sync
flush: everything the app yielded so far is decodable from what was sent)
every time the stream writes to the socket, so a token stream or an event
stream stays exactly as incremental as without compression, while chunks
produced back-to-back share one flush."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact, PyBytes_FromStringAndSize
from libc.stdlib cimport free

from catzilla.includes.deflate cimport (cz_deflate, cz_deflate_init, cz_deflate_run, cz_deflate_free,
                                        CZ_DEFLATE_OK, CZ_DEFLATE_NOMEM, Z_NO_FLUSH, Z_SYNC_FLUSH,
                                        Z_FINISH)
from catzilla.response cimport BodyInfo, Response
from catzilla.negotiate import accept_encoding

try:
    import brotli as _brotli
except ImportError:
    _brotli = None
try:
    import zstandard as _zstd
except ImportError:
    _zstd = None

# Above this, deflate runs without the GIL (a stream worker's big chunk lets the loop go on).
DEF NOGIL_MIN = 16384


cdef class GzipEncoder:
    """One gzip stream, a body filter (Response.wrap_body): feed(data) -> what
    deflate emits for it so far (often nothing), flush() -> the rest, every byte
    fed now decodable (Z_SYNC_FLUSH), close(data=b"") -> the last bytes and the
    gzip trailer."""
    cdef cz_deflate z
    cdef bint closed

    def __init__(self, int level=6):
        cdef int rc
        cz_deflate_free(&self.z)             # called again: a new stream (the struct starts zeroed)
        self.closed = False
        rc = cz_deflate_init(&self.z, 16 + 15, level)   # 16 +: a gzip header and trailer
        if rc == CZ_DEFLATE_NOMEM:
            raise MemoryError()
        if rc != CZ_DEFLATE_OK:
            raise ValueError(f"gzip level must be -1..9, got {level}")

    def __dealloc__(self):
        cz_deflate_free(&self.z)

    cdef bytes run(self, object data, int flush):
        cdef const unsigned char[::1] view
        cdef const unsigned char *p
        cdef size_t n
        cdef unsigned char *out = NULL
        cdef size_t out_len = 0
        cdef int rc
        if self.closed:
            raise ValueError("the gzip stream is closed")
        if PyBytes_CheckExact(data):
            p = <const unsigned char *>PyBytes_AS_STRING(data)
            n = <size_t>PyBytes_GET_SIZE(data)
        else:
            view = data
            n = <size_t>view.shape[0]
            p = &view[0] if n else <const unsigned char *>b""
        if n >= NOGIL_MIN:
            with nogil:
                rc = cz_deflate_run(&self.z, p, n, flush, &out, &out_len)
        else:
            rc = cz_deflate_run(&self.z, p, n, flush, &out, &out_len)
        if rc != CZ_DEFLATE_OK:
            self.closed = True
            if rc == CZ_DEFLATE_NOMEM:
                raise MemoryError()
            raise RuntimeError("zlib deflate failed")
        try:
            return PyBytes_FromStringAndSize(<const char *>out, <Py_ssize_t>out_len)
        finally:
            free(out)

    def feed(self, data):
        return self.run(data, Z_NO_FLUSH)

    def flush(self):
        return self.run(b"", Z_SYNC_FLUSH)

    def close(self, data=b""):
        try:
            return self.run(data, Z_FINISH)
        finally:
            self.closed = True
            cz_deflate_free(&self.z)


class BrotliEncoder:
    """br through the `brotli` package, same protocol as GzipEncoder."""

    def __init__(self, quality=4):
        if _brotli is None:
            raise RuntimeError("br needs the brotli package: pip install 'catzilla[compression]'")
        self._c = _brotli.Compressor(quality=quality)

    def feed(self, data):
        return self._c.process(data)

    def flush(self):
        return self._c.flush()

    def close(self, data=b""):
        return self._c.process(data) + self._c.finish()


class ZstdEncoder:
    """zstd through the `zstandard` package, same protocol as GzipEncoder."""

    def __init__(self, level=3):
        if _zstd is None:
            raise RuntimeError("zstd needs the zstandard package: pip install 'catzilla[compression]'")
        self._c = _zstd.ZstdCompressor(level=level).compressobj()

    def feed(self, data):
        return self._c.compress(data)

    def flush(self):
        return self._c.flush(_zstd.COMPRESSOBJ_FLUSH_BLOCK)

    def close(self, data=b""):
        return self._c.compress(data) + self._c.flush(_zstd.COMPRESSOBJ_FLUSH_FINISH)


# Media types that are compressed already (or not worth it): sent as they are.
cdef tuple _COMPRESSED_PREFIXES = ("image/", "audio/", "video/", "font/woff")
cdef frozenset _COMPRESSED_TYPES = frozenset((
    "application/zip", "application/gzip", "application/x-gzip", "application/zstd",
    "application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
    "application/x-rar-compressed", "application/x-brotli", "application/octet-stream",
    "application/pdf"))
cdef frozenset _COMPRESSIBLE_IMAGES = frozenset(("image/svg+xml", "image/x-icon", "image/bmp"))

cdef tuple _ALL_CODINGS = ("zstd", "br", "gzip")


cdef bint compressible(str media_type):
    if media_type in _COMPRESSED_TYPES:
        return False
    if media_type.startswith(_COMPRESSED_PREFIXES):
        return media_type in _COMPRESSIBLE_IMAGES
    return True


class CompressionMiddleware:
    """Compress responses in the coding the client prefers (Accept-Encoding with
    q-values; ties go to the order of `encodings`): zstd, br (with the optional
    packages) and gzip (always).

    Left as they are: HEAD and Range requests, 1xx/204/206/304 answers,
    responses with a Content-Encoding or Cache-Control: no-transform, media
    types that are compressed already (images but SVG, audio, video, archives,
    application/octet-stream), bodies shorter than `minimum_size`, files
    larger than `max_file_size` (None: compress every file on the fly) and
    broadcast feeds (their bytes are shared by all subscribers). Streams and
    server-sent events are compressed as they go and flushed whenever the
    stream writes (a chunk never waits for the next one).
    Vary: Accept-Encoding is set whenever the answer depends on it; a strong
    ETag becomes weak on a compressed answer."""

    def __init__(self, minimum_size=500, *, encodings=None, gzip_level=6, brotli_quality=4,
                 zstd_level=3, max_file_size=1 << 20):
        if encodings is None:
            encodings = tuple(c for c in _ALL_CODINGS
                              if c == "gzip" or (c == "br" and _brotli is not None)
                              or (c == "zstd" and _zstd is not None))
        else:
            encodings = tuple(str(c).lower() for c in encodings)
            for c in encodings:
                if c not in _ALL_CODINGS:
                    raise ValueError(f"unknown encoding {c!r}: use gzip, br or zstd")
            if "br" in encodings and _brotli is None:
                raise RuntimeError("br needs the brotli package: pip install 'catzilla[compression]'")
            if "zstd" in encodings and _zstd is None:
                raise RuntimeError("zstd needs the zstandard package: pip install 'catzilla[compression]'")
            if not encodings:
                raise ValueError("encodings must name at least one coding")
        if not isinstance(minimum_size, int) or minimum_size < 0:
            raise ValueError("minimum_size must be an int >= 0")
        if max_file_size is not None and (not isinstance(max_file_size, int) or max_file_size < 0):
            raise ValueError("max_file_size must be an int >= 0 or None")
        GzipEncoder(gzip_level)                  # ValueError now for a bad level
        self.encodings = encodings
        self.minimum_size = minimum_size
        self.max_file_size = max_file_size
        self.gzip_level = gzip_level
        self.brotli_quality = brotli_quality
        self.zstd_level = zstd_level

    def encoder(self, str coding):
        if coding == "gzip":
            return GzipEncoder(self.gzip_level)
        if coding == "br":
            return BrotliEncoder(self.brotli_quality)
        return ZstdEncoder(self.zstd_level)

    def on_response(self, request, Response response):
        cdef int status = response.status_code
        if status < 200 or status == 204 or status == 206 or status == 304 or request.method == "HEAD":
            return None
        req_headers = request.headers
        if "range" in req_headers:
            return None
        headers = response.headers
        if "content-encoding" in headers or "no-transform" in (headers.get("cache-control") or "").lower():
            return None
        media_type = response.media_type
        if media_type is None or not compressible(media_type.lower()):
            return None
        if not self.large_enough(response):
            return None
        headers.add_vary("Accept-Encoding")
        coding = accept_encoding(req_headers.get("accept-encoding"), self.encodings)
        if coding is None or not response.wrap_body(self.encoder(coding)):
            return None
        headers["content-encoding"] = coding
        if "content-length" in headers:
            del headers["content-length"]
        return None                          # wrap_body made a strong ETag weak

    def large_enough(self, Response response):
        """Worth compressing: a stream (no length known), a body of at least
        minimum_size bytes, a file of at most max_file_size too."""
        cdef BodyInfo info = response.describe()
        if not info.filterable:
            return False                     # a broadcast feed: its bytes are shared
        if info.kind == "stream":
            return True
        if info.length is None:
            return False                     # a file that answers 404/403 itself
        if info.length < self.minimum_size:
            return False
        return info.kind != "file" or self.max_file_size is None or info.length <= self.max_file_size


class GZipMiddleware(CompressionMiddleware):
    """Starlette's name and arguments: gzip only."""

    def __init__(self, minimum_size=500, compresslevel=6, **options):
        CompressionMiddleware.__init__(self, minimum_size, encodings=("gzip",), gzip_level=compresslevel,
                                       **options)
