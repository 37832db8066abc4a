"""Catzilla's compiled router.

Patterns
--------
A pattern starts with '/' and is split into segments at '/'. A segment is
either literal text or a whole-segment parameter ``{name}`` / ``{name:conv}``.
``find`` gets the path percent-decoded once (``%2F`` is then a '/' and ends the
segment, ``%2D`` is a '-'), and a converter accepts exactly:

    ============  ==============================================  ============
    converter     accepts                                         value
    ============  ==============================================  ============
    str           one non-empty segment: any characters but '/'   str
                  (the default)
    int           ``[0-9]+``: ASCII digits only, any number of    int
                  them (leading zeros allowed: ``007`` is 7); no
                  sign, no '+', no '_', no spaces
    signed_int    ``-?[0-9]+``: int, or int after one '-'         int
                  (``-0`` is 0); no '+'
    float         ``[0-9]+(\\.[0-9]+)?``: digits, then optionally  float
                  '.' and digits (``5``, ``0.5``, ``00.50``); no
                  sign, no ``.5`` or ``5.``, no exponent, no
                  ``inf``/``nan``, no ','
    signed_float  ``-?[0-9]+(\\.[0-9]+)?``: float, or float after   float
                  one '-' (``-0.0`` is -0.0); no '+'
    uuid          ``8-4-4-4-12`` hex digits, either case, the     uuid.UUID
                  hyphens required (no braces, no ``urn:uuid:``,
                  not 32 digits without hyphens)
    path          the non-empty rest of the path, '/' included    str
                  (``a//b`` and a trailing '/' kept); only allowed
                  as the last segment
    ============  ==============================================  ============

int and float refuse a sign like Starlette's; signed_int and signed_float are
the same converters with one optional leading '-' (never '+': one URL per
value), for coordinates, offsets, temperatures.

Parameter names are Python identifiers, unique within a pattern. Text mixed
with a parameter in one segment (``/a{b}``), unbalanced or nested braces,
empty segments in the middle (``/a//b``), unknown converters and bad methods
raise ``RouteError`` when the route is defined. A trailing '/' is part of the
pattern: ``/users`` and ``/users/`` are different routes and no redirect is
made.

Matching precedence
-------------------
At every segment position the candidates are tried in this order:

    1. a literal segment,
    2. ``{x:int}``, 3. ``{x:signed_int}``, 4. ``{x:float}``, 5. ``{x:signed_float}``,
       6. ``{x:uuid}``  (typed converters: the narrower first),
    7. ``{x}`` / ``{x:str}``,
    8. ``{x:path}`` (it swallows the rest of the path, so it is tried last).

The search backtracks: when a higher-precedence branch fails further down,
the next candidate at that position is tried. The first route (in this order)
whose pattern matches the path *and* which has a handler for the request
method wins. A route for GET also answers HEAD unless the same pattern has an
explicit HEAD route. ``find`` returns a ``Match``: on a hit its ``route`` and
``params`` (None for a route without parameters); otherwise ``route`` is None
and ``allowed`` holds every method the matching patterns accept (the server
answers 405 with ``Allow``), or ``()`` when nothing matches (404). Methods are
compared case-sensitively: the caller passes the request method as received
(HTTP methods are case-sensitive).

Two routes with the same method and the same *shape* (literal text and
converter per position, parameter names ignored) conflict: ``/u/{id}`` and
``/u/{uid}`` for GET raise ``RouteError``. Different converters at the same
position (``/u/{id:int}`` and ``/u/{slug}``) are fine and resolved by the
precedence above.

Definitions
-----------
``Router.add(path, endpoint, methods=("GET",), *, name=None, blocking=None, **options)``
registers a route; ``Route(path, endpoint, methods=("GET",), *, name=None,
blocking=None)`` makes one with the same checks, to pass to ``Router.add_route`` or
``Router(routes=[...])`` (the router's prefix is put in front of its path).
The former order ``add(methods, path, endpoint)`` raises TypeError: a str
endpoint, a non-str path or a path that is a method name gives it away.

Methods are given as a str or an iterable of str, upper-cased, de-duplicated
and must be RFC 9110 tokens from ``KNOWN_METHODS`` (RFC 9110, PATCH, WebDAV);
anything else is a ``RouteError`` (a typo like "GTE" would otherwise define a
route nobody can reach). A route's ``name`` defaults to the endpoint's
``__name__`` (through ``functools.partial``); several routes may share a
name, ``url_path_for`` then picks the first whose parameter names equal the
keywords it gets. ``params_as_kwargs`` is decided once with
``inspect.signature``: True when ``endpoint(request, **params)`` binds (named
parameters for every path parameter, or ``**kwargs``); always False for a
route without parameters. ``Router.include`` copies the other router's routes
as they are at that moment, all or none. ``blocking=True`` runs a ``def``
endpoint on the server's worker threads instead of the event loop, ``False``
keeps it inline, ``None`` leaves it to the app's ``blocking_handlers``
setting; ``blocking=True`` on an ``async def`` endpoint is a TypeError.
A typed endpoint (annotated parameters, markers, a model return type, or the
``options``: response_model, status_code, tags...) gets ``Route.plan``, compiled
once here by catzilla.params; the dispatcher runs the plan instead of calling
the endpoint with ``**path_params``. An untyped endpoint's plan is None.

Implementation
--------------
Fully literal patterns live in one dict ``path -> {method: Route}``, so a
static hit costs two dict lookups and a Match (taken from a freelist).
Parameterised patterns live in a segment tree walked with C loops over the
str's code units: no regex, no split; literal children are compared in place
(a substring is only made for a dict lookup when a node has more than 8
literal children); only the winning route's parameter values are converted,
once, after the match. The ``allowed`` tuple is computed only when nothing
matched. ``find`` receives an already percent-decoded path.
"""
import functools
import inspect
import math
import uuid as _uuid_module
from decimal import Decimal
from urllib.parse import quote as _quote

cimport cython
from cpython.dict cimport PyDict_GetItem
from cpython.conversion cimport PyOS_string_to_double
from cpython.float cimport PyFloat_FromDouble
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.object cimport PyObject, PyObject_GenericSetAttr, PyTypeObject
from cpython.type cimport PyType_Modified
from cpython.tuple cimport PyTuple_GET_ITEM

from catzilla._core.httpsyntax cimport is_token
from catzilla.params cimport EndpointPlan
from catzilla.params import compile_endpoint
from catzilla.dependencies import Depends
from catzilla.includes.python cimport (PyUnicode_KIND, PyUnicode_DATA, PyUnicode_READ,
                                       PyUnicode_GET_LENGTH, PyUnicode_Tailmatch)

class RouteError(ValueError):
    """A route pattern, method or name is invalid or conflicts with another route."""


# segment kinds; the numeric order of the converter codes is not the
# precedence (that is fixed in _match), only an identifier
cdef enum:
    K_STATIC = 0
    K_INT = 1
    K_FLOAT = 2
    K_UUID = 3
    K_STR = 4
    K_PATH = 5
    K_SIGNED_INT = 6
    K_SIGNED_FLOAT = 7

_CONVERTERS = {"str": K_STR, "int": K_INT, "signed_int": K_SIGNED_INT, "float": K_FLOAT,
               "signed_float": K_SIGNED_FLOAT, "uuid": K_UUID, "path": K_PATH}
_CONVERTER_NAMES = {v: k for k, v in _CONVERTERS.items()}

# RFC 9110 methods, PATCH (RFC 5789) and the WebDAV methods (RFC 4918)
KNOWN_METHODS = frozenset((
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
))
# the order of the `allowed` tuple: the common methods first, then the rest
cdef tuple _ORDERED_METHODS = (
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
    "COPY", "LOCK", "MKCOL", "MOVE", "PROPFIND", "PROPPATCH", "UNLOCK",
)
assert set(_ORDERED_METHODS) == KNOWN_METHODS
# pchar minus '%' (quote() always keeps ASCII letters, digits and "_.-~")
_SEGMENT_SAFE = "!$&'()*+,;=:@"
_PATH_SAFE = _SEGMENT_SAFE + "/"

cdef object _UUID = _uuid_module.UUID
cdef object _iscoroutinefunction = inspect.iscoroutinefunction
cdef object _partial = functools.partial


# ---------------------------------------------------------------------------
# per-character matchers over [start, end) of a str's code units

cdef inline bint _is_digit(Py_UCS4 c) noexcept nogil:
    return 48 <= c <= 57    # '0'..'9'


cdef inline bint _is_hex(Py_UCS4 c) noexcept nogil:
    return (48 <= c <= 57) or (97 <= c <= 102) or (65 <= c <= 70)


cdef bint _match_int(unsigned int kind, void *data, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t i
    if end <= start:
        return False
    for i in range(start, end):
        if not _is_digit(PyUnicode_READ(kind, data, i)):
            return False
    return True


cdef bint _match_float(unsigned int kind, void *data, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t i = start, frac
    while i < end and _is_digit(PyUnicode_READ(kind, data, i)):
        i += 1
    if i == start:
        return False
    if i == end:
        return True
    if PyUnicode_READ(kind, data, i) != 46:    # '.'
        return False
    i += 1
    frac = i
    while i < end and _is_digit(PyUnicode_READ(kind, data, i)):
        i += 1
    return i > frac and i == end


cdef inline Py_ssize_t _unsigned(unsigned int kind, void *data, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    """start, past one leading '-' (the signed converters: the rest must match unsigned)."""
    if start < end and PyUnicode_READ(kind, data, start) == 45:    # '-'
        return start + 1
    return start


cdef bint _match_uuid(unsigned int kind, void *data, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    if end - start != 36:
        return False
    for i in range(36):
        c = PyUnicode_READ(kind, data, start + i)
        if i == 8 or i == 13 or i == 18 or i == 23:
            if c != 45:    # '-'
                return False
        elif not _is_hex(c):
            return False
    return True


cdef object _int_value(str path, unsigned int kind, void *data, Py_ssize_t start, Py_ssize_t end):
    cdef long long v = 0
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    if end - start <= 18:    # fits a signed 64-bit integer
        for i in range(start, end):
            c = PyUnicode_READ(kind, data, i)
            v = v * 10 + <long long>c - 48
        return PyLong_FromLongLong(v)
    return int(path[start:end])


cdef object _float_value(str path, unsigned int kind, void *data, Py_ssize_t start, Py_ssize_t end):
    # the matcher has checked [0-9]+(.[0-9]+)?: plain ASCII, so copy it to a C
    # buffer and use CPython's locale-independent, correctly rounded parser
    cdef char buf[64]
    cdef Py_ssize_t i, length = end - start
    if length >= 64:
        return float(path[start:end])
    for i in range(length):
        buf[i] = <char>PyUnicode_READ(kind, data, start + i)
    buf[length] = 0
    return PyFloat_FromDouble(PyOS_string_to_double(buf, NULL, NULL))


cdef inline unsigned int _hex_value(Py_UCS4 c) noexcept nogil:
    if c <= 57:
        return <unsigned int>c - 48
    if c <= 70:
        return <unsigned int>c - 55
    return <unsigned int>c - 87


cdef bint _fast_uuid = False     # set at import by _check_fast_uuid()
cdef object _SAFE_UNKNOWN = _uuid_module.SafeUUID.unknown
cdef tuple _EMPTY_TUPLE = ()


cdef object _uuid_value(str path, unsigned int kind, void *data, Py_ssize_t start, Py_ssize_t end):
    # uuid.UUID(text) re-parses in Python (~1 us); the matcher has already
    # checked the 8-4-4-4-12 hex form, so build the 128-bit int here and fill
    # the instance's two slots the way UUID.__init__ does. Only used when the
    # import-time self-check proved the result identical to UUID(text).
    cdef unsigned long long hi = 0, lo = 0
    cdef Py_ssize_t i
    cdef int ndigits = 0
    cdef Py_UCS4 c
    if not _fast_uuid:
        return _UUID(path[start:end])
    for i in range(start, end):
        c = PyUnicode_READ(kind, data, i)
        if c == 45:    # '-'
            continue
        if ndigits < 16:
            hi = (hi << 4) | _hex_value(c)
        else:
            lo = (lo << 4) | _hex_value(c)
        ndigits += 1
    value = (PyLong_FromUnsignedLongLong(hi) << 64) | PyLong_FromUnsignedLongLong(lo)
    u = (<PyTypeObject*>_UUID).tp_new(_UUID, <PyObject*>_EMPTY_TUPLE, NULL)
    PyObject_GenericSetAttr(u, "int", value)
    PyObject_GenericSetAttr(u, "is_safe", _SAFE_UNKNOWN)
    return u


def _check_fast_uuid():
    """Enable the fast UUID construction only if it matches uuid.UUID exactly."""
    global _fast_uuid
    _fast_uuid = False
    samples = ("00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
               "12345678-9abc-DEF0-1234-56789abcdef0", str(_uuid_module.uuid4()))
    try:
        for text in samples:
            ref = _UUID(text)
            _fast_uuid = True
            got = _uuid_value(text, PyUnicode_KIND(text), PyUnicode_DATA(text), 0, len(text))
            _fast_uuid = False
            if (type(got) is not _UUID or got != ref or hash(got) != hash(ref)
                    or str(got) != str(ref) or got.is_safe != ref.is_safe
                    or got.version != ref.version):
                return False
    except Exception:
        _fast_uuid = False
        return False
    _fast_uuid = True
    return True


_check_fast_uuid()


cdef bint _value_matches(int conv, str s):
    """Whether the whole of s is accepted by converter conv (reverse routing)."""
    cdef unsigned int kind = PyUnicode_KIND(s)
    cdef void *data = PyUnicode_DATA(s)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(s)
    if conv == K_INT:
        return _match_int(kind, data, 0, n)
    if conv == K_FLOAT:
        return _match_float(kind, data, 0, n)
    if conv == K_SIGNED_INT:
        return _match_int(kind, data, _unsigned(kind, data, 0, n), n)
    if conv == K_SIGNED_FLOAT:
        return _match_float(kind, data, _unsigned(kind, data, 0, n), n)
    if conv == K_UUID:
        return _match_uuid(kind, data, 0, n)
    if conv == K_STR:
        return n > 0 and "/" not in s
    return n > 0    # K_PATH


# ---------------------------------------------------------------------------
# tree nodes

cdef class _Leaf:
    def __cinit__(self):
        self.table = {}
        self.explicit = {}


cdef class _Node:
    def __cinit__(self):
        self.static_map = {}
        self.static_keys = ()
        self.static_nodes = ()
        self.n_static = 0


cdef inline _Node _static_child(_Node node, str path, Py_ssize_t start, Py_ssize_t end):
    cdef Py_ssize_t i, length = end - start
    cdef object key
    cdef PyObject *hit
    if node.n_static <= 8:
        # compare in place: no substring is created
        for i in range(node.n_static):
            key = <object>PyTuple_GET_ITEM(node.static_keys, i)
            if PyUnicode_GET_LENGTH(key) == length and PyUnicode_Tailmatch(path, key, start, end, -1):
                return <_Node>PyTuple_GET_ITEM(node.static_nodes, i)
        return None
    hit = PyDict_GetItem(node.static_map, path[start:end])
    if hit is NULL:
        return None
    return <_Node>hit


cdef inline Route _leaf_route(_Leaf leaf, object method):
    cdef PyObject *hit
    if leaf is None:
        return None
    hit = PyDict_GetItem(leaf.table, method)
    if hit is NULL:
        return None
    return <Route>hit


cdef Route _match(_Node node, str path, unsigned int kind, void *data, Py_ssize_t pos,
                  Py_ssize_t n, object method, Py_ssize_t *starts, Py_ssize_t *ends,
                  Py_ssize_t depth):
    """Depth-first search for the first route (by precedence) with `method`.

    `pos` indexes the '/' that opens the next segment, or equals n at the end.
    The bounds of each parameter are recorded in starts/ends[depth]; values are
    converted by the caller once a route has won.
    """
    cdef Py_ssize_t start, end
    cdef _Node child
    cdef Route r
    if pos == n:
        return _leaf_route(node.leaf, method)
    start = pos + 1
    end = start
    while end < n and PyUnicode_READ(kind, data, end) != 47:    # '/'
        end += 1
    if node.n_static:
        child = _static_child(node, path, start, end)
        if child is not None:
            r = _match(child, path, kind, data, end, n, method, starts, ends, depth)
            if r is not None:
                return r
    if end > start and depth < CZ_ROUTER_MAX_PARAMS:
        starts[depth] = start
        ends[depth] = end
        if node.int_child is not None and _match_int(kind, data, start, end):
            r = _match(node.int_child, path, kind, data, end, n, method, starts, ends, depth + 1)
            if r is not None:
                return r
        if node.signed_int_child is not None and _match_int(kind, data, _unsigned(kind, data, start, end), end):
            r = _match(node.signed_int_child, path, kind, data, end, n, method, starts, ends, depth + 1)
            if r is not None:
                return r
        if node.float_child is not None and _match_float(kind, data, start, end):
            r = _match(node.float_child, path, kind, data, end, n, method, starts, ends, depth + 1)
            if r is not None:
                return r
        if node.signed_float_child is not None and _match_float(kind, data, _unsigned(kind, data, start, end), end):
            r = _match(node.signed_float_child, path, kind, data, end, n, method, starts, ends, depth + 1)
            if r is not None:
                return r
        if node.uuid_child is not None and _match_uuid(kind, data, start, end):
            r = _match(node.uuid_child, path, kind, data, end, n, method, starts, ends, depth + 1)
            if r is not None:
                return r
        if node.str_child is not None:
            r = _match(node.str_child, path, kind, data, end, n, method, starts, ends, depth + 1)
            if r is not None:
                return r
    if node.path_leaf is not None and n > start and depth < CZ_ROUTER_MAX_PARAMS:
        r = _leaf_route(node.path_leaf, method)
        if r is not None:
            starts[depth] = start
            ends[depth] = n
            return r
    return None


cdef int _collect(_Node node, str path, unsigned int kind, void *data, Py_ssize_t pos,
                  Py_ssize_t n, set out) except -1:
    """Add to `out` the methods of every pattern that matches path (405 path)."""
    cdef Py_ssize_t start, end
    cdef _Node child
    if pos == n:
        if node.leaf is not None:
            out.update(node.leaf.table)
        return 0
    start = pos + 1
    end = start
    while end < n and PyUnicode_READ(kind, data, end) != 47:
        end += 1
    if node.n_static:
        child = _static_child(node, path, start, end)
        if child is not None:
            _collect(child, path, kind, data, end, n, out)
    if end > start:
        if node.int_child is not None and _match_int(kind, data, start, end):
            _collect(node.int_child, path, kind, data, end, n, out)
        if node.signed_int_child is not None and _match_int(kind, data, _unsigned(kind, data, start, end), end):
            _collect(node.signed_int_child, path, kind, data, end, n, out)
        if node.float_child is not None and _match_float(kind, data, start, end):
            _collect(node.float_child, path, kind, data, end, n, out)
        if node.signed_float_child is not None and _match_float(kind, data, _unsigned(kind, data, start, end), end):
            _collect(node.signed_float_child, path, kind, data, end, n, out)
        if node.uuid_child is not None and _match_uuid(kind, data, start, end):
            _collect(node.uuid_child, path, kind, data, end, n, out)
        if node.str_child is not None:
            _collect(node.str_child, path, kind, data, end, n, out)
    if node.path_leaf is not None and n > start:
        out.update(node.path_leaf.table)
    return 0


cdef dict _build_params(Route route, str path, unsigned int kind, void *data,
                        Py_ssize_t *starts, Py_ssize_t *ends):
    cdef dict params = {}
    cdef tuple names = route.param_names
    cdef Py_ssize_t i, s, e
    cdef int conv
    cdef object value
    for i in range(route._nparams):
        s = starts[i]
        e = ends[i]
        conv = route._convs[i]
        if conv == K_STR or conv == K_PATH:
            value = path[s:e]
        elif conv == K_INT:
            value = _int_value(path, kind, data, s, e)
        elif conv == K_FLOAT or conv == K_SIGNED_FLOAT:    # the C parser reads the sign
            value = _float_value(path, kind, data, s, e)
        elif conv == K_SIGNED_INT:
            value = _int_value(path, kind, data, _unsigned(kind, data, s, e), e)
            if s < e and PyUnicode_READ(kind, data, s) == 45:    # '-'
                value = -value
        else:
            value = _uuid_value(path, kind, data, s, e)
        params[<object>PyTuple_GET_ITEM(names, i)] = value
    return params


# ---------------------------------------------------------------------------
# definition-time helpers (plain Python speed is fine here)

@cython.wraparound(True)
cdef tuple _normalize_methods(methods, str path):
    if isinstance(methods, str):
        methods = (methods,)
    try:
        items = list(methods)
    except TypeError:
        raise TypeError(
            f"route {path!r}: methods must be a str or an iterable of str, "
            f"got {type(methods).__name__}") from None
    if not items:
        raise RouteError(f"route {path!r}: no HTTP method given")
    out = []
    for m in items:
        if not isinstance(m, str):
            raise TypeError(f"route {path!r}: HTTP method must be a str, got {m!r}")
        if not m:
            raise RouteError(f"route {path!r}: empty HTTP method")
        if not is_token(m):
            raise RouteError(f"route {path!r}: invalid HTTP method token {m!r}")
        m = m.upper()
        if m not in KNOWN_METHODS:
            raise RouteError(
                f"route {path!r}: unknown HTTP method {m!r} "
                f"(known: {', '.join(_ORDERED_METHODS)})")
        if m not in out:
            out.append(m)
    return tuple(out)


@cython.wraparound(True)
cdef tuple _parse_pattern(str full):
    """-> (segments, param_names, converter codes); raises RouteError."""
    if not full.startswith("/"):
        raise RouteError(f"route path {full!r} must start with '/'")
    parts = full[1:].split("/")
    last = len(parts) - 1
    segments = []
    names = []
    convs = []
    for i, seg in enumerate(parts):
        depth = 0
        opens = 0
        for c in seg:
            if c == "{":
                depth += 1
                opens += 1
                if depth > 1:
                    raise RouteError(f"route path {full!r}: nested braces in segment {seg!r}")
            elif c == "}":
                depth -= 1
                if depth < 0:
                    raise RouteError(f"route path {full!r}: unbalanced braces in segment {seg!r}")
        if depth != 0:
            raise RouteError(f"route path {full!r}: unbalanced braces in segment {seg!r}")
        if opens == 0:
            if not seg and i != last:
                raise RouteError(f"route path {full!r}: empty segment ('//')")
            segments.append((K_STATIC, seg))
            continue
        if opens > 1 or not (seg.startswith("{") and seg.endswith("}")):
            raise RouteError(
                f"route path {full!r}: a parameter must be a whole segment like "
                f"'{{name}}' or '{{name:int}}', got {seg!r}")
        name, colon, conv_name = seg[1:len(seg) - 1].partition(":")
        if not name.isidentifier():
            raise RouteError(f"route path {full!r}: invalid parameter name {name!r}")
        if colon:
            if conv_name not in _CONVERTERS:
                raise RouteError(
                    f"route path {full!r}: unknown converter {conv_name!r} for "
                    f"parameter {name!r} (known: {', '.join(_CONVERTERS)})")
        else:
            conv_name = "str"
        if name in names:
            raise RouteError(f"route path {full!r}: duplicate parameter name {name!r}")
        conv = _CONVERTERS[conv_name]
        if conv == K_PATH and i != last:
            raise RouteError(
                f"route path {full!r}: the path converter ({{{name}:path}}) must be the last segment")
        if len(names) >= CZ_ROUTER_MAX_PARAMS:
            raise RouteError(
                f"route path {full!r}: more than {CZ_ROUTER_MAX_PARAMS} parameters")
        segments.append((conv, name))
        names.append(name)
        convs.append(conv)
    return tuple(segments), tuple(names), tuple(convs)


cdef int _check_prefix(str prefix, str what) except -1:
    if not prefix:
        return 0
    if not prefix.startswith("/"):
        raise RouteError(f"{what} {prefix!r} must start with '/'")
    if prefix.endswith("/"):
        raise RouteError(f"{what} {prefix!r} must not end with '/'")
    _parse_pattern(prefix)
    return 0


cdef object _unwrap_partial(object fn):
    while isinstance(fn, _partial):
        fn = fn.func
    return fn


cdef bint _detect_async(object endpoint) except -1:
    fn = _unwrap_partial(endpoint)
    if _iscoroutinefunction(fn):
        return True
    if isinstance(fn, type) or inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        return False
    # a callable object: look at its bound __call__
    call = getattr(fn, "__call__", None)
    return call is not None and bool(_iscoroutinefunction(call))


cdef bint _detect_kwargs(object endpoint, tuple names) except -1:
    """Whether endpoint(request, **params) binds against the signature."""
    if not names:
        return False
    try:
        sig = inspect.signature(endpoint)
    except (TypeError, ValueError):
        return False
    try:
        sig.bind(None, **dict.fromkeys(names))
    except TypeError:
        return False
    return True


cdef str _default_name(object endpoint):
    fn = _unwrap_partial(endpoint)
    name = getattr(fn, "__name__", None)
    if isinstance(name, str) and name:
        return name
    return type(fn).__name__


cdef str _format_value(Route route, int conv, str pname, object value):
    """One parameter value as URL text for url_path_for()."""
    if conv == K_INT or conv == K_SIGNED_INT:
        if isinstance(value, int) and not isinstance(value, bool):
            s = str(value)
        elif isinstance(value, str):
            s = value
        else:
            raise RouteError(f"route {route.name!r}: parameter {pname!r} needs an int, got {value!r}")
    elif conv == K_FLOAT or conv == K_SIGNED_FLOAT:
        if isinstance(value, bool):
            raise RouteError(f"route {route.name!r}: parameter {pname!r} needs a float, got {value!r}")
        if isinstance(value, int):
            s = str(value)
        elif isinstance(value, float):
            s = format(Decimal(repr(value)), "f") if math.isfinite(value) else repr(value)
        elif isinstance(value, str):
            s = value
        else:
            raise RouteError(f"route {route.name!r}: parameter {pname!r} needs a float, got {value!r}")
    elif conv == K_UUID:
        if isinstance(value, _UUID):
            s = str(value)
        elif isinstance(value, str):
            s = value.lower()
        else:
            raise RouteError(f"route {route.name!r}: parameter {pname!r} needs a UUID, got {value!r}")
    else:
        s = value if isinstance(value, str) else str(value)
    if not _value_matches(conv, s):
        raise RouteError(
            f"route {route.name!r} ({route.path}): value {value!r} for parameter {pname!r} "
            f"does not match the {_CONVERTER_NAMES[conv]} converter")
    return _quote(s, safe=_PATH_SAFE if conv == K_PATH else _SEGMENT_SAFE)


# ---------------------------------------------------------------------------

cdef int _check_order(object path, object endpoint, str what) except -1:
    """TypeError for a call in the former order (methods, path, endpoint)."""
    cdef str problem
    if not isinstance(path, str):
        problem = f"path must be a str, got {path!r}"
    elif not path.startswith("/") and path.upper() in KNOWN_METHODS:
        problem = f"path {path!r} is an HTTP method"
    elif isinstance(endpoint, str):
        problem = f"route {path!r}: endpoint must be callable, got the str {endpoint!r}"
    else:
        return 0
    raise TypeError(f"{what}: {problem}; the arguments are (path, endpoint, methods=...), "
                    f"methods no longer come first")


cdef int _init_route(Route r, str full, tuple methods, object endpoint, str name,
                     object blocking, bint websocket=False, dict operation=None) except -1:
    """Check and fill a blank Route; on error nothing is assigned."""
    cdef Py_ssize_t i
    segments, names, convs = _parse_pattern(full)
    if not callable(endpoint):
        raise TypeError(f"route {full!r}: endpoint must be callable, got {endpoint!r}")
    if name is None:
        name = _default_name(endpoint)
    elif not name:
        raise RouteError(f"route {full!r}: route name must not be empty")
    if blocking is not None and blocking is not True and blocking is not False:
        raise TypeError(f"route {full!r}: blocking must be True, False or None, got {blocking!r}")
    is_async = _detect_async(endpoint)
    if is_async and blocking is True:
        raise TypeError(f"route {full!r}: blocking=True is for def endpoints, and "
                        f"{_default_name(endpoint)} is async def (it runs on the loop; make it a "
                        f"def to run it on the worker threads)")
    as_kwargs = _detect_kwargs(endpoint, names)
    if operation is None:
        operation = {}
    plan = compile_endpoint(endpoint, names, tuple(_CONVERTER_NAMES[c] for c in convs),
                            websocket=websocket, **operation)
    r.path = full
    r.methods = methods
    r.endpoint = endpoint
    r.name = name
    r.param_names = names
    r._segments = segments
    r._nparams = len(names)
    for i in range(r._nparams):
        r._convs[i] = convs[i]
    r.is_async = is_async
    r.blocking = blocking
    r.params_as_kwargs = as_kwargs
    r.plan = plan
    r.websocket = websocket
    r._operation = operation
    return 0


cdef tuple _dependency_list(object dependencies, str what):
    if dependencies is None:
        return ()
    if isinstance(dependencies, (str, bytes)) or not hasattr(dependencies, "__iter__"):
        raise TypeError(f"{what}: dependencies must be a list of Depends(...), got {dependencies!r}")
    out = tuple(dependencies)
    for d in out:
        if not isinstance(d, Depends):
            raise TypeError(f"{what}: dependencies must be a list of Depends(...), got {d!r}")
    return out


cdef Route _copy_route(Route route, str full, tuple dependencies=()):
    """route moved to the path `full` (params_as_kwargs recomputed for its
    parameters; the plan carried over unless a prefix added path parameters
    or `dependencies` -- the including routers', outermost first -- are added)."""
    cdef Route r = Route.__new__(Route)
    segments, names, convs = _parse_pattern(full)
    if dependencies:
        operation = dict(route._operation)
        operation["dependencies"] = list(dependencies) + list(operation.get("dependencies") or ())
        _init_route(r, full, route.methods, route.endpoint, route.name, route.blocking, route.websocket, operation)
    elif names == route.param_names:
        _init_route(r, full, route.methods, route.endpoint, route.name, route.blocking, route.websocket, None)
        r.plan = route.plan
        r._operation = route._operation
    else:
        _init_route(r, full, route.methods, route.endpoint, route.name, route.blocking, route.websocket,
                    route._operation)
    return r


cdef class Route:
    """``Route(path, endpoint, methods=("GET",), *, name=None, blocking=None, **options)``:
    one route, checked exactly as Router.add() checks it, read-only once made.
    Register it with Router.add_route() or Router(routes=[...]). `options` are
    the typed-endpoint keywords (response_model, status_code, responses,
    response_class, tags, summary, description, deprecated, operation_id,
    include_in_schema), kept on the route's plan; websocket=True: the endpoint
    of a WebSocket route (it is called with the WebSocket)."""

    def __init__(self, path, endpoint, methods=("GET",), *, str name=None, blocking=None,
                 bint websocket=False, **options):
        if self.path is not None:
            # routers hold this object in their tables: it must not change under them
            raise TypeError("a Route is read-only: __init__ cannot run twice")
        _check_order(path, endpoint, "Route")
        _init_route(self, path, _normalize_methods(methods, path), endpoint, name, blocking, websocket, options)

    @property
    def param_converters(self):
        """The converter name of each path parameter, in param_names' order."""
        return tuple(_CONVERTER_NAMES[self._convs[i]] for i in range(self._nparams))

    @property
    def template(self):
        """The path with its converters left out: "/items/{id:int}" -> "/items/{id}"."""
        return "/" + "/".join(text if kind == K_STATIC else "{" + text + "}" for kind, text in self._segments)

    def __repr__(self):
        extra = "" if self.blocking is None else f" blocking={self.blocking!r}"
        return f"<Route {','.join(self.methods or ())} {self.path!r} name={self.name!r}{extra}>"


@cython.freelist(16)
cdef class Match:
    """The result of Router.find(): ``route`` and ``params`` on a hit; otherwise
    route is None and ``allowed`` lists the methods the path accepts (``()``
    means 404, anything else 405). Made only by find()."""

    def __init__(self, *args, **kwargs):
        raise TypeError("Match objects are made by Router.find()")

    def __repr__(self):
        if self.route is not None:
            return f"<Match {self.route!r} params={self.params!r}>"
        return f"<Match allowed={self.allowed!r}>"


cdef Match _new_match(Route route, dict params, tuple allowed):
    # Match.__new__ compiles to a direct tp_new call, which takes from the freelist
    cdef Match m = Match.__new__(Match)
    m.route = route
    m.params = params
    m.allowed = allowed
    return m


cdef class Router:
    """Maps (method, path) to a Route. See the module docstring for the rules."""

    def __cinit__(self, *args, **kwargs):
        self.prefix = ""
        self._static = {}
        self._root = _Node()
        self._has_dynamic = False
        self._routes = []
        self._names = {}
        self.dependencies = ()

    def __init__(self, prefix="", *, routes=None, dependencies=None):
        """Router(prefix="", *, routes=None, dependencies=None): routes are Route
        objects, added with add_route() in order. dependencies: Depends(...)
        run for every route of this router (before the route's own; their
        values are not passed), and for the routes of routers it includes."""
        if not isinstance(prefix, str):
            raise TypeError(f"Router prefix must be a str, got {prefix!r} "
                            f"(routes are passed as Router(routes=[...]))")
        _check_prefix(prefix, "router prefix")
        self.prefix = prefix
        self.dependencies = _dependency_list(dependencies, "Router")
        if routes is not None:
            for route in routes:
                self.add_route(route)

    def __repr__(self):
        return f"<Router prefix={self.prefix!r} routes={len(self._routes)}>"

    @property
    def routes(self):
        """A list of every registered Route, in registration order."""
        return list(self._routes)

    # -- definition ---------------------------------------------------------

    cdef _Leaf _locate(self, tuple segments, str full, bint create):
        """The leaf for a pattern's shape (None if absent and not create)."""
        cdef _Node node, child
        cdef PyObject *hit
        cdef int kind
        if all(k == K_STATIC for k, _ in segments):
            hit = PyDict_GetItem(self._static, full)
            if hit is not NULL:
                return <_Leaf>hit
            if not create:
                return None
            leaf = _Leaf()
            self._static[full] = leaf
            return leaf
        node = self._root
        for kind, text in segments:
            if kind == K_STATIC:
                child = node.static_map.get(text)
                if child is None:
                    if not create:
                        return None
                    child = _Node()
                    node.static_map[text] = child
                    node.static_keys = tuple(node.static_map.keys())
                    node.static_nodes = tuple(node.static_map.values())
                    node.n_static = len(node.static_map)
            elif kind == K_PATH:
                if node.path_leaf is None:
                    if not create:
                        return None
                    node.path_leaf = _Leaf()
                    self._has_dynamic = True
                return node.path_leaf
            else:
                if kind == K_INT:
                    child = node.int_child
                elif kind == K_SIGNED_INT:
                    child = node.signed_int_child
                elif kind == K_FLOAT:
                    child = node.float_child
                elif kind == K_SIGNED_FLOAT:
                    child = node.signed_float_child
                elif kind == K_UUID:
                    child = node.uuid_child
                else:
                    child = node.str_child
                if child is None:
                    if not create:
                        return None
                    child = _Node()
                    if kind == K_INT:
                        node.int_child = child
                    elif kind == K_SIGNED_INT:
                        node.signed_int_child = child
                    elif kind == K_FLOAT:
                        node.float_child = child
                    elif kind == K_SIGNED_FLOAT:
                        node.signed_float_child = child
                    elif kind == K_UUID:
                        node.uuid_child = child
                    else:
                        node.str_child = child
            node = child
        if node.leaf is None:
            if not create:
                return None
            node.leaf = _Leaf()
            self._has_dynamic = True
        return node.leaf

    cdef int _check_conflict(self, Route route) except -1:
        cdef _Leaf leaf = self._locate(route._segments, route.path, False)
        if leaf is not None:
            for m in route.methods:
                if m in leaf.explicit:
                    raise RouteError(
                        f"route conflict: {m} {route.path!r} has the same shape as the "
                        f"already registered {m} {(<Route>leaf.explicit[m]).path!r}")
        return 0

    cdef Route _commit(self, Route route):
        cdef _Leaf leaf = self._locate(route._segments, route.path, True)
        for m in route.methods:
            leaf.explicit[m] = route
            leaf.table[m] = route
            if m == "GET" and "HEAD" not in leaf.explicit:
                leaf.table["HEAD"] = route
        self._routes.append(route)
        self._names.setdefault(route.name, []).append(route)
        return route

    def add(self, path, endpoint, methods=("GET",), *, str name=None, blocking=None, **options):
        """Register endpoint for methods (a str or an iterable of str) at path.

        path is relative to the router's prefix ("" means the prefix itself).
        blocking: True runs a def endpoint on the worker threads, False on the
        loop, None as the app's blocking_handlers setting says.
        Returns the Route. Raises RouteError for a bad pattern, method or a
        conflict with an existing route, TypeError for a non-callable endpoint,
        blocking=True on an async endpoint or arguments in the former order
        (methods, path, endpoint). `options`: the typed-endpoint keywords (see Route).
        """
        _check_order(path, endpoint, "Router.add")
        full = self.prefix + path
        if (path and not path.startswith("/")) or not full:
            raise RouteError(f"route path {path!r} must start with '/'")
        cdef Route route = Route.__new__(Route)
        if self.dependencies:
            options["dependencies"] = list(self.dependencies) + list(options.get("dependencies") or ())
        _init_route(route, full, _normalize_methods(methods, full), endpoint, name, blocking, False, options)
        self._check_conflict(route)
        return self._commit(route)

    def add_route(self, route):
        """Register a Route made with Route(...) under this router's prefix.

        Returns the registered Route: `route` itself when the router has no
        prefix, else a copy whose path carries the prefix. RouteError on a
        conflict.
        """
        if not isinstance(route, Route) or (<Route>route).path is None:
            raise TypeError(f"add_route() needs a Route made with Route(path, endpoint, ...), got {route!r}")
        cdef Route r = <Route>route
        if self.prefix or self.dependencies:
            r = _copy_route(r, self.prefix + r.path, self.dependencies)
        self._check_conflict(r)
        return self._commit(r)

    def route(self, str path not None, methods=("GET",), *, name=None, blocking=None, **options):
        """Decorator form of add(); returns the endpoint unchanged. `options`:
        response_model, status_code, responses, response_class, tags, summary,
        description, deprecated, operation_id, include_in_schema."""
        def decorator(endpoint):
            self.add(path, endpoint, methods, name=name, blocking=blocking, **options)
            return endpoint
        return decorator

    def get(self, str path not None, **options):
        return self.route(path, ("GET",), **options)

    def post(self, str path not None, **options):
        return self.route(path, ("POST",), **options)

    def put(self, str path not None, **options):
        return self.route(path, ("PUT",), **options)

    def patch(self, str path not None, **options):
        return self.route(path, ("PATCH",), **options)

    def delete(self, str path not None, **options):
        return self.route(path, ("DELETE",), **options)

    def head(self, str path not None, **options):
        return self.route(path, ("HEAD",), **options)

    def options(self, str path not None, **options):
        return self.route(path, ("OPTIONS",), **options)

    # `include` is a reserved word in Cython source (the include statement), so
    # the method is written as _include and published as Router.include below.
    def _include(self, Router other not None, str prefix="", *, dependencies=None):
        """Mount a copy of every route of `other` under this router's prefix + prefix.

        other's routes already carry other's own prefix and dependencies; this
        router's dependencies, then `dependencies`, run before them. The routes
        are copied at call time: routes added to `other` afterwards are not
        mounted. Either every route is mounted or, on error (RouteError), none is.
        """
        cdef Route r, copy
        if prefix is None:
            raise TypeError("include() prefix must be a str")
        _check_prefix(prefix, "include prefix")
        cdef tuple extra = self.dependencies + _dependency_list(dependencies, "include")
        cdef list copies = []
        cdef set seen = set()
        for r in list(other._routes):
            copy = _copy_route(r, self.prefix + prefix + r.path, extra)
            self._check_conflict(copy)
            # routes of `other` cannot conflict with each other, but check the
            # batch anyway (a router may be included into itself)
            for m in copy.methods:
                key = (m, tuple(k if k != K_STATIC else t for k, t in copy._segments))
                if key in seen:
                    raise RouteError(f"route conflict: {m} {copy.path!r} is included twice")
                seen.add(key)
            copies.append(copy)
        for copy in copies:
            self._commit(copy)

    # -- request time -------------------------------------------------------

    cpdef Match find(self, str method, str path):
        """The Match for method and path (already percent-decoded): route and
        params (None for a route without parameters) on a hit; otherwise route
        None and allowed, the methods the path accepts (empty: 404, else 405)."""
        cdef PyObject *hit
        cdef PyObject *hit2
        cdef Route route
        cdef unsigned int kind
        cdef void *data
        cdef Py_ssize_t n
        cdef Py_ssize_t starts[CZ_ROUTER_MAX_PARAMS]
        cdef Py_ssize_t ends[CZ_ROUTER_MAX_PARAMS]
        if method is None or path is None:
            raise TypeError("find() needs a str method and a str path")
        hit = PyDict_GetItem(self._static, path)
        if hit is not NULL:
            hit2 = PyDict_GetItem((<_Leaf>hit).table, method)
            if hit2 is not NULL:
                return _new_match(<Route>hit2, None, _EMPTY_TUPLE)
        if self._has_dynamic:
            n = PyUnicode_GET_LENGTH(path)
            if n:
                kind = PyUnicode_KIND(path)
                data = PyUnicode_DATA(path)
                if PyUnicode_READ(kind, data, 0) == 47:
                    route = _match(self._root, path, kind, data, 0, n, method, starts, ends, 0)
                    if route is not None:
                        return _new_match(route, _build_params(route, path, kind, data, starts, ends),
                                          _EMPTY_TUPLE)
        return _new_match(None, None, self._allowed(path))

    cdef tuple _allowed(self, str path):
        cdef set out = set()
        cdef PyObject *hit = PyDict_GetItem(self._static, path)
        cdef Py_ssize_t n
        cdef unsigned int kind
        cdef void *data
        if hit is not NULL:
            out.update((<_Leaf>hit).table)
        n = PyUnicode_GET_LENGTH(path)
        if self._has_dynamic and n:
            kind = PyUnicode_KIND(path)
            data = PyUnicode_DATA(path)
            if PyUnicode_READ(kind, data, 0) == 47:
                _collect(self._root, path, kind, data, 0, n, out)
        if not out:
            return ()
        # every registered method is one of _ORDERED_METHODS
        return tuple([m for m in _ORDERED_METHODS if m in out])

    def url_path_for(self, str name, /, **params):
        """The URL path of the route called `name` with `params` filled in.

        Values are checked against the converters and percent-encoded. When
        several routes share the name, the first registered one whose
        parameter names equal the given keywords is used. Raises RouteError.
        """
        cdef Route r
        routes = self._names.get(name)
        if not routes:
            raise RouteError(f"no route named {name!r}")
        given = set(params)
        for r in routes:
            if set(r.param_names) == given:
                break
        else:
            wanted = " or ".join(repr(sorted(x.param_names)) for x in routes)
            raise RouteError(
                f"route {name!r} takes parameters {wanted}, got {sorted(given)!r}")
        parts = []
        for kind, text in r._segments:
            if kind == K_STATIC:
                parts.append(_quote(text, safe=_SEGMENT_SAFE))
            else:
                parts.append(_format_value(r, kind, text, params[text]))
        return "/" + "/".join(parts)


cdef int _publish_alias(type cls, str alias, str existing) except -1:
    # Extension types are immutable from Python; write the type's own dict as
    # Cython does for class attributes, then invalidate the method cache.
    cdef dict d = <dict>(<PyTypeObject*>cls).tp_dict
    d[alias] = d[existing]
    PyType_Modified(cls)
    return 0


_publish_alias(Router, "include", "_include")
