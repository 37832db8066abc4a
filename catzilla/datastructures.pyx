# cython: language_level=3
"""Request-side data structures: Headers, MultiDict (QueryParams, FormData), UploadFile.

All mappings here are immutable and keep their entries in a plain list of
(key, value) tuples, in the order they were received.  Lookups scan that list
with a C loop (length/kind/memcmp string equality on borrowed pointers, about
1 ns per entry), because building a dict costs ~70 ns per entry and a request
typically carries 5-20 headers of which a handler reads 0-2.  Only a list longer
than ``INDEX_MIN_ENTRIES`` that has already been scanned ``INDEX_AFTER_SCANS``
times gets a per-key dict index (then lookups are O(1)), which bounds the cost
of e.g. a handler reading every field of a 500-field form.

Mapping-view semantics (documented, deliberately multi-valued):

* ``keys()`` / ``iter()`` / ``len()`` -- the DISTINCT keys, in first-appearance order.
* ``values()`` / ``items()`` -- EVERY entry, in order, duplicates included, so
  ``items()`` is the full multi-valued content (``raw`` for Headers).
* ``Headers[name]`` / ``Headers.get`` -- the FIRST value of a header.
* ``MultiDict[key]`` / ``MultiDict.get`` -- the LAST value of a key (what
  ``?page=1&page=2`` means to most frameworks, e.g. Starlette); use ``getlist`` for all.
"""
from collections.abc import Mapping
from os import fspath

from libc.string cimport memcmp

from catzilla.includes.python cimport (PyObject, PyUnicode_IS_ASCII, PyUnicode_DATA, PyUnicode_GET_LENGTH,
                                       borrowed_list_item as _list_item, borrowed_tuple_item as _tuple_item,
                                       borrowed_ulen as _ulen, borrowed_ukind as _ukind, borrowed_udata as _udata)

cdef enum:
    _INDEX_MIN_ENTRIES = 16
    _INDEX_AFTER_SCANS = 8
INDEX_MIN_ENTRIES = _INDEX_MIN_ENTRIES
INDEX_AFTER_SCANS = _INDEX_AFTER_SCANS

cdef object _MISSING = object()
cdef list _EMPTY = []          # shared placeholder; never mutated


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


cdef list _header_pairs(object source):
    """Normalise a dict / Mapping / iterable of pairs / Headers into [(lower, value)]."""
    cdef list out = []
    cdef object k, v, item
    if source is None:
        return out
    if isinstance(source, Headers):
        return list((<Headers>source)._pairs)
    if isinstance(source, MultiDict):
        source = (<MultiDict>source)._items
    elif isinstance(source, (str, bytes)):
        raise TypeError("Headers() expects a mapping or an iterable of (name, value) pairs")
    elif hasattr(source, "keys"):
        source = [(k, source[k]) for k in source.keys()]
    for item in source:
        k, v = item
        if not isinstance(k, str):
            raise TypeError(f"header name must be str, not {type(k).__name__}")
        k = (<str>k).lower()
        if _is_multi(v):
            for item in v:
                if not isinstance(item, str):
                    raise TypeError(f"header value must be str, not {type(item).__name__}")
                out.append((k, item))
        elif isinstance(v, str):
            out.append((k, v))
        else:
            raise TypeError(f"header value must be str, not {type(v).__name__}")
    return out


cdef list _multidict_items(object source):
    """Normalise a dict / Mapping / iterable of pairs / MultiDict into [(key, value)].

    A list or tuple value in a mapping expands into one entry per element, so
    ``MultiDict(md.to_dict()) == md``.
    """
    cdef list out = []
    cdef object k, v, item
    if source is None:
        return out
    if isinstance(source, MultiDict):
        return list((<MultiDict>source)._items)
    if isinstance(source, Headers):
        return list((<Headers>source)._pairs)
    if isinstance(source, (str, bytes)):
        raise TypeError("MultiDict() expects a mapping or an iterable of (key, value) pairs;"
                        " use catzilla.forms.parse_query() for a query string")
    if hasattr(source, "keys"):
        for k in source.keys():
            v = source[k]
            if not isinstance(k, str):
                raise TypeError(f"key must be str, not {type(k).__name__}")
            if _is_multi(v):
                for item in v:
                    out.append((k, item))
            else:
                out.append((k, v))
        return out
    for item in source:
        k, v = item
        if not isinstance(k, str):
            raise TypeError(f"key must be str, not {type(k).__name__}")
        out.append((k, v))
    return out


cdef dict _group(list pairs):
    """key -> [values] in order; used for equality and to_dict()."""
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


cdef class Headers:
    """Immutable, case-insensitive, multi-valued, order-preserving str -> str mapping.

    ``Headers(source)`` accepts a dict/Mapping (a list/tuple value expands into
    several entries), an iterable of ``(name, value)`` pairs, or another Headers;
    names are lower-cased.  Values are returned exactly as given.

    ``h[name]`` and ``h.get(name)`` return the FIRST value; ``getlist`` returns
    all of them.  ``len(h)``, ``iter(h)`` and ``keys()`` cover the distinct
    (lower-case) names in first-appearance order; ``values()``, ``items()`` and
    ``raw`` cover every entry including repeated names.
    """

    def __cinit__(self):
        self._pairs = _EMPTY

    def __init__(self, source=None):
        self._pairs = _header_pairs(source)
        self._names = None      # drop caches in case __init__ is called again
        self._index = None
        self._scans = 0

    @staticmethod
    cdef Headers from_pairs(list pairs):
        cdef Headers h = Headers.__new__(Headers)
        h._pairs = pairs
        return h

    cdef dict _build_index(self):
        self._index = _group(self._pairs)
        return self._index

    cdef dict _use_index(self):
        """The index if it exists or is now worth building, else None (and count a scan)."""
        if self._index is not None:
            return self._index
        if len(self._pairs) > _INDEX_MIN_ENTRIES and self._scans >= _INDEX_AFTER_SCANS:
            return self._build_index()
        self._scans += 1
        return None

    cdef list _build_names(self):
        self._names = _distinct(self._pairs)
        return self._names

    cdef object _first(self, str lname):
        cdef list pairs = self._pairs
        cdef Py_ssize_t i, n = len(pairs)
        cdef PyObject *t
        cdef dict index = self._use_index()
        cdef object bucket
        if index is not None:
            bucket = index.get(lname)
            return _MISSING if bucket is None else (<list>bucket)[0]
        for i in range(n):
            t = _list_item(pairs, i)
            if _str_eq(_tuple_item(t, 0), <PyObject *>lname):
                return <object>_tuple_item(t, 1)
        return _MISSING

    def __getitem__(self, name):
        cdef object v
        if not isinstance(name, str):
            raise KeyError(name)
        v = self._first(_lower(name))
        if v is _MISSING:
            raise KeyError(name)
        return v

    cpdef object get(self, object name, object default=None):
        """First value of header `name` (case-insensitive), or `default`."""
        cdef object v
        if not isinstance(name, str):
            return default
        v = self._first(_lower(name))
        return default if v is _MISSING else v

    cpdef list getlist(self, object name):
        """All values of header `name` in received order ([] when absent)."""
        cdef list pairs = self._pairs
        cdef list out
        cdef Py_ssize_t i, n = len(pairs)
        cdef PyObject *t
        cdef str lname
        cdef dict index
        cdef object bucket
        if not isinstance(name, str):
            return []
        lname = _lower(name)
        index = self._use_index()
        if index is not None:
            bucket = index.get(lname)
            return [] if bucket is None else list(<list>bucket)
        out = []
        for i in range(n):
            t = _list_item(pairs, i)
            if _str_eq(_tuple_item(t, 0), <PyObject *>lname):
                out.append(<object>_tuple_item(t, 1))
        return out

    def __contains__(self, name):
        if not isinstance(name, str):
            return False
        return self._first(_lower(name)) is not _MISSING

    def __len__(self):
        return len(self._names if self._names is not None else self._build_names())

    def __iter__(self):
        return iter(self._names if self._names is not None else self._build_names())

    def keys(self):
        """Distinct lower-case names in first-appearance order."""
        return list(self._names if self._names is not None else self._build_names())

    def values(self):
        """Every value, in order (repeated names included)."""
        return [(<tuple>t)[1] for t in self._pairs]

    def items(self):
        """Every (name, value) pair, in order (repeated names included)."""
        return list(self._pairs)

    @property
    def raw(self):
        """A copy of the underlying [(lower-case name, value)] list."""
        return list(self._pairs)

    def __eq__(self, other):
        """Equal when both have the same names with the same value lists.

        The order of values within one name matters; the relative order of
        different names does not.  Dicts and lists of pairs are compared after
        conversion to Headers.
        """
        cdef list other_pairs
        if isinstance(other, Headers):
            other_pairs = (<Headers>other)._pairs
        elif isinstance(other, (dict, list, tuple)) or isinstance(other, Mapping):
            try:
                other_pairs = _header_pairs(other)
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


cdef class MultiDict:
    """Immutable, order-preserving, multi-valued str -> value mapping (case-sensitive).

    ``md[key]`` and ``md.get(key)`` return the LAST value of `key`; ``getlist``
    returns all values.  ``len``/``iter``/``keys()`` cover distinct keys in
    first-appearance order; ``values()``/``items()`` every entry.
    """

    def __cinit__(self):
        self._items = _EMPTY

    def __init__(self, source=None):
        self._items = _multidict_items(source)
        self._keys = None       # drop caches in case __init__ is called again
        self._index = None
        self._scans = 0

    cdef dict _build_index(self):
        self._index = _group(self._items)
        return self._index

    cdef dict _use_index(self):
        """The index if it exists or is now worth building, else None (and count a scan)."""
        if self._index is not None:
            return self._index
        if len(self._items) > _INDEX_MIN_ENTRIES and self._scans >= _INDEX_AFTER_SCANS:
            return self._build_index()
        self._scans += 1
        return None

    cdef list _build_keys(self):
        self._keys = _distinct(self._items)
        return self._keys

    cdef object _last(self, object key):
        cdef list items = self._items
        cdef Py_ssize_t i, n = len(items)
        cdef PyObject *t
        cdef object bucket
        cdef list b
        cdef dict index = self._use_index()
        if index is not None:
            bucket = index.get(key)
            if bucket is None:
                return _MISSING
            b = <list>bucket
            return b[len(b) - 1]
        i = n
        while i > 0:
            i -= 1
            t = _list_item(items, i)
            if _str_eq(_tuple_item(t, 0), <PyObject *>key):
                return <object>_tuple_item(t, 1)
        return _MISSING

    def __getitem__(self, key):
        cdef object v
        if not isinstance(key, str):
            raise KeyError(key)
        v = self._last(key)
        if v is _MISSING:
            raise KeyError(key)
        return v

    cpdef object get(self, object key, object default=None):
        """Last value of `key`, or `default`."""
        cdef object v
        if not isinstance(key, str):
            return default
        v = self._last(key)
        return default if v is _MISSING else v

    cpdef list getlist(self, object key):
        """All values of `key` in order ([] when absent)."""
        cdef list items = self._items
        cdef list out
        cdef Py_ssize_t i, n = len(items)
        cdef PyObject *t
        cdef object bucket
        cdef dict index
        if not isinstance(key, str):
            return []
        index = self._use_index()
        if index is not None:
            bucket = index.get(key)
            return [] if bucket is None else list(<list>bucket)
        out = []
        for i in range(n):
            t = _list_item(items, i)
            if _str_eq(_tuple_item(t, 0), <PyObject *>key):
                out.append(<object>_tuple_item(t, 1))
        return out

    def __contains__(self, key):
        if not isinstance(key, str):
            return False
        return self._last(key) is not _MISSING

    def __len__(self):
        return len(self._keys if self._keys is not None else self._build_keys())

    def __iter__(self):
        return iter(self._keys if self._keys is not None else self._build_keys())

    def keys(self):
        """Distinct keys in first-appearance order."""
        return list(self._keys if self._keys is not None else self._build_keys())

    def values(self):
        """Every value, in order (repeated keys included)."""
        return [(<tuple>t)[1] for t in self._items]

    def items(self):
        """Every (key, value) pair, in order (repeated keys included)."""
        return list(self._items)

    def to_dict(self):
        """{key: [values]} with keys in first-appearance order."""
        return _group(self._items)

    def __eq__(self, other):
        """Equal when both have the same keys with the same value lists (per-key
        order matters, order across keys does not).  Dicts/lists are converted."""
        cdef list other_items
        if isinstance(other, MultiDict):
            other_items = (<MultiDict>other)._items
        elif isinstance(other, (dict, list, tuple)) or isinstance(other, Mapping):
            try:
                other_items = _multidict_items(other)
            except (TypeError, ValueError):
                return False
        else:
            return NotImplemented
        return _group(self._items) == _group(other_items)

    def __ne__(self, other):
        cdef object r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = None

    def __repr__(self):
        return f"{type(self).__name__}({self._items!r})"

    def __reduce__(self):
        return (type(self), (list(self._items),))


cdef class QueryParams(MultiDict):
    """Decoded query-string parameters (see catzilla.forms.parse_query)."""


cdef class FormData(MultiDict):
    """Decoded form fields: values are str, or UploadFile for file parts."""

    def close(self):
        """Close every UploadFile value.  Idempotent."""
        cdef tuple t
        for t in self._items:
            if isinstance(t[1], UploadFile):
                (<UploadFile>t[1]).close()


cdef class UploadFile:
    """A file part of a multipart/form-data body, held in memory.

    Request bodies are already size-limited by the server, so the part's bytes
    are kept as-is.  ``filename`` is exactly what the client sent: never use it
    as a filesystem path without sanitising it (RFC 7578 section 4.2).
    """

    def __init__(self, str filename not None, bytes data not None = b"",
                 str content_type not None = "text/plain", headers=None):
        self.filename = filename
        self._data = data
        self.size = len(data)
        self.content_type = content_type
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self._closed = False

    def read(self):
        """The whole content as bytes."""
        return _content(self)

    def text(self, str encoding="utf-8", str errors="strict"):
        """The content decoded with `encoding`."""
        return _content(self).decode(encoding, errors)

    def save(self, path):
        """Write the content to `path` (str or os.PathLike), replacing any file there.
        Returns the number of bytes written."""
        cdef bytes data = _content(self)
        with open(fspath(path), "wb") as f:
            f.write(data)
        return len(data)

    @property
    def closed(self):
        return self._closed

    def close(self):
        """Release the content; later read()/text()/save() raise ValueError. Idempotent."""
        self._closed = True
        self._data = b""

    def __repr__(self):
        return (f"UploadFile(filename={self.filename!r}, content_type={self.content_type!r}, "
                f"size={self.size})")


cdef inline bytes _content(UploadFile f):
    if f._closed:
        raise ValueError("I/O operation on closed UploadFile")
    return f._data


cdef MultiDict new_multidict(list items):
    cdef MultiDict m = MultiDict.__new__(MultiDict)
    m._items = items
    return m


cdef QueryParams new_query_params(list items):
    cdef QueryParams q = QueryParams.__new__(QueryParams)
    q._items = items
    return q


cdef FormData new_form_data(list items):
    cdef FormData f = FormData.__new__(FormData)
    f._items = items
    return f


cdef UploadFile new_upload_file(str filename, bytes data, str content_type, Headers headers):
    cdef UploadFile u = UploadFile.__new__(UploadFile)
    u.filename = filename
    u._data = data
    u.size = len(data)
    u.content_type = content_type
    u.headers = headers
    return u


Mapping.register(Headers)
Mapping.register(MultiDict)
