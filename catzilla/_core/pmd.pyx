# cython: language_level=3
"""permessage-deflate (RFC 7692): offer negotiation and the per-connection
compression state, over zlib (include/cz_pmd.c).

The serving path calls PerMessageDeflate's cdef methods; the ``*_message`` /
``feed_bytes`` wrappers give Python callers (tests, a test client) the same
code path.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdlib cimport free

from catzilla._core.httpsyntax cimport is_token, parse_params, split_list, unquote
from catzilla.includes.pmd cimport (
    CZ_PMD_OK, CZ_PMD_TOO_BIG, CZ_PMD_INVALID, CZ_PMD_NOMEM,
    cz_inflater_init, cz_inflater_feed, cz_inflater_finish, cz_inflater_next,
    cz_inflater_free, cz_deflater_init, cz_deflater_compress, cz_deflater_free,
)

EXTENSION = "permessage-deflate"

cdef int window_bits(object value):
    """8..15 from a decimal value without leading zeros (RFC 7692 §7.1.2), else -1."""
    if value is None or not (1 <= len(value) <= 2) or not value.isdigit() or not value.isascii() \
            or value[0] == "0":
        return -1
    bits = int(value)
    return bits if 8 <= bits <= 15 else -1


cdef object accept_offer(list pairs):
    """(response, params) for an acceptable permessage-deflate offer (its
    parse_params pairs), else None."""
    cdef dict seen = {}
    cdef str name
    cdef object value
    if not pairs or pairs[0] != (EXTENSION, None):
        return None
    for name, value in pairs[1:]:
        if value is not None:
            value = unquote(value)
            if not is_token(value):
                return None                # RFC 6455 §9.1: a quoted value is a token once unquoted
        if name in seen:
            return None                    # §7.1: a duplicated parameter declines the offer
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None
        elif name == "server_max_window_bits":
            if window_bits(value) < 0:
                return None
        elif name == "client_max_window_bits":
            if value is not None and window_bits(value) < 0:
                return None
        else:
            return None                    # unknown parameter
        seen[name] = value
    params = {
        "server_no_context_takeover": "server_no_context_takeover" in seen,
        "client_no_context_takeover": "client_no_context_takeover" in seen,
        "server_max_window_bits": 15,
        "client_max_window_bits": 15,
    }
    response = [EXTENSION]
    # The client's hint that it resets its window is accepted: then ours is
    # reset per message too.
    for name in ("server_no_context_takeover", "client_no_context_takeover"):
        if params[name]:
            response.append(name)
    if "server_max_window_bits" in seen:
        params["server_max_window_bits"] = window_bits(seen["server_max_window_bits"])
        response.append(f"server_max_window_bits={params['server_max_window_bits']}")
    # client_max_window_bits without a value only says we may limit it; we don't.
    if seen.get("client_max_window_bits") is not None:
        params["client_max_window_bits"] = window_bits(seen["client_max_window_bits"])
        response.append(f"client_max_window_bits={params['client_max_window_bits']}")
    return "; ".join(response), params


def negotiate(offer):
    """Pick the first acceptable permessage-deflate offer of a
    Sec-WebSocket-Extensions request header value (str, or bytes as latin-1).

    Returns (response header value, params) or None when no offer is
    acceptable. params: server_no_context_takeover, client_no_context_takeover
    (bool), server_max_window_bits, client_max_window_bits (int, 8..15).
    """
    cdef object pairs
    if isinstance(offer, (bytes, bytearray)):
        offer = bytes(offer).decode("latin-1")
    elif not isinstance(offer, str):
        raise TypeError("offer must be str or bytes")
    for element in split_list(offer):
        pairs = parse_params(element, False)
        if pairs is None:
            continue                       # malformed: this offer is declined
        accepted = accept_offer(pairs)
        if accepted is not None:
            return accepted
    return None


cdef int checked_bits(dict params, str key) except -1:
    cdef object v = params.get(key, 15)
    if type(v) is not int or not 8 <= v <= 15:
        raise ValueError(f"{key} must be an int in 8..15, got {v!r}")
    return v


cdef class PerMessageDeflate:
    """The compression state of one connection (not thread-safe: one owner).

    params as returned by negotiate(). The server inflates with the client_*
    parameters and deflates with the server_* ones; client=True swaps them
    (a client's side of the same agreement).
    """

    def __init__(self, dict params not None, Py_ssize_t max_size, int level=6, *, bint client=False):
        cdef int rc
        cdef str recv = "server" if client else "client"
        cdef str send = "client" if client else "server"
        if max_size < 0:
            raise ValueError("max_size must be >= 0")
        if not -1 <= level <= 9:
            raise ValueError("level must be in -1..9")
        in_bits = checked_bits(params, recv + "_max_window_bits")
        out_bits = checked_bits(params, send + "_max_window_bits")
        in_reset = bool(params.get(recv + "_no_context_takeover", False))
        out_reset = bool(params.get(send + "_no_context_takeover", False))
        self.release()
        self.max_size = max_size
        self.error = 0
        rc = cz_inflater_init(&self.inflater, in_bits, in_reset, <size_t>max_size)
        if rc == CZ_PMD_OK:
            rc = cz_deflater_init(&self.deflater, out_bits, out_reset, level)
        if rc != CZ_PMD_OK:
            self.release()
            if rc == CZ_PMD_NOMEM:
                raise MemoryError()
            raise RuntimeError("zlib initialisation failed")
        self.ready = True

    def __dealloc__(self):
        self.release()

    cdef void release(self) noexcept:
        # Safe on zeroed structs (a fresh object) and after a previous release.
        cz_inflater_free(&self.inflater)
        cz_deflater_free(&self.deflater)
        self.ready = False

    cdef int feed(self, const unsigned char *p, Py_ssize_t n) except -1:
        cdef int rc
        self.usable(n)
        with nogil:
            rc = cz_inflater_feed(&self.inflater, p, <size_t>n)
        return self.outcome(rc)

    cdef int usable(self, Py_ssize_t n) except -1:
        """Raise unless initialised and n is a valid length."""
        if not self.ready:
            raise RuntimeError("PerMessageDeflate not initialised")
        if n < 0:
            raise ValueError("negative length")
        return 0

    cdef int outcome(self, int rc) except -1:
        if rc == CZ_PMD_OK:
            return 0
        if rc == CZ_PMD_NOMEM:
            raise MemoryError()
        self.error = 1009 if rc == CZ_PMD_TOO_BIG else 1007
        return self.error

    cdef bytes finish(self):
        cdef int rc
        cdef bytes msg = None
        self.usable(0)
        with nogil:
            rc = cz_inflater_finish(&self.inflater)
        try:
            if self.outcome(rc) == 0:
                self.error = 0
                msg = PyBytes_FromStringAndSize(<const char *>self.inflater.out, <Py_ssize_t>self.inflater.len)
        finally:
            rc = cz_inflater_next(&self.inflater)
        if rc != CZ_PMD_OK:
            # The window could not be reset: nothing more can be inflated.
            self.release()
            if rc == CZ_PMD_NOMEM:
                raise MemoryError()
            raise RuntimeError("zlib inflate reset failed")
        return msg

    cdef bytes compress(self, const unsigned char *p, Py_ssize_t n):
        cdef unsigned char *out = NULL
        cdef size_t out_len = 0
        cdef int rc
        self.usable(n)
        with nogil:
            rc = cz_deflater_compress(&self.deflater, p, <size_t>n, &out, &out_len)
        if rc == CZ_PMD_NOMEM:
            raise MemoryError()
        if rc != CZ_PMD_OK:
            raise RuntimeError("zlib deflate failed")
        try:
            return PyBytes_FromStringAndSize(<const char *>out, <Py_ssize_t>out_len)
        finally:
            free(out)

    # Python-level wrappers of the cdef methods above (same code path).

    def feed_bytes(self, const unsigned char[::1] data not None):
        """feed() one frame payload: 0, 1009 or 1007."""
        cdef Py_ssize_t n = data.shape[0]
        return self.feed(&data[0] if n else <const unsigned char *>b"", n)

    def finish_message(self):
        """finish(): the message, or None (see .error)."""
        return self.finish()

    def compress_message(self, const unsigned char[::1] data not None):
        """compress() one whole message."""
        cdef Py_ssize_t n = data.shape[0]
        return self.compress(&data[0] if n else <const unsigned char *>b"", n)
