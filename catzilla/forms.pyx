# cython: language_level=3
"""Parsers for request paths, query strings, cookies and form bodies.

Every parser is total on malformed input: it either returns a result or raises
``FormError`` (a ``ValueError``); ``TypeError`` is raised only for wrong argument
types (e.g. ``None``).

Policies
--------
* Percent-decoding decodes the resulting bytes as UTF-8 with ``errors="replace"``
  (invalid sequences become U+FFFD, as ASGI servers do for ``scope["path"]``), so
  the returned str is always encodable; malformed escapes (``%zz``, a trailing
  ``%4``) are kept literally.
* ``unquote_path`` decodes every escape, including ``%2F`` -> ``/`` and
  ``%00`` -> ``\\x00`` (ASGI semantics); routing that must tell ``%2F`` from ``/``
  has to look at the raw bytes.  ``+`` is not special in paths.
* ``parse_query`` / ``parse_urlencoded`` follow the WHATWG
  application/x-www-form-urlencoded parser: split on ``&`` only, skip empty
  pieces, the first ``=`` separates name and value (a piece without ``=`` is a
  name with value ``""``; ``=x`` is the name ``""``), ``+`` is a space.
* ``parse_cookies``: the FIRST occurrence of a name wins (RFC 6265 section 5.4
  makes user agents send the most specific cookie first); pieces without ``=`` or
  with an empty name are skipped; surrounding DQUOTEs are removed; no percent- or
  backslash-decoding is done (RFC 6265 defines none).
* ``MultipartParser`` / ``parse_multipart`` (RFC 7578) run the incremental C
  parser (include/cz_multipart.c), fed chunk by chunk or with the whole body.
  Strict about structure (boundary lines, CRLF line ends, part header
  termination, Content-Disposition: form-data with a name) and tolerant about
  details: preamble and epilogue, transport padding after boundaries (at most
  64 SP/HTAB), folded header lines, ``filename*`` (RFC 8187, UTF-8 or
  ISO-8859-1) preferred over ``filename`` when it decodes, quoted-pairs ``\\"``
  and ``\\\\`` unescaped (other backslashes are kept, so ``C:\\path\\x``
  survives), Content-Transfer-Encoding ignored (RFC 7578 section 4.7).  A
  part's Content-Type defaults to ``text/plain`` (section 4.4).  An empty body
  is an empty form.  Errors carry ``status_code``: 413 (FormLimitError) for the
  part count and field/file/header size limits, 400 for malformed bodies.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport malloc, free
from libc.string cimport memchr

from tempfile import SpooledTemporaryFile

from catzilla.datastructures cimport (
    FormData, Headers, QueryParams, UploadFile, new_form_data, new_query_params, new_upload_file,
)
from catzilla.includes.multipart cimport (
    cz_mp, cz_mp_span, cz_mp_init, cz_mp_feed, cz_mp_finish, cz_mp_strerror,
    CZ_MP_NEED_MORE, CZ_MP_PART_BEGIN, CZ_MP_HEADERS, CZ_MP_DATA, CZ_MP_PART_END,
    CZ_MP_E_HEADER_TOO_LARGE,
)

from catzilla.includes.python cimport (PyUnicode_IS_ASCII, PyUnicode_DATA, PyUnicode_GET_LENGTH,
                                       PyUnicode_FindChar)

class FormError(ValueError):
    """A malformed or unsupported form body (also a ValueError).

    ``status_code`` is the HTTP status a server should answer with: 400 here,
    413 for FormLimitError."""
    status_code = 400


class FormLimitError(FormError):
    """A form body over a configured limit (parts, field/file/header size): 413."""
    status_code = 413


cdef enum:
    _STACK_BUF = 256


# ---------------------------------------------------------------- percent-decoding

cdef inline int _hexval(unsigned char c) noexcept nogil:
    if 48 <= c <= 57:          # 0-9
        return c - 48
    c |= 0x20                  # fold A-F to a-f
    if 97 <= c <= 102:
        return c - 87
    return -1


cdef Py_ssize_t _pct_decode_into(const unsigned char *src, Py_ssize_t n,
                                 unsigned char *dst, bint plus) noexcept nogil:
    """Decode n bytes of src into dst (which holds at least n bytes); return the length."""
    cdef Py_ssize_t i = 0, j = 0
    cdef unsigned char c
    cdef int hi, lo
    while i < n:
        c = src[i]
        if c == 37 and i + 2 < n:                      # '%' with two bytes after it
            hi = _hexval(src[i + 1])
            lo = _hexval(src[i + 2])
            if hi >= 0 and lo >= 0:
                dst[j] = <unsigned char>((hi << 4) | lo)
                j += 1
                i += 3
                continue
        elif c == 43 and plus:                         # '+'
            c = 32
        dst[j] = c
        j += 1
        i += 1
    return j


cdef inline bint _needs_decoding(const char *s, Py_ssize_t n, bint plus) noexcept nogil:
    if memchr(s, 37, n) != NULL:
        return True
    return plus and memchr(s, 43, n) != NULL


cdef str c_unquote(const char *s, Py_ssize_t n, bint plus_as_space):
    cdef unsigned char stackbuf[_STACK_BUF]
    cdef unsigned char *buf
    cdef Py_ssize_t m
    if n <= 0:
        return ""
    if not _needs_decoding(s, n, plus_as_space):
        return PyUnicode_DecodeUTF8(s, n, "replace")
    if n <= _STACK_BUF:
        m = _pct_decode_into(<const unsigned char *>s, n, stackbuf, plus_as_space)
        return PyUnicode_DecodeUTF8(<char *>stackbuf, m, "replace")
    buf = <unsigned char *>malloc(n)
    if buf == NULL:
        raise MemoryError()
    try:
        m = _pct_decode_into(<const unsigned char *>s, n, buf, plus_as_space)
        return PyUnicode_DecodeUTF8(<char *>buf, m, "replace")
    finally:
        free(buf)


cdef bytes _unquote_to_bytes(const char *s, Py_ssize_t n):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef Py_ssize_t m = _pct_decode_into(<const unsigned char *>s, n,
                                         <unsigned char *>PyBytes_AS_STRING(out), False)
    return out[:m]


cpdef str unquote_path(bytes raw):
    """Percent-decode a request path (bytes, as received) into str.

    No '+' handling; escapes decode to bytes that are then read as UTF-8 with
    errors="replace"; malformed escapes stay literal.
    """
    if raw is None:
        raise TypeError("unquote_path() argument must be bytes, not None")
    return c_unquote(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), False)


# ---------------------------------------------------------------- urlencoded / query

cdef list c_parse_urlencoded(const char *s, Py_ssize_t n):
    cdef list out = []
    cdef Py_ssize_t pos = 0, end, kend, vstart
    cdef const char *hit
    while pos < n:
        hit = <const char *>memchr(s + pos, 38, n - pos)          # '&'
        end = (hit - s) if hit != NULL else n
        if end > pos:
            hit = <const char *>memchr(s + pos, 61, end - pos)    # '='
            if hit != NULL:
                kend = hit - s
                vstart = kend + 1
            else:
                kend = end
                vstart = end
            out.append((c_unquote(s + pos, kend - pos, True),
                        c_unquote(s + vstart, end - vstart, True)))
        pos = end + 1
    return out


cdef list _parse_plain_query(str qs):
    """Query string with no '%' and no '+': slice the str directly."""
    cdef list out = []
    cdef Py_ssize_t n = len(qs), pos = 0, end, eq
    while pos < n:
        end = PyUnicode_FindChar(qs, u'&', pos, n, 1)
        if end < 0:
            end = n
        if end > pos:
            eq = PyUnicode_FindChar(qs, u'=', pos, end, 1)
            if eq < 0:
                out.append((qs[pos:end], ""))
            else:
                out.append((qs[pos:eq], qs[eq + 1:end]))
        pos = end + 1
    return out


cdef bytes _encode_query(str qs):
    try:
        # round-trips a str that was decoded from bytes with surrogateescape
        return qs.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return qs.encode("utf-8", "replace")


cpdef QueryParams parse_query(object qs):
    """Parse a query string (str, or the raw bytes) into QueryParams."""
    cdef bytes b
    cdef Py_ssize_t n
    if isinstance(qs, str):
        n = len(<str>qs)
        if (PyUnicode_FindChar(qs, u'%', 0, n, 1) < 0
                and PyUnicode_FindChar(qs, u'+', 0, n, 1) < 0):
            return new_query_params(_parse_plain_query(<str>qs))
        b = _encode_query(<str>qs)
    elif isinstance(qs, bytes):
        b = <bytes>qs
    else:
        raise TypeError(f"parse_query() argument must be str or bytes, not {type(qs).__name__}")
    return new_query_params(c_parse_urlencoded(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b)))


cpdef FormData parse_urlencoded(bytes body):
    """Parse an application/x-www-form-urlencoded body (always UTF-8, per WHATWG)."""
    if body is None:
        raise TypeError("parse_urlencoded() argument must be bytes, not None")
    return new_form_data(c_parse_urlencoded(PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body)))


# ---------------------------------------------------------------- cookies

cpdef dict parse_cookies(str header):
    """Parse a Cookie request header into {name: value} (first occurrence wins)."""
    cdef dict out = {}
    cdef Py_ssize_t n, pos = 0, end, eq, a, b
    cdef str name
    if header is None:
        raise TypeError("parse_cookies() argument must be str, not None")
    n = len(header)
    while pos < n:
        end = PyUnicode_FindChar(header, u';', pos, n, 1)
        if end < 0:
            end = n
        eq = PyUnicode_FindChar(header, u'=', pos, end, 1)
        if eq >= 0:
            a = pos
            b = eq
            while a < b and (header[a] == u' ' or header[a] == u'\t'):
                a += 1
            while b > a and (header[b - 1] == u' ' or header[b - 1] == u'\t'):
                b -= 1
            if b > a:
                name = header[a:b]
                if name not in out:
                    a = eq + 1
                    b = end
                    while a < b and (header[a] == u' ' or header[a] == u'\t'):
                        a += 1
                    while b > a and (header[b - 1] == u' ' or header[b - 1] == u'\t'):
                        b -= 1
                    if b - a >= 2 and header[a] == u'"' and header[b - 1] == u'"':
                        a += 1
                        b -= 1
                    out[name] = header[a:b]
        pos = end + 1
    return out


# ---------------------------------------------------------------- header parameters

cdef inline bint _ows(Py_UCS4 c) noexcept:
    return c == 32 or c == 9                          # SP / HTAB


cdef str _lower_if_needed(str s):
    """`s` itself when it is ASCII without upper-case letters, else s.lower()."""
    cdef const unsigned char *p
    cdef Py_ssize_t i, n
    if PyUnicode_IS_ASCII(s):
        p = <const unsigned char *>PyUnicode_DATA(s)
        n = PyUnicode_GET_LENGTH(s)
        for i in range(n):
            if 65 <= p[i] <= 90:
                return s.lower()
        return s
    return s.lower()


cdef str _trimmed(str s, Py_ssize_t a, Py_ssize_t b):
    """s[a:b] without leading/trailing SP/HTAB."""
    while a < b and _ows(s[a]):
        a += 1
    while b > a and _ows(s[b - 1]):
        b -= 1
    return s[a:b]


cdef str _unescape_quoted(str value, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *stop):
    """Quoted-string content starting after the opening DQUOTE at i; only \\" and
    \\\\ are unescaped.  *stop receives the index of the closing DQUOTE (or n)."""
    cdef list parts = []
    cdef Py_ssize_t chunk = i
    cdef Py_UCS4 c
    while i < n:
        c = value[i]
        if c == u'\\' and i + 1 < n and (value[i + 1] == u'"' or value[i + 1] == u'\\'):
            parts.append(value[chunk:i])
            chunk = i + 1                              # keep the escaped char
            i += 2
            continue
        if c == u'"':
            break
        i += 1
    parts.append(value[chunk:i])
    stop[0] = i
    return "".join(parts)


cpdef tuple parse_options_header(str value):
    """Split 'type/subtype; a=1; b="q\\"s"' into ('type/subtype', {'a': '1', 'b': 'q"s'}).

    The media type and parameter names are lower-cased; the first occurrence of a
    parameter wins; parameters without '=' are ignored; an unterminated
    quoted-string runs to the end of the value; inside quotes only \\" and \\\\ are
    unescaped.
    """
    cdef Py_ssize_t n, i, start, q, bs
    cdef dict params = {}
    cdef str name, val, media_type
    if value is None:
        raise TypeError("parse_options_header() argument must be str, not None")
    n = len(value)
    i = PyUnicode_FindChar(value, u';', 0, n, 1)
    if i < 0:
        return _lower_if_needed(_trimmed(value, 0, n)), params
    media_type = _lower_if_needed(_trimmed(value, 0, i))
    while i < n:
        while i < n and (value[i] == u';' or _ows(value[i])):
            i += 1
        if i >= n:
            break
        start = i
        while i < n and value[i] != u'=' and value[i] != u';':
            i += 1
        name = _lower_if_needed(_trimmed(value, start, i))
        if i >= n or value[i] == u';':
            continue                                   # parameter without a value
        i += 1                                         # '='
        while i < n and _ows(value[i]):
            i += 1
        if i < n and value[i] == u'"':
            i += 1
            q = PyUnicode_FindChar(value, u'"', i, n, 1)
            if q < 0:
                q = n
            bs = PyUnicode_FindChar(value, u'\\', i, q, 1)
            if bs < 0:                                 # common case: nothing escaped
                val = value[i:q]
                i = q
            else:
                val = _unescape_quoted(value, i, n, &i)
            if i < n:                                  # skip the quote and any junk
                q = PyUnicode_FindChar(value, u';', i, n, 1)
                i = n if q < 0 else q
        else:
            q = PyUnicode_FindChar(value, u';', i, n, 1)
            if q < 0:
                q = n
            val = _trimmed(value, i, q)
            i = q
        if name and name not in params:
            params[name] = val
    return media_type, params


# ---------------------------------------------------------------- multipart

cdef inline bint _is_bchar(Py_UCS4 c) noexcept:
    """RFC 2046 bchars: DIGIT / ALPHA / "'()+_,-./:=?" / SP."""
    if (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122):
        return True
    return c == u"'" or c == u'(' or c == u')' or c == u'+' or c == u'_' or c == u',' \
        or c == u'-' or c == u'.' or c == u'/' or c == u':' or c == u'=' or c == u'?' or c == u' '


cpdef bytes multipart_boundary(str content_type):
    """The boundary of a multipart/form-data Content-Type value, validated
    (RFC 2046 section 5.1.1); FormError (400) when missing or invalid."""
    cdef str boundary
    cdef Py_UCS4 c
    if content_type is None:
        raise FormError("missing multipart/form-data content type")
    media_type, params = parse_options_header(content_type)
    if media_type != "multipart/form-data":
        raise FormError(f"expected multipart/form-data, got {media_type!r}")
    boundary = params.get("boundary")
    if not boundary:
        raise FormError("multipart/form-data content type has no boundary parameter")
    if len(boundary) > 70 or boundary[len(boundary) - 1] == u' ':
        raise FormError("invalid multipart boundary")
    for c in boundary:
        if not _is_bchar(c):
            raise FormError("invalid multipart boundary")
    return boundary.encode("ascii")


cdef Headers _parse_part_headers(bytes block):
    cdef list pairs = []
    cdef str text = block.decode("utf-8", "replace")
    cdef str line, name, value
    cdef Py_ssize_t colon
    cdef tuple last
    for line in text.split("\r\n"):
        if not line:
            continue
        if PyUnicode_FindChar(line, u'\r', 0, len(line), 1) >= 0 or \
                PyUnicode_FindChar(line, u'\n', 0, len(line), 1) >= 0:
            raise FormError("bare CR or LF in multipart part headers")
        if line[0] == u' ' or line[0] == u'\t':        # obs-fold continuation
            if not pairs:
                raise FormError("multipart part headers start with a continuation line")
            last = <tuple>pairs[len(pairs) - 1]
            pairs[len(pairs) - 1] = (last[0], last[1] + " " + line.strip(" \t"))
            continue
        colon = PyUnicode_FindChar(line, u':', 0, len(line), 1)
        if colon < 0:
            raise FormError(f"malformed multipart part header line: {line[:80]!r}")
        name = _lower_if_needed(_trimmed(line, 0, colon))
        if not name:
            raise FormError(f"malformed multipart part header line: {line[:80]!r}")
        pairs.append((name, _trimmed(line, colon + 1, len(line))))
    return Headers.from_pairs(pairs)


cdef object _decode_ext_value(str ext):
    """RFC 8187 ext-value (charset'lang'pct-encoded) -> str, or None if unusable."""
    cdef Py_ssize_t q1, q2, n = len(ext)
    cdef bytes raw
    cdef str charset
    q1 = PyUnicode_FindChar(ext, u"'", 0, n, 1)
    if q1 < 0:
        return None
    q2 = PyUnicode_FindChar(ext, u"'", q1 + 1, n, 1)
    if q2 < 0:
        return None
    charset = ext[:q1].strip(" \t").lower()
    raw = ext[q2 + 1:].encode("utf-8")
    if charset == "utf-8" or charset == "utf8":
        return c_unquote(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), False)
    if charset == "iso-8859-1" or charset == "latin-1" or charset == "latin1":
        return _unquote_to_bytes(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw)).decode("latin-1")
    return None


cdef str _decode_field(object content, object content_type):
    """bytes or bytearray -> str by the part's charset (else UTF-8), errors="replace"."""
    cdef str charset = "utf-8"
    if content_type:
        charset = parse_options_header(content_type)[1].get("charset") or "utf-8"
        charset = charset.strip(" \t").lower()
    if charset == "utf-8" or charset == "utf8":
        return content.decode("utf-8", "replace")
    try:
        return content.decode(charset, "replace")
    except (LookupError, ValueError, TypeError):
        # unknown / non-text codec, or a codec that rejects errors="replace"
        return content.decode("utf-8", "replace")


cdef tuple _disposition(Headers headers):
    """(name, filename or None) of a part, from its Content-Disposition."""
    cdef object disposition = headers.get("content-disposition")
    cdef object name, filename = None, ext
    if disposition is None:
        raise FormError("multipart part has no Content-Disposition header")
    kind, params = parse_options_header(disposition)
    if kind != "form-data":
        raise FormError(f"multipart part has Content-Disposition {kind!r}, expected 'form-data'")
    name = params.get("name")
    if name is None:
        raise FormError("multipart part Content-Disposition has no name parameter")
    ext = params.get("filename*")
    if ext is not None:
        filename = _decode_ext_value(ext)
    if filename is None:
        filename = params.get("filename")
        if filename is None and ext is not None:
            raise FormError("multipart part has an undecodable filename* parameter")
    return name, filename


cdef enum:
    _OPEN = 0
    _FINISHED = 1
    _FAILED = 2


cdef class MultipartParser:
    """Incremental multipart/form-data parser (RFC 7578) over the C parser
    (include/cz_multipart.c): ``feed()`` each chunk as it arrives, then
    ``finish()`` for the FormData.

    Memory stays flat: the C parser holds at most a boundary's worth of
    look-behind plus one part's header block (max_header_size); a field (part
    without a filename) is accumulated up to max_field_size; a file part goes
    straight into a ``tempfile.SpooledTemporaryFile(max_size=spool_threshold)``,
    so big uploads land on disk.  Errors are FormError: status_code 413
    (FormLimitError) for more than max_parts parts, a field over max_field_size,
    a file over max_file_size, or part headers over max_header_size; 400 for a
    malformed body.  After an error, every temporary file made so far is closed
    (deleted) and later calls raise the same error again; after ``finish()``
    the returned FormData owns the files (call its ``close()``).  An empty body
    is an empty form.
    """
    cdef cz_mp _mp
    cdef char *_hdr
    cdef Py_ssize_t _max_parts, _max_field_size, _max_file_size, _spool_threshold
    cdef Py_ssize_t _max_header_size, _nparts, _fed
    cdef int _state
    cdef object _error              # (exception class, message) once failed
    cdef list _items
    # the current part
    cdef object _name
    cdef object _content_type
    cdef bytearray _field           # content of a field, or None for a file part
    cdef UploadFile _upload         # file part being written, or None

    def __init__(self, bytes boundary not None, *, Py_ssize_t max_parts=1000,
                 Py_ssize_t max_field_size=1 << 20, max_file_size=None,
                 Py_ssize_t spool_threshold=1 << 20, Py_ssize_t max_header_size=16384):
        cdef Py_ssize_t max_file = -1
        if max_file_size is not None:
            max_file = max_file_size
            if max_file < 0:
                raise ValueError("max_file_size must be >= 0 or None")
        if max_parts < 0 or max_field_size < 0 or spool_threshold < 0 or max_header_size < 0:
            raise ValueError("MultipartParser limits must be >= 0")
        if self._hdr != NULL:                # __init__ called again
            free(self._hdr)
            self._hdr = NULL
        self._hdr = <char *>malloc(<size_t>max_header_size + 4)
        if self._hdr == NULL:
            raise MemoryError()
        if cz_mp_init(&self._mp, PyBytes_AS_STRING(boundary), <size_t>PyBytes_GET_SIZE(boundary),
                      self._hdr, <size_t>max_header_size) != 0:
            raise FormError("invalid multipart boundary")
        self._max_parts = max_parts
        self._max_field_size = max_field_size
        self._max_file_size = max_file
        self._spool_threshold = spool_threshold
        self._max_header_size = max_header_size
        self._nparts = 0
        self._fed = 0
        self._state = _OPEN
        self._error = None
        self._items = []
        self._reset_part()

    def __dealloc__(self):
        free(self._hdr)
        self._hdr = NULL

    cdef void _reset_part(self):
        self._name = None
        self._content_type = None
        self._field = None
        self._upload = None

    def feed(self, data):
        """Parse the next chunk of the body (bytes, bytearray or memoryview)."""
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"feed() argument must be bytes-like, not {type(data).__name__}")
            data = bytes(data)
        self._check_open()
        try:
            self._feed(<bytes>data)
        except BaseException as exc:
            self._fail(exc)
            raise

    def finish(self):
        """End of the body: the FormData (file positions at 0), or FormError."""
        cdef int rc
        cdef tuple t
        self._check_open()
        try:
            if self._fed > 0:
                rc = cz_mp_finish(&self._mp)
                if rc != 0:
                    self._raise(rc)
            for t in self._items:
                if isinstance(t[1], UploadFile):
                    (<UploadFile>t[1])._file.seek(0)
        except BaseException as exc:
            self._fail(exc)
            raise
        self._state = _FINISHED
        return new_form_data(self._items)

    def close(self):
        """Abandon the parse: close (delete) every file made so far.  Not needed
        after finish(), whose FormData owns the files.  Idempotent."""
        if self._state == _OPEN:
            self._state = _FAILED
            self._error = (FormError, "multipart parser was closed")
            self._close_files()

    cdef int _check_open(self) except -1:
        if self._hdr == NULL:
            raise FormError("MultipartParser.__init__ was not called")
        if self._state == _FINISHED:
            raise FormError("multipart parser already finished")
        if self._state == _FAILED:
            cls, msg = self._error
            raise cls(msg)
        return 0

    cdef void _close_files(self):
        cdef tuple t
        if self._upload is not None:
            self._upload.close()
        for t in self._items:
            if isinstance(t[1], UploadFile):
                (<UploadFile>t[1]).close()

    cdef void _fail(self, exc):
        if self._state == _OPEN:
            self._state = _FAILED
            self._error = (type(exc), str(exc))
            self._close_files()

    cdef int _raise(self, int rc) except -1:
        if rc == CZ_MP_E_HEADER_TOO_LARGE:
            raise FormLimitError(f"multipart part headers exceed {self._max_header_size} bytes")
        raise FormError(cz_mp_strerror(rc).decode("ascii"))

    cdef int _feed(self, bytes data) except -1:
        cdef const char *p = PyBytes_AS_STRING(data)
        cdef size_t n = <size_t>PyBytes_GET_SIZE(data), pos = 0, used = 0
        cdef cz_mp_span span
        cdef int ev
        cdef object view = None
        self._fed += <Py_ssize_t>n
        while True:
            ev = cz_mp_feed(&self._mp, p + pos, n - pos, &used, &span)
            pos += used
            if ev == CZ_MP_NEED_MORE:
                return 0
            if ev < 0:
                self._raise(ev)
            elif ev == CZ_MP_DATA:
                if span.at >= p and span.at + span.len <= p + n:
                    if view is None:
                        view = memoryview(data)
                    self._content(view[span.at - p:span.at - p + <Py_ssize_t>span.len],
                                  <Py_ssize_t>span.len)
                else:                       # held look-behind bytes, in the C parser
                    self._content(PyBytes_FromStringAndSize(span.at, <Py_ssize_t>span.len),
                                  <Py_ssize_t>span.len)
            elif ev == CZ_MP_PART_BEGIN:
                self._nparts += 1
                if self._nparts > self._max_parts:
                    raise FormLimitError(f"multipart body has more than {self._max_parts} parts")
            elif ev == CZ_MP_HEADERS:
                self._begin_part(PyBytes_FromStringAndSize(span.at, <Py_ssize_t>span.len))
            elif ev == CZ_MP_PART_END:
                self._end_part()

    cdef int _begin_part(self, bytes block) except -1:
        cdef Headers headers = _parse_part_headers(block)
        name, filename = _disposition(headers)
        content_type = headers.get("content-type")
        self._name = name
        if filename is None:
            self._content_type = content_type
            self._field = bytearray()
        else:
            self._upload = new_upload_file(
                filename, SpooledTemporaryFile(max_size=self._spool_threshold),
                content_type if content_type else "text/plain", headers)
            self._items.append((name, self._upload))   # listed now: closed on failure
        return 0

    cdef int _content(self, object chunk, Py_ssize_t n) except -1:
        if self._upload is not None:
            if self._max_file_size >= 0 and self._upload.size + n > self._max_file_size:
                raise FormLimitError(
                    f"multipart file part exceeds {self._max_file_size} bytes")
            self._upload._file.write(chunk)
            self._upload.size += n
        else:
            if len(self._field) + n > self._max_field_size:
                raise FormLimitError(
                    f"multipart field exceeds {self._max_field_size} bytes")
            self._field += chunk
        return 0

    cdef int _end_part(self) except -1:
        if self._upload is None:
            self._items.append((self._name, _decode_field(self._field, self._content_type)))
        self._reset_part()
        return 0


def parse_multipart(bytes body, str content_type, *, Py_ssize_t max_parts=1000,
                    Py_ssize_t max_header_bytes=16384, Py_ssize_t max_field_size=1 << 20,
                    max_file_size=None, Py_ssize_t spool_threshold=1 << 20):
    """Parse a whole multipart/form-data body (RFC 7578) into FormData: the
    body is fed once to a MultipartParser (same limits, same errors).

    Fields without a filename become str (decoded with the part's charset, else
    UTF-8, errors="replace"); file parts become UploadFile (spooled to a
    temporary file past spool_threshold bytes).  Raises FormError (status_code
    400) for a missing/invalid boundary, a missing opening or closing boundary,
    part headers that are unterminated or malformed, a part that is not
    'Content-Disposition: form-data; name=...'; FormLimitError (a FormError,
    status_code 413) for more than `max_parts` parts, part headers over
    `max_header_bytes`, a field over `max_field_size` or a file over
    `max_file_size` bytes.
    """
    cdef MultipartParser parser
    if body is None:
        raise TypeError("parse_multipart() body must be bytes, not None")
    parser = MultipartParser(multipart_boundary(content_type), max_parts=max_parts,
                             max_field_size=max_field_size, max_file_size=max_file_size,
                             spool_threshold=spool_threshold, max_header_size=max_header_bytes)
    parser.feed(body)
    return parser.finish()


def parse_form(bytes body, content_type, *, Py_ssize_t max_parts=1000,
               Py_ssize_t max_header_bytes=16384, Py_ssize_t max_field_size=1 << 20,
               max_file_size=None, Py_ssize_t spool_threshold=1 << 20):
    """Parse a form body by its Content-Type: application/x-www-form-urlencoded or
    multipart/form-data (the limits apply to multipart, see parse_multipart);
    anything else (including None) raises FormError."""
    if body is None:
        raise TypeError("parse_form() body must be bytes, not None")
    if content_type is None:
        raise FormError("unsupported form content type: no Content-Type")
    if not isinstance(content_type, str):
        raise TypeError("parse_form() content_type must be str or None")
    media_type = parse_options_header(content_type)[0]
    if media_type == "application/x-www-form-urlencoded":
        return parse_urlencoded(body)
    if media_type == "multipart/form-data":
        return parse_multipart(body, content_type, max_parts=max_parts,
                               max_header_bytes=max_header_bytes, max_field_size=max_field_size,
                               max_file_size=max_file_size, spool_threshold=spool_threshold)
    raise FormError(f"unsupported form content type: {media_type!r}")
