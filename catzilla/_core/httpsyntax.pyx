"""The RFC 9110 field-value grammar: tokens (§5.6.2), comma-separated lists
(§5.6.1), quoted strings (§5.6.4) and parameters (§5.6.6).

Every header parser in Catzilla goes through these functions (CORS, proxy
headers, content negotiation, ranges, Vary, permessage-deflate offers, the
WebSocket handshake, route methods, header names), so the grammar is decided
here once. Semantics (which names, which values) stay with each caller.

    split_list('a, "b,c" ,, d')          -> ['a', '"b,c"', 'd']
    parse_params('gzip;q=0.5')           -> [('gzip', None), ('q', '0.5')]
    unquote('"a, b"')                     -> 'a, b'

Leniency, on purpose: whitespace is accepted around "=" in a parameter (BWS,
as senders write it) and around ";" and "," (OWS); nothing else is.
"""
from cpython.unicode cimport PyUnicode_READ_CHAR
from catzilla.includes.python cimport PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_IS_ASCII

# 1: an RFC 9110 tchar
cdef unsigned char _TCHAR[128]
cdef int _c
for _c in range(128):
    _TCHAR[_c] = 0
for _c in b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _TCHAR[_c] = 1


cdef inline bint _tchar(Py_UCS4 c) noexcept:
    return c < 128 and _TCHAR[c]


cdef inline bint _ows(Py_UCS4 c) noexcept:
    return c == u' ' or c == u'\t'


cdef int token_case(str s) noexcept:
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(s)
    cdef const unsigned char *p
    cdef int upper = 0
    if n == 0 or not PyUnicode_IS_ASCII(s):      # tchar is ASCII; also makes the 1-byte reads valid
        return -1
    p = <const unsigned char *>PyUnicode_DATA(s)
    for i in range(n):
        if not _TCHAR[p[i]]:
            return -1
        if 65 <= p[i] <= 90:
            upper = 1
    return upper


cpdef bint is_token(object s):
    """`s` is a str and a non-empty RFC 9110 token."""
    return isinstance(s, str) and token_case(<str>s) >= 0


cdef Py_ssize_t _skip_ows(str s, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and _ows(PyUnicode_READ_CHAR(s, i)):
        i += 1
    return i


cdef Py_ssize_t _token_end(str s, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and _tchar(PyUnicode_READ_CHAR(s, i)):
        i += 1
    return i


cdef Py_ssize_t _quoted_end(str s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """s[i] is '"': the index after the closing quote, or -1 when the string is
    unterminated or holds a control character (qdtext and quoted-pair allow
    HTAB, SP, VCHAR and obs-text only)."""
    cdef Py_UCS4 c
    i += 1
    while i < n:
        c = PyUnicode_READ_CHAR(s, i)
        if c == u'"':
            return i + 1
        if c == u'\\':
            i += 1
            if i >= n:
                return -1
            c = PyUnicode_READ_CHAR(s, i)
        if (c < 0x20 and c != u'\t') or c == 0x7f:
            return -1
        i += 1
    return -1


cdef int _split_into(list out, str s) except -1:
    cdef Py_ssize_t i = 0, start = 0, end, n = PyUnicode_GET_LENGTH(s)
    cdef Py_UCS4 c
    cdef str item
    while i < n:
        c = PyUnicode_READ_CHAR(s, i)
        if c == u'"':
            end = _quoted_end(s, i, n)
            if end < 0:
                break                   # malformed: the rest is one element, left for its parser to refuse
            i = end
            continue
        if c == u',':
            item = s[start:i].strip(" \t")
            if item:
                out.append(item)
            start = i + 1
        i += 1
    item = s[start:].strip(" \t")
    if item:
        out.append(item)
    return 0


cpdef list split_list(object value):
    """The elements of a comma-separated list (RFC 9110 §5.6.1). `value` is a
    str, or a list of str: the field lines of one field, which form one list
    (§5.3). Each element has its OWS trimmed; empty elements ("a,,b", " , ")
    are dropped, as recipients must; a comma inside a quoted string does not
    split. An unterminated quoted string makes the rest of its line one
    element (malformed for whoever parses it). None gives []."""
    cdef list out = []
    if value is None:
        return out
    if isinstance(value, str):
        _split_into(out, <str>value)
        return out
    for line in value:
        if not isinstance(line, str):
            raise TypeError(f"a field line must be a str, not {type(line).__name__}")
        _split_into(out, <str>line)
    return out


cpdef object unquote(str value):
    """The text a parameter value stands for: a quoted-string (§5.6.4) without
    its quotes and with its quoted-pairs undone (backslash-x -> x), a token
    as it is; None when `value` is neither (an unterminated or control
    character-bearing quoted string, an empty value, a non-token)."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(value)
    cdef Py_UCS4 c
    cdef list out
    if n and PyUnicode_READ_CHAR(value, 0) == u'"':
        if _quoted_end(value, 0, n) != n:
            return None
        if "\\" not in value:
            return value[1:n - 1]
        out = []
        i = 1
        while i < n - 1:
            c = PyUnicode_READ_CHAR(value, i)
            if c == u'\\':
                i += 1
                c = PyUnicode_READ_CHAR(value, i)
            out.append(c)
            i += 1
        return "".join(out)
    return value if token_case(value) >= 0 else None


cpdef object parse_params(str element, bint empty=True):
    """The ';'-separated parameters of one list element (§5.6.6), each
    `token [ "=" ( token / quoted-string ) ]`, as [(lower-case name, value)]:
    the value as written (a token, or a quoted-string with its quotes: see
    unquote()), None for a bare name. A leading value such as a coding or an
    extension name ("gzip;q=0.5") is the first, bare, pair. None when the
    element is malformed: a name that is no token, "=" without a value, an
    unterminated quoted string, anything but OWS after a value. Empty
    parameters ("a;;b") are skipped, or malformed with empty=False (RFC 6455
    §9.1's extension grammar has none)."""
    cdef Py_ssize_t i = 0, j, k, n = PyUnicode_GET_LENGTH(element)
    cdef list out = []
    cdef str name
    cdef object value
    while True:
        i = _skip_ows(element, i, n)
        if i >= n:
            if out and not empty:
                return None             # a trailing ";"
            return out
        if PyUnicode_READ_CHAR(element, i) == u';':
            if not empty:
                return None
            i += 1
            continue
        j = _token_end(element, i, n)
        if j == i:
            return None
        name = element[i:j].lower()
        value = None
        k = _skip_ows(element, j, n)
        if k < n and PyUnicode_READ_CHAR(element, k) == u'=':
            k = _skip_ows(element, k + 1, n)
            if k < n and PyUnicode_READ_CHAR(element, k) == u'"':
                j = _quoted_end(element, k, n)
                if j < 0:
                    return None
            else:
                j = _token_end(element, k, n)
                if j == k:
                    return None
            value = element[k:j]
        out.append((name, value))
        j = _skip_ows(element, j, n)
        if j < n:
            if PyUnicode_READ_CHAR(element, j) != u';':
                return None
            j += 1
        else:
            return out
        i = j
