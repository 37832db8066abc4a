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
* ``parse_multipart`` (RFC 7578) is strict about structure (boundary lines, part
  header termination, Content-Disposition: form-data with a name) and tolerant
  about details: transport padding after boundaries, folded header lines,
  ``filename*`` (RFC 8187, UTF-8 or ISO-8859-1) preferred over ``filename`` when
  it decodes, quoted-pairs ``\\"`` and ``\\\\`` unescaped (other backslashes are
  kept, so ``C:\\path\\x`` survives), Content-Transfer-Encoding ignored (RFC 7578
  section 4.7).  A part's Content-Type defaults to ``text/plain``
  (section 4.4).  An empty body is an empty form.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport malloc, free
from libc.string cimport memchr

from catzilla.datastructures cimport (
    FormData, Headers, QueryParams, new_form_data, new_query_params, new_upload_file,
)

from catzilla.includes.python cimport (PyUnicode_IS_ASCII, PyUnicode_DATA, PyUnicode_GET_LENGTH,
                                       PyUnicode_FindChar)

class FormError(ValueError):
    """A malformed or unsupported form body (also a ValueError)."""


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


cdef bytes _boundary(str content_type):
    """The boundary of a multipart/form-data content type, validated (RFC 2046 5.1.1)."""
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


cdef inline bint _delimiter_tail(const unsigned char *p, Py_ssize_t n, Py_ssize_t j,
                                 Py_ssize_t *after, bint *closing) noexcept:
    """Is p[j:] the rest of a boundary line ('--' or transport padding + CRLF)?"""
    cdef Py_ssize_t k
    if j + 1 < n and p[j] == 45 and p[j + 1] == 45:
        closing[0] = True
        after[0] = j + 2
        return True
    k = j
    while k < n and (p[k] == 32 or p[k] == 9):
        k += 1
    if k + 1 < n and p[k] == 13 and p[k + 1] == 10:
        closing[0] = False
        after[0] = k + 2
        return True
    return False


cdef Py_ssize_t _find_delimiter(bytes body, bytes delim, Py_ssize_t start,
                                Py_ssize_t *after, bint *closing) except -2:
    """Index of the next real delimiter (CRLF--boundary followed by '--' or
    padding+CRLF) at or after `start`, or -1.  Look-alikes such as CRLF--boundaryX
    inside content are skipped."""
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(body)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(body), dl = PyBytes_GET_SIZE(delim), i
    while True:
        i = body.find(delim, start)
        if i < 0:
            return -1
        if _delimiter_tail(p, n, i + dl, after, closing):
            return i
        start = i + 1


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


cdef str _decode_field(bytes content, object content_type):
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


cdef tuple _make_field(Headers headers, bytes content):
    cdef object disposition = headers.get("content-disposition")
    cdef object name, filename = None, ext, content_type
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
    content_type = headers.get("content-type")
    if filename is not None:
        return (name, new_upload_file(filename, content,
                                      content_type if content_type else "text/plain", headers))
    return (name, _decode_field(content, content_type))


def parse_multipart(bytes body, str content_type, *, int max_parts=1000,
                    int max_header_bytes=16384):
    """Parse a multipart/form-data body (RFC 7578) into FormData.

    Fields without a filename become str (decoded with the part's charset, else
    UTF-8, errors="replace"); file parts become UploadFile.  Raises FormError for a
    missing/invalid boundary, a missing opening or closing boundary, part headers
    that are unterminated, malformed or larger than `max_header_bytes`, a part
    that is not 'Content-Disposition: form-data; name=...', or more than
    `max_parts` parts.
    """
    cdef bytes boundary, dash, delim
    cdef const unsigned char *p
    cdef Py_ssize_t n, pos, hdr_end, content_start, end, limit, after = 0
    cdef bint closing = False
    cdef Py_ssize_t nparts = 0
    cdef list items = []
    cdef Headers headers
    if body is None:
        raise TypeError("parse_multipart() body must be bytes, not None")
    boundary = _boundary(content_type)
    n = PyBytes_GET_SIZE(body)
    if n == 0:
        return new_form_data(items)
    p = <const unsigned char *>PyBytes_AS_STRING(body)
    dash = b"--" + boundary
    delim = b"\r\n" + dash
    if not (body.startswith(dash)
            and _delimiter_tail(p, n, PyBytes_GET_SIZE(dash), &after, &closing)):
        if _find_delimiter(body, delim, 0, &after, &closing) < 0:
            raise FormError("multipart body has no opening boundary")
    pos = after
    while not closing:
        nparts += 1
        if nparts > max_parts:
            raise FormError(f"multipart body has more than {max_parts} parts")
        if pos + 1 < n and p[pos] == 13 and p[pos + 1] == 10:
            hdr_end = pos                                # empty header block
            content_start = pos + 2
        else:
            limit = pos + (max_header_bytes if max_header_bytes > 0 else 0) + 4
            hdr_end = body.find(b"\r\n\r\n", pos, limit)
            if hdr_end < 0:
                if n >= limit:
                    raise FormError(
                        f"multipart part headers exceed {max_header_bytes} bytes")
                raise FormError("multipart part headers are not terminated by an empty line")
            content_start = hdr_end + 4
        headers = _parse_part_headers(body[pos:hdr_end])
        end = _find_delimiter(body, delim, content_start, &after, &closing)
        if end < 0:
            raise FormError("multipart body is missing its closing boundary")
        items.append(_make_field(headers, body[content_start:end]))
        pos = after
    return new_form_data(items)


def parse_form(bytes body, content_type, *, int max_parts=1000, int max_header_bytes=16384):
    """Parse a form body by its Content-Type: application/x-www-form-urlencoded or
    multipart/form-data; anything else (including None) raises FormError."""
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
                               max_header_bytes=max_header_bytes)
    raise FormError(f"unsupported form content type: {media_type!r}")
