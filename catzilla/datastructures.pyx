# cython: language_level=3
"""Header and multi-valued mappings: Headers, MutableHeaders, MultiDict (QueryParams,
FormData), UploadFile, and the header-field validators the response side uses.

Every mapping here keeps its entries in one plain list of (key, value) tuples,
in the order they were received or set; ``_MultiMapping`` implements everything
over that list once, and the subclasses only say how a key is normalised and
which of several values ``m[key]`` means.  Lookups scan the list with a C loop
(length/kind/memcmp string equality on borrowed pointers, about 1 ns per
entry), because building a dict costs ~70 ns per entry and a request typically
carries 5-20 headers of which a handler reads 0-2.  Only a list longer than
``INDEX_MIN_ENTRIES`` that has already been scanned ``INDEX_AFTER_SCANS`` times
gets a per-key dict index (then lookups are O(1)), which bounds the cost of e.g.
a handler reading every field of a 500-field form.

Mapping-view semantics (documented, deliberately multi-valued):

* ``keys()`` / ``iter()`` / ``len()`` -- the DISTINCT keys, in first-appearance order.
* ``values()`` / ``items()`` -- EVERY entry, in order, duplicates included, so
  ``items()`` is the full multi-valued content (``raw`` for Headers).
* ``Headers[name]`` / ``Headers.get`` -- the FIRST value of a header (names are
  case-insensitive and stored lower-cased).
* ``MultiDict[key]`` / ``MultiDict.get`` -- the LAST value of a key (what
  ``?page=1&page=2`` means to most frameworks, e.g. Starlette); use ``getlist`` for all.

``MutableHeaders`` is the one mutable mapping: it edits its list in place (a
Response can hand it its own list) and validates every name and value it is
given, so nothing set through it can split a response.
"""
cimport cython
from collections.abc import Mapping
from io import BytesIO
from os import fspath

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeLatin1, PyUnicode_FromObject, PyUnicode_CheckExact
from libc.string cimport memcmp

from catzilla._core.httpsyntax cimport split_list, token_case
from catzilla.includes.python cimport (PyObject, PyUnicode_IS_ASCII, PyUnicode_KIND, PyUnicode_DATA,
                                       PyUnicode_GET_LENGTH,
                                       borrowed_list_item as _list_item, borrowed_tuple_item as _tuple_item,
                                       borrowed_ulen as _ulen, borrowed_ukind as _ukind, borrowed_udata as _udata)

cdef enum:
    _INDEX_MIN_ENTRIES = 16
    _INDEX_AFTER_SCANS = 8
INDEX_MIN_ENTRIES = _INDEX_MIN_ENTRIES
INDEX_AFTER_SCANS = _INDEX_AFTER_SCANS

cdef object _MISSING = object()
cdef list _EMPTY = []          # shared placeholder of the immutable classes; never mutated


# -- header-field validation (RFC 9110 §5.1 token names, §5.5 field values) --------

cdef unsigned char _BAD_VALUE[256]   # 1: never allowed in a field value (CTLs but HTAB, and DEL)
cdef int _c
for _c in range(256):
    _BAD_VALUE[_c] = (_c < 0x20 and _c != 0x09) or _c == 0x7f


cdef str header_name(object name):
    """A field name as a lower-case str: str or bytes, a non-empty RFC 9110 token."""
    cdef str s
    cdef int case
    if isinstance(name, str):
        s = <str>name
    elif isinstance(name, bytes):
        s = PyUnicode_DecodeLatin1(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name), NULL)
    else:
        raise TypeError(f"header name must be str or bytes, not {type(name).__name__}")
    case = token_case(s)
    if case < 0:
        if PyUnicode_GET_LENGTH(s) == 0:
            raise ValueError("empty header name")
        raise ValueError(f"invalid header name {name!r}: only RFC 9110 token characters are allowed")
    if case:
        return s.lower()
    return s if PyUnicode_CheckExact(s) else PyUnicode_FromObject(s)


cdef str header_value(object value):
    """A field value as a str: str, bytes (latin-1) or int; latin-1 only, no CR/LF/NUL
    or other control character but HTAB (the response-splitting guard)."""
    cdef str s
    cdef const unsigned char *p
    cdef Py_ssize_t i, n
    if isinstance(value, str):
        s = <str>value
        if PyUnicode_KIND(s) != 1:    # a code point above U+00FF
            raise ValueError(f"header value {value!r} is not latin-1: percent-encode it")
    elif isinstance(value, bytes):
        s = PyUnicode_DecodeLatin1(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), NULL)
    elif isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))        # int(): an IntEnum's str() is its name
    else:
        raise TypeError(f"header value must be str, bytes or int, not {type(value).__name__}")
    n = PyUnicode_GET_LENGTH(s)
    p = <const unsigned char *>PyUnicode_DATA(s)
    for i in range(n):
        if _BAD_VALUE[p[i]]:
            raise ValueError(f"invalid control character in header value {value!r}: "
                             f"CR, LF, NUL and other controls except HTAB are not allowed")
    return s if PyUnicode_CheckExact(s) else PyUnicode_FromObject(s)


cdef list validated_pairs(object source):
    """dict / Mapping / iterable of pairs / Headers -> a new [(lower-case name, value)]
    list, every name and value validated; a list/tuple value expands."""
    cdef list out = []
    cdef tuple t
    if isinstance(source, MutableHeaders):
        return list((<MutableHeaders>source)._pairs)    # validated when they were set
    for t in _given_pairs(source, True, "headers must be a mapping or an iterable of (name, value) pairs"):
        out.append((header_name(t[0]), header_value(t[1])))
    return out


cdef MutableHeaders mutable_headers_over(list pairs):
    cdef MutableHeaders h = MutableHeaders.__new__(MutableHeaders)
    h._pairs = pairs
    return h


# -- helpers ---------------------------------------------------------------------

cdef inline str _lower(str name):
    """ASCII fast path: return `name` itself when it has no upper-case letter."""
    cdef const unsigned char *p
    cdef Py_ssize_t i, n
    if PyUnicode_IS_ASCII(name):
        p = <const unsigned char *>PyUnicode_DATA(name)
        n = PyUnicode_GET_LENGTH(name)
        for i in range(n):
            if 65 <= p[i] <= 90:
                return name.lower()
        return name
    return name.lower()


cdef inline bint _str_eq(PyObject *a, PyObject *b) noexcept:
    """Equality of two str objects: identity, then length/kind, then memcmp.

    (Cython's generic str == goes through PyUnicode_Compare, an ordering compare.)
    """
    cdef Py_ssize_t n
    cdef int kind
    if a == b:
        return True
    n = _ulen(a)
    if n != _ulen(b):
        return False
    kind = _ukind(a)
    if kind != _ukind(b):
        return False
    return memcmp(_udata(a), _udata(b), <size_t>(n * kind)) == 0


cdef inline bint _is_multi(object v):
    return type(v) is list or type(v) is tuple


cdef list _given_pairs(object source, bint expand_pairs, str bad_source):
    """The (key, value) pairs a constructor was given, as a new list: from a
    mapping (a list/tuple value expands into one pair per element), an iterable
    of pairs (expanded too when expand_pairs) or another multi-mapping."""
    cdef list out = []
    cdef object k, v, item
    if source is None:
        return out
    if isinstance(source, _MultiMapping):
        source = (<_MultiMapping>source)._pairs
    elif isinstance(source, (str, bytes, bytearray)):
        raise TypeError(bad_source)
    elif hasattr(source, "keys"):
        source = [(k, source[k]) for k in source.keys()]
        expand_pairs = True
    for item in source:
        k, v = item
        if expand_pairs and _is_multi(v):
            for item in v:
                out.append((k, item))
        else:
            out.append((k, v))
    return out


cdef list _header_pairs(object source):
    """Headers(): a dict / Mapping / iterable of pairs / Headers -> [(lower, value)].
    Lenient (any str name, str values), unlike validated_pairs: request-side data."""
    cdef list out
    cdef tuple t
    cdef Py_ssize_t i
    if isinstance(source, Headers):
        return list((<Headers>source)._pairs)
    out = _given_pairs(source, True, "Headers() expects a mapping or an iterable of (name, value) pairs")
    for i in range(len(out)):
        t = <tuple>out[i]
        if not isinstance(t[0], str):
            raise TypeError(f"header name must be str, not {type(t[0]).__name__}")
        if not isinstance(t[1], str):
            raise TypeError(f"header value must be str, not {type(t[1]).__name__}")
        out[i] = ((<str>t[0]).lower(), t[1])
    return out


cdef list _multidict_items(object source):
    """MultiDict(): a dict / Mapping / iterable of pairs / MultiDict -> [(key, value)].

    A list or tuple value in a mapping expands into one entry per element, so
    ``MultiDict(md.to_dict()) == md``.
    """
    cdef list out
    cdef tuple t
    if isinstance(source, _MultiMapping):
        return list((<_MultiMapping>source)._pairs)
    out = _given_pairs(source, False, "MultiDict() expects a mapping or an iterable of (key, value) "
                                      "pairs; use catzilla.forms.parse_query() for a query string")
    for t in out:
        if not isinstance(t[0], str):
            raise TypeError(f"key must be str, not {type(t[0]).__name__}")
    return out


cdef dict _group(list pairs):
    """key -> [values] in order; used for the index, equality and to_dict()."""
    cdef dict d = {}
    cdef tuple t
    cdef list bucket
    for t in pairs:
        bucket = d.get(t[0])
        if bucket is None:
            d[t[0]] = [t[1]]
        else:
            bucket.append(t[1])
    return d


cdef list _distinct(list pairs):
    cdef Py_ssize_t i, j, n = len(pairs), m
    cdef list names = []
    cdef set seen
    cdef object k
    if n <= 8:
        # quadratic but allocation-free for tiny lists
        for i in range(n):
            k = (<tuple>pairs[i])[0]
            m = len(names)
            for j in range(m):
                if names[j] == k:
                    break
            else:
                names.append(k)
        return names
    seen = set()
    for i in range(n):
        k = (<tuple>pairs[i])[0]
        if k not in seen:
            seen.add(k)
            names.append(k)
    return names


# -- the shared implementation ------------------------------------------------------

cdef class _MultiMapping:
    """The list-of-pairs machinery shared by Headers and MultiDict (not public)."""

    def __cinit__(self):
        self._pairs = _EMPTY

    def __init__(self, source=None):
        self._pairs = self._convert(source)
        self._changed()          # in case __init__ is called again

    # what the subclasses supply
    cdef str _key(self, object key):
        return <str>key if isinstance(key, str) else None

    cdef object _lookup(self, str key):
        return self._first(key)

    cdef list _convert(self, object source):
        return _multidict_items(source)

    # the machinery
    cdef void _changed(self) noexcept:
        self._names = None
        self._index = None
        self._scans = 0

    cdef dict _use_index(self):
        """The index if it exists or is now worth building, else None (and count a scan)."""
        if self._index is not None:
            return self._index
        if len(self._pairs) > _INDEX_MIN_ENTRIES and self._scans >= _INDEX_AFTER_SCANS:
            self._index = _group(self._pairs)
            return self._index
        self._scans += 1
        return None

    cdef list _distinct_keys(self):
        if self._names is None:
            self._names = _distinct(self._pairs)
        return self._names

    cdef object _first(self, str key):
        cdef list pairs = self._pairs
        cdef Py_ssize_t i, n = len(pairs)
        cdef PyObject *t
        cdef dict index = self._use_index()
        cdef object bucket
        if index is not None:
            bucket = index.get(key)
            return _MISSING if bucket is None else (<list>bucket)[0]
        for i in range(n):
            t = _list_item(pairs, i)
            if _str_eq(_tuple_item(t, 0), <PyObject *>key):
                return <object>_tuple_item(t, 1)
        return _MISSING

    cdef object _last(self, str key):
        cdef list pairs = self._pairs
        cdef Py_ssize_t i = len(pairs)
        cdef PyObject *t
        cdef dict index = self._use_index()
        cdef object bucket
        if index is not None:
            bucket = index.get(key)
            return _MISSING if bucket is None else (<list>bucket)[len(<list>bucket) - 1]
        while i > 0:
            i -= 1
            t = _list_item(pairs, i)
            if _str_eq(_tuple_item(t, 0), <PyObject *>key):
                return <object>_tuple_item(t, 1)
        return _MISSING

    def __getitem__(self, key):
        cdef str k = self._key(key)
        cdef object v
        if k is None:
            raise KeyError(key)
        v = self._lookup(k)
        if v is _MISSING:
            raise KeyError(key)
        return v

    cdef object _get(self, object key, object default):
        cdef str k = self._key(key)
        cdef object v
        if k is None:
            return default
        v = self._lookup(k)
        return default if v is _MISSING else v

    cdef list _getlist(self, object key):
        cdef list pairs = self._pairs
        cdef list out
        cdef Py_ssize_t i, n = len(pairs)
        cdef PyObject *t
        cdef str k = self._key(key)
        cdef dict index
        cdef object bucket
        if k is None:
            return []
        index = self._use_index()
        if index is not None:
            bucket = index.get(k)
            return [] if bucket is None else list(<list>bucket)
        out = []
        for i in range(n):
            t = _list_item(pairs, i)
            if _str_eq(_tuple_item(t, 0), <PyObject *>k):
                out.append(<object>_tuple_item(t, 1))
        return out

    cpdef object get(self, object key, object default=None):
        """The value ``m[key]`` would give, or `default`."""
        return self._get(key, default)

    cpdef list getlist(self, object key):
        """All values of `key` in order ([] when absent)."""
        return self._getlist(key)

    def __contains__(self, key):
        cdef str k = self._key(key)
        return k is not None and self._first(k) is not _MISSING

    def __len__(self):
        return len(self._distinct_keys())

    def __iter__(self):
        return iter(self._distinct_keys())

    def keys(self):
        """Distinct keys in first-appearance order."""
        return list(self._distinct_keys())

    def values(self):
        """Every value, in order (repeated keys included)."""
        return [(<tuple>t)[1] for t in self._pairs]

    def items(self):
        """Every (key, value) pair, in order (repeated keys included)."""
        return list(self._pairs)

    def __eq__(self, other):
        """Equal when both have the same keys with the same value lists.

        The order of values within one key matters; the relative order of
        different keys does not.  Dicts, lists of pairs and the other kind of
        mapping are compared after conversion to this one's class.
        """
        cdef list other_pairs
        if isinstance(other, _MultiMapping) and isinstance(self, Headers) == isinstance(other, Headers):
            other_pairs = (<_MultiMapping>other)._pairs
        elif isinstance(other, (_MultiMapping, dict, list, tuple)) or isinstance(other, Mapping):
            try:
                other_pairs = self._convert(other)
            except (TypeError, ValueError):
                return False
        else:
            return NotImplemented
        return _group(self._pairs) == _group(other_pairs)

    def __ne__(self, other):
        cdef object r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = None

    def __repr__(self):
        return f"{type(self).__name__}({self._pairs!r})"

    def __reduce__(self):
        return (type(self), (list(self._pairs),))


cdef class Headers(_MultiMapping):
    """Immutable, case-insensitive, multi-valued, order-preserving str -> str mapping.

    ``Headers(source)`` accepts a dict/Mapping (a list/tuple value expands into
    several entries), an iterable of ``(name, value)`` pairs, or another Headers;
    names are lower-cased.  Values are returned exactly as given.

    ``h[name]`` and ``h.get(name)`` return the FIRST value; ``getlist`` returns
    all of them.  ``len(h)``, ``iter(h)`` and ``keys()`` cover the distinct
    (lower-case) names in first-appearance order; ``values()``, ``items()`` and
    ``raw`` cover every entry including repeated names.
    """

    @staticmethod
    cdef Headers from_pairs(list pairs):
        cdef Headers h = Headers.__new__(Headers)
        h._pairs = pairs
        return h

    cdef str _key(self, object key):
        return _lower(<str>key) if isinstance(key, str) else None

    cdef list _convert(self, object source):
        return _header_pairs(source)

    # the same as the base's, under the parameter names Headers always had
    cpdef object get(self, object name, object default=None):
        """First value of header `name` (case-insensitive), or `default`."""
        return self._get(name, default)

    cpdef list getlist(self, object name):
        """All values of header `name` in received order ([] when absent)."""
        return self._getlist(name)

    @property
    def raw(self):
        """A copy of the underlying [(lower-case name, value)] list."""
        return list(self._pairs)


cdef class MutableHeaders(Headers):
    """Headers that can be changed; every name and value is validated when set.

    Names must be RFC 9110 tokens (str or bytes; stored lower-cased); values are
    str, bytes (latin-1) or int, latin-1 only, without CR, LF, NUL or another
    control character but HTAB -- so nothing set here can split a response.
    A bad name or value is a ValueError (TypeError for a wrong type) and
    changes nothing.

    ``h[name] = value`` replaces every value of `name` (the new one takes the
    place of the first); ``append`` adds one more; ``del h[name]`` removes all
    (KeyError when there is none).  Reading works as for Headers.
    """

    def __cinit__(self):
        self._pairs = []      # its own list: mutations must never reach _EMPTY

    def __init__(self, source=None):
        cdef list pairs = validated_pairs(source)
        self._pairs[:] = pairs            # in place: someone may hold this list
        self._changed()

    cdef list _convert(self, object source):
        return validated_pairs(source)

    cdef Py_ssize_t _replace(self, str name, object value) except -1:
        """Drop every entry of `name`; with `value`, the first becomes (name, value).
        Returns how many entries `name` had.  Edits the list in place."""
        cdef list pairs = self._pairs
        cdef Py_ssize_t i, w = 0, found = 0, n = len(pairs)
        cdef PyObject *t
        for i in range(n):
            t = _list_item(pairs, i)
            if _str_eq(_tuple_item(t, 0), <PyObject *>name):
                found += 1
                if found > 1 or value is None:
                    continue
                pairs[w] = (name, value)
            elif w != i:
                pairs[w] = <object>t
            w += 1
        if w < n:
            del pairs[w:]
        if found:
            self._changed()
        return found

    def __setitem__(self, name, value):
        cdef str n = header_name(name)
        cdef str v = header_value(value)
        if self._replace(n, v) == 0:
            self._pairs.append((n, v))
            self._changed()

    def __delitem__(self, name):
        cdef str k = self._key(name)
        if k is None or self._replace(k, None) == 0:
            raise KeyError(name)

    def append(self, name, value):
        """Add one more (name, value) entry after the existing ones."""
        cdef tuple pair = (header_name(name), header_value(value))
        self._pairs.append(pair)
        self._changed()

    def setdefault(self, name, value):
        """The first value of `name`; when there is none, append (name, value) and
        return the value as stored (a str)."""
        cdef str n = header_name(name)
        cdef str v = header_value(value)
        cdef object cur = self._first(n)
        if cur is not _MISSING:
            return cur
        self._pairs.append((n, v))
        self._changed()
        return v

    def add_vary(self, name):
        """Add `name` to Vary (one field, no duplicates, case-insensitive; nothing
        to add when Vary is already "*")."""
        cdef str n = header_name(name)
        cdef list names = split_list(self.getlist("vary"))
        if any(p == "*" or p.lower() == n for p in names):
            return
        names.append(name if isinstance(name, str) else n)
        self["vary"] = ", ".join(names)

    def update(self, source=None):
        """Set headers from a mapping, pairs or Headers: each name given replaces
        all of its old values (at the place of the first old one, else at the
        end) with all the values given for it.  All or nothing: one bad name or
        value raises before anything changes."""
        cdef list new = validated_pairs(source)
        cdef dict groups = {}
        cdef set placed
        cdef list out, bucket
        cdef tuple t
        cdef object k
        if not new:
            return
        for t in new:
            bucket = groups.get(t[0])
            if bucket is None:
                groups[t[0]] = [t]
            else:
                bucket.append(t)
        out = []
        placed = set()
        for t in self._pairs:
            k = t[0]
            bucket = groups.get(k)
            if bucket is None:
                out.append(t)
            elif k not in placed:           # first old entry of this name: the new ones go here
                out.extend(bucket)
                placed.add(k)
        for k, bucket in groups.items():
            if k not in placed:
                out.extend(bucket)
        self._pairs[:] = out
        self._changed()


cdef class MultiDict(_MultiMapping):
    """Immutable, order-preserving, multi-valued str -> value mapping (case-sensitive).

    ``md[key]`` and ``md.get(key)`` return the LAST value of `key`; ``getlist``
    returns all values.  ``len``/``iter``/``keys()`` cover distinct keys in
    first-appearance order; ``values()``/``items()`` every entry.
    """

    cdef object _lookup(self, str key):
        return self._last(key)

    def to_dict(self):
        """{key: [values]} with keys in first-appearance order."""
        return _group(self._pairs)


cdef class QueryParams(MultiDict):
    """Decoded query-string parameters (see catzilla.forms.parse_query)."""


cdef class FormData(MultiDict):
    """Decoded form fields: values are str, or UploadFile for file parts."""

    def close(self):
        """Close every UploadFile value.  Idempotent."""
        cdef tuple t
        for t in self._pairs:
            if isinstance(t[1], UploadFile):
                (<UploadFile>t[1]).close()


cdef class UploadFile:
    """A file part of a multipart/form-data body.

    The content lives in a binary file object (``file``): an in-memory BytesIO
    when built from bytes, a ``tempfile.SpooledTemporaryFile`` when the
    multipart parser wrote it, so large uploads sit on disk, not in memory.
    ``read()`` without a size, ``text()`` and ``save()`` work on the whole
    content and leave the position alone; ``read(n)``, ``seek()`` and ``tell()``
    are the positional file API.  ``close()`` releases the storage (a temporary
    file is deleted); ``FormData.close()`` closes every file of a form.

    ``filename`` is exactly what the client sent: never use it as a filesystem
    path without sanitising it (RFC 7578 section 4.2).
    """

    def __init__(self, str filename not None, bytes data not None = b"",
                 str content_type not None = "text/plain", headers=None):
        self.filename = filename
        self._file = BytesIO(data)
        self.size = len(data)
        self.content_type = content_type
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self._closed = False

    @property
    def file(self):
        """The underlying binary file object (positional; shared with seek/tell)."""
        return self._file

    def read(self, Py_ssize_t size=-1):
        """read(): the whole content as bytes (the position does not matter and
        is kept); read(n): at most n bytes from the current position.
        `await file.read()` (FastAPI's async spelling) gives the same bytes."""
        cdef object pos
        _check_open(self)
        if size >= 0:
            return AwaitableBytes(self._file.read(size))
        pos = self._file.tell()
        try:
            self._file.seek(0)
            return AwaitableBytes(self._file.read())
        finally:
            self._file.seek(pos)

    def write(self, data):
        """Write bytes at the current position (FastAPI's UploadFile.write);
        `size` follows the content. Awaitable too."""
        cdef object end
        _check_open(self)
        self._file.write(data)
        end = self._file.seek(0, 2)
        self.size = end
        return _DONE

    def seek(self, Py_ssize_t offset, int whence=0):
        """Move the position (io whence values); returns the new position
        (an int that `await file.seek(0)` also accepts)."""
        _check_open(self)
        return AwaitableInt(self._file.seek(offset, whence))

    def tell(self):
        """The current position."""
        _check_open(self)
        return self._file.tell()

    def text(self, str encoding="utf-8", str errors="strict"):
        """The content decoded with `encoding`."""
        return self.read().decode(encoding, errors)

    def save(self, path, Py_ssize_t chunk_size=1 << 20):
        """Write the content to `path` (str or os.PathLike), replacing any file
        there, `chunk_size` bytes at a time.  Returns the number of bytes written."""
        cdef object pos, block
        cdef Py_ssize_t total = 0
        _check_open(self)
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        pos = self._file.tell()
        try:
            self._file.seek(0)
            with open(fspath(path), "wb") as out:
                while True:
                    block = self._file.read(chunk_size)
                    if not block:
                        break
                    out.write(block)
                    total += len(block)
        finally:
            self._file.seek(pos)
        return total

    @property
    def closed(self):
        return self._closed

    def close(self):
        """Release the content (a temporary file is deleted); later
        read()/seek()/tell()/text()/save() raise ValueError.  Idempotent.
        `await file.close()` works too."""
        if self._closed:
            return _DONE
        self._closed = True
        f = self._file
        self._file = _CLOSED_FILE
        f.close()
        return _DONE

    def __repr__(self):
        return (f"UploadFile(filename={self.filename!r}, content_type={self.content_type!r}, "
                f"size={self.size})")


_CLOSED_FILE = BytesIO()
_CLOSED_FILE.close()


# UploadFile's methods serve FastAPI's async spelling too (`await file.read()`):
# their results are awaitable and give themselves (the work is already done:
# the content is in memory or a local temporary file).
@cython.final
cdef class _Ready:
    """The iterator `await` runs for a value that is already there."""
    cdef object value

    def __iter__(self):
        return self

    def __next__(self):
        raise StopIteration(self.value)


cdef _Ready _ready(object value):
    cdef _Ready r = _Ready.__new__(_Ready)
    r.value = value
    return r


class AwaitableBytes(bytes):
    """bytes that `await` gives back as plain bytes."""
    __slots__ = ()

    def __await__(self):
        return _ready(bytes(self))


class AwaitableInt(int):
    """An int that `await` gives back as a plain int."""
    __slots__ = ()

    def __await__(self):
        return _ready(int(self))


class _Done:
    """The result of a method that returns nothing: awaiting it gives None."""
    __slots__ = ()

    def __await__(self):
        return _ready(None)

    def __repr__(self):
        return "None"

    def __bool__(self):
        return False


_DONE = _Done()


cdef inline int _check_open(UploadFile f) except -1:
    if f._closed:
        raise ValueError("I/O operation on closed UploadFile")
    return 0


cdef MultiDict new_multidict(list items):
    cdef MultiDict m = MultiDict.__new__(MultiDict)
    m._pairs = items
    return m


cdef QueryParams new_query_params(list items):
    cdef QueryParams q = QueryParams.__new__(QueryParams)
    q._pairs = items
    return q


cdef FormData new_form_data(list items):
    cdef FormData f = FormData.__new__(FormData)
    f._pairs = items
    return f


cdef UploadFile new_upload_file(str filename, object file, str content_type, Headers headers):
    cdef UploadFile u = UploadFile.__new__(UploadFile)
    u.filename = filename
    u._file = file
    u.size = 0
    u.content_type = content_type
    u.headers = headers
    return u


Mapping.register(_MultiMapping)
