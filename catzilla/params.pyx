"""Typed endpoints: parameter markers and the plan compiled from a signature.

    @app.get("/search")
    def search(request, q: str, limit: int = Query(10, ge=1, le=100),
               tags: list[str] = Query([]), x_token: str | None = Header(None)): ...

`compile_endpoint` reads a handler's signature once, when its route is
registered, into an `EndpointPlan`: for each parameter where its value comes
from (path, query, header, cookie, the JSON body, a form field or file, the
request or WebSocket itself) and how it is converted and checked. A request
runs the plan and nothing else: scalars (str, int, float, bool) are converted
and their constraints (gt/ge/lt/le/multiple_of/min_length/max_length/pattern)
checked here in compiled code; other types (UUID, dates, Decimal, Enum,
Literal, unions...) go through the model engine's codec; a JSON body is
decoded and validated in one pass from the request bytes. Every failing
parameter is collected into one RequestValidationError (422 by default).

Classification, FastAPI's rules: a name of the route's path is a path
parameter; a marker (Query, Path, Header, Cookie, Body, Form, File), given as
the default or inside Annotated, says the source; an annotation that is a
model (catzilla.models.is_model) is the body; any other annotation is a query
parameter. The first parameter is the request when it has no annotation or is
annotated Request (or Any: 0.2.3's `def h(request, q: str = Query(...))`); a
parameter annotated Request anywhere gets it too. One model parameter is the
whole body; several body parameters, or Body(embed=True), are embedded by
name. A parameter annotated BackgroundTasks collects functions run once the
response is sent. An endpoint with nothing typed (`def h(request)`, untyped
path parameters) gets no plan: it runs as it always did.

The plan also turns the return value into the response: a Response as it is;
through the response model (response_model=, or a return annotation naming a
model) when there is one, so fields it omits never leave; models, dataclasses,
dicts and lists as JSON (catzilla.models.encode_json); status_code= and
response_class= applied; a generator typed `-> AsyncIterable[Item]` as JSON
Lines, or SSE with response_class=EventSourceResponse (the stream responses
frame the items).
"""
import asyncio
import copy as _copy
import datetime as _datetime
import decimal as _decimal
import enum
import uuid as _uuid
import inspect
import types
import typing
from collections import abc as _abc
from functools import partial as _partial

from cpython.dict cimport PyDict_GetItem
from cpython.float cimport PyFloat_FromString
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_FromLongLong
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE

from catzilla.includes.python cimport (PyCoro_CheckExact, PyUnicode_KIND, PyUnicode_DATA, PyUnicode_READ,
                                       PyUnicode_GET_LENGTH)
from catzilla.datastructures cimport UploadFile, _MultiMapping
from catzilla.dependencies cimport (BackgroundTasks, Depends, RequestExit, Security, finish_sync_exits,
                                    request_exit)
from catzilla.request cimport Request
from catzilla.response cimport Response, StreamingResponse

from catzilla.exceptions import RequestValidationError
from catzilla.response import JSONResponse, PlainTextResponse
from catzilla.request import Request as _RequestClass
from catzilla.sse import EventSourceResponse, ServerSentEvent

import msgspec as _msgspec

from catzilla.models cimport Codec, FieldInfo, codec, encode_json, is_model, pattern_of, renamed_option
from catzilla.models import ValidationError
from catzilla.dependencies import finish_exits, get_service

__all__ = ["Param", "Query", "Path", "Header", "Cookie", "Body", "Form", "File", "UploadFile",
           "ParamSpec", "BodySpec", "Dependant", "EndpointPlan", "compile_endpoint", "register_connection_class"]


cdef object _UNSET = _msgspec.NODEFAULT     # no default given: required (FieldInfo's sentinel)
cdef object _MISSING = object()      # a value absent from the request
cdef object _INVALID = object()      # a value that failed (its errors are collected)
cdef object _EMPTY = inspect.Parameter.empty


# ---------------------------------------------------------------------------
# markers

cdef class Param(FieldInfo):
    """A parameter marker: FastAPI's, a FieldInfo (default, constraints,
    documentation) that also says where the value comes from. No default (or
    `...`) makes the parameter required. regex and example are FastAPI's former
    names of pattern and examples; other keywords go to json_schema_extra."""

    def __init__(self, default=_UNSET, *, default_factory=None, alias=None, title=None,
                 description=None, gt=None, ge=None, lt=None, le=None, multiple_of=None,
                 min_length=None, max_length=None, pattern=None, regex=None, examples=None,
                 example=_UNSET, deprecated=None, include_in_schema=True, json_schema_extra=None,
                 **extra):
        pattern = renamed_option(pattern, "pattern", regex, "regex")    # FastAPI's (and 0.2.3's) former name
        if example is not _UNSET and examples is None:
            examples = [example]
        FieldInfo.__init__(self, default, default_factory=default_factory, alias=alias, title=title,
                           description=description, gt=gt, ge=ge, lt=lt, le=le, multiple_of=multiple_of,
                           min_length=min_length, max_length=max_length, pattern=pattern, examples=examples,
                           deprecated=deprecated, json_schema_extra=dict(json_schema_extra or {}, **extra) or None)
        self.include_in_schema = include_in_schema
        if self.source is None:
            self.source = "query"

    @property
    def required(self):
        return self.is_required()

    def __repr__(self):
        return f"{type(self).__name__}({'...' if self.default is _UNSET else repr(self.default)})"


cdef class Query(Param):
    """A query-string parameter: ?name=value (list types take every repeated key)."""

    def __init__(self, default=_UNSET, **options):
        self.source = "query"
        Param.__init__(self, default, **options)


cdef class Path(Param):
    """A path parameter: its name (or alias) must be a parameter of the route."""

    def __init__(self, default=_UNSET, **options):
        self.source = "path"
        Param.__init__(self, default, **options)


cdef class Header(Param):
    """A request header: `x_token` reads X-Token (convert_underscores), any case."""

    def __init__(self, default=_UNSET, *, bint convert_underscores=True, **options):
        self.source = "header"
        self.convert_underscores = convert_underscores
        Param.__init__(self, default, **options)


cdef class Cookie(Param):
    """A cookie of the request's Cookie header."""

    def __init__(self, default=_UNSET, **options):
        self.source = "cookie"
        Param.__init__(self, default, **options)


cdef class Body(Param):
    """The JSON body, or (embed=True, or several body parameters) one key of it."""

    def __init__(self, default=_UNSET, *, bint embed=False, str media_type="application/json", **options):
        if self.source is None:
            self.source = "body"
        self.embed = embed
        self.media_type = media_type
        Param.__init__(self, default, **options)


cdef class Form(Body):
    """A field of a form body (urlencoded or multipart/form-data)."""

    def __init__(self, default=_UNSET, *, str media_type="application/x-www-form-urlencoded", **options):
        if self.source is None:
            self.source = "form"
        Body.__init__(self, default, embed=True, media_type=media_type, **options)


cdef class File(Form):
    """A file part of a multipart/form-data body (UploadFile, bytes, or a list of them)."""

    def __init__(self, default=_UNSET, *, str media_type="multipart/form-data", **options):
        self.source = "file"
        Form.__init__(self, default, media_type=media_type, **options)


# ---------------------------------------------------------------------------
# errors, in pydantic v2's shape

cdef enum:
    S_PATH = 0
    S_QUERY = 1
    S_HEADER = 2
    S_COOKIE = 3
    S_BODY = 4
    S_FORM = 5
    S_FILE = 6

cdef enum:
    K_ANY = 0        # passed as received (unannotated)
    K_STR = 1
    K_INT = 2
    K_FLOAT = 3
    K_BOOL = 4
    K_CODEC = 5      # through models.codec(annotation).convert(value, from_strings=True)
    K_UPLOAD = 6     # an UploadFile
    K_BYTES = 7      # a file's (or field's) content as bytes

cdef dict _SOURCES = {"path": S_PATH, "query": S_QUERY, "header": S_HEADER, "cookie": S_COOKIE,
                      "body": S_BODY, "form": S_FORM, "file": S_FILE}
# FastAPI's loc for form fields and files is the body
cdef tuple _LOC_SOURCE = ("path", "query", "header", "cookie", "body", "body", "body")

cdef dict _BOOLS = {"0": False, "off": False, "f": False, "false": False, "n": False, "no": False,
                    "1": True, "on": True, "t": True, "true": True, "y": True, "yes": True}


cdef inline dict _error(str typ, tuple loc, str msg, object inp, dict ctx):
    cdef dict e = {"type": typ, "loc": loc, "msg": msg, "input": inp}
    if ctx is not None:
        e["ctx"] = ctx
    return e


cdef str _num(object v):
    return repr(v) if isinstance(v, float) else str(v)


cdef int _engine_errors(list errors, tuple loc, object exc) except -1:
    """The errors of a models.ValidationError, their loc put under `loc`."""
    for e in exc.errors():
        e = dict(e)
        e["loc"] = loc + tuple(e.get("loc") or ())
        errors.append(e)
    return 0


cdef bytes validation_body(object exc):
    errors = exc.errors()
    try:
        return encode_json({"detail": errors})
    except (TypeError, ValueError):
        # an input the encoder cannot render (an object a codec saw): shown as text
        return encode_json({"detail": [{k: (v if k != "input" else repr(v)) for k, v in dict(e).items()}
                                       for e in errors]})


# ---------------------------------------------------------------------------
# scalar conversion (compiled; pydantic v2's lax rules for strings)

cdef inline bint _space(unsigned int c) noexcept:
    return c == 32 or c == 9 or c == 10 or c == 13


cdef object _parse_int(str s):
    """int from str, or _INVALID: optional sign, ASCII digits, surrounding
    whitespace; a fraction of zeros ("5.0") is accepted as pydantic does."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(s), i = 0, start, digits = 0
    cdef unsigned int kind = PyUnicode_KIND(s)
    cdef void *data = PyUnicode_DATA(s)
    cdef unsigned int c
    cdef long long v = 0
    cdef bint neg = False
    while n > 0 and _space(PyUnicode_READ(kind, data, n - 1)):
        n -= 1
    while i < n and _space(PyUnicode_READ(kind, data, i)):
        i += 1
    if i < n:
        c = PyUnicode_READ(kind, data, i)
        if c == 45 or c == 43:      # '-' '+'
            neg = c == 45
            i += 1
    start = i
    while i < n:
        c = PyUnicode_READ(kind, data, i)
        if c < 48 or c > 57:
            break
        if digits < 18:
            v = v * 10 + <long long>(c - 48)
        digits += 1
        i += 1
    if digits == 0:
        return _INVALID
    if i < n:
        if PyUnicode_READ(kind, data, i) != 46:    # '.'
            return _INVALID
        i += 1
        while i < n and PyUnicode_READ(kind, data, i) == 48:
            i += 1
        if i < n:
            return _INVALID
    if digits > 18:
        try:
            big = int(s[start:start + digits])
        except ValueError:                 # beyond the interpreter's int string limit
            return _INVALID
        return -big if neg else big
    return PyLong_FromLongLong(-v if neg else v)


cdef object _parse_float(str s):
    try:
        return PyFloat_FromString(s)
    except ValueError:
        return _INVALID


cdef class ParamSpec:
    """One parameter of a plan (read-only): name, source, key (the wire name),
    annotation, required, default, info (the marker or None), is_list."""

    def __repr__(self):
        return f"<ParamSpec {self.source} {self.key!r} -> {self.name}: {self.annotation!r}>"

    cdef object missing(self, list errors):
        """The value of an absent parameter: its default, or a `missing` error."""
        if self.required:
            errors.append(_error("missing", self.loc, "Field required", None, None))
            return _INVALID
        if self.factory is not None:
            return self.factory()
        if self.copy_default:
            return _copy.copy(self.default)
        return self.default

    cdef object value(self, object raw, tuple loc, list errors):
        """raw (a str, a list of them from repeated keys, a router-converted value
        or an UploadFile) converted and checked; _INVALID once its errors are in
        `errors`."""
        cdef list out
        cdef Py_ssize_t i, n, before
        cdef object v
        if self.kind == K_CODEC:
            try:
                v = self.codec.convert(raw, True)
            except ValidationError as exc:
                _engine_errors(errors, loc, exc)
                return _INVALID
            if not self.checks:
                return v
            if self.is_list:
                return self.check_len(v, loc, errors)
            return self.check(v, raw, loc, errors)
        if not self.is_list:
            return self.one(raw, loc, errors)
        n = len(raw)
        out = [None] * n
        before = len(errors)
        for i in range(n):
            v = self.one(raw[i], loc + (i,), errors)
            out[i] = v
        if len(errors) != before:
            return _INVALID
        return self.check_len(out, loc, errors)

    cdef object check_len(self, list out, tuple loc, list errors):
        """min_length/max_length of a list parameter (too_short / too_long)."""
        cdef Py_ssize_t n = len(out)
        raw = out
        if self.min_length >= 0 and n < self.min_length:
            errors.append(_error("too_short", loc,
                                 f"List should have at least {self.min_length} item{'' if self.min_length == 1 else 's'} "
                                 f"after validation, not {n}", raw,
                                 {"field_type": "List", "min_length": self.min_length, "actual_length": n}))
            return _INVALID
        if self.max_length >= 0 and n > self.max_length:
            errors.append(_error("too_long", loc,
                                 f"List should have at most {self.max_length} item{'' if self.max_length == 1 else 's'} "
                                 f"after validation, not {n}", raw,
                                 {"field_type": "List", "max_length": self.max_length, "actual_length": n}))
            return _INVALID
        return out

    cdef object one(self, object raw, tuple loc, list errors):
        cdef int kind = self.kind
        cdef object v
        cdef PyObject *hit
        if kind == K_STR:
            if type(raw) is not str:
                if isinstance(raw, UploadFile):
                    errors.append(_error("string_type", loc, "Input should be a valid string", repr(raw), None))
                    return _INVALID
                raw = str(raw)                    # a router-converted path value
            if self.checks:
                return self.check_str(<str>raw, loc, errors)
            return raw
        if kind == K_INT:
            if type(raw) is int:
                v = raw
            elif type(raw) is str:
                v = _parse_int(<str>raw)
                if v is _INVALID:
                    errors.append(_error("int_parsing", loc,
                                         "Input should be a valid integer, unable to parse string as an integer",
                                         raw, None))
                    return _INVALID
            else:
                errors.append(_error("int_type", loc, "Input should be a valid integer", _shown(raw), None))
                return _INVALID
            if self.checks:
                return self.check(v, raw, loc, errors)
            return v
        if kind == K_FLOAT:
            if type(raw) is float:
                v = raw
            elif type(raw) is str:
                v = _parse_float(<str>raw)
                if v is _INVALID:
                    errors.append(_error("float_parsing", loc,
                                         "Input should be a valid number, unable to parse string as a number",
                                         raw, None))
                    return _INVALID
            elif type(raw) is int:
                v = float(raw)
            else:
                errors.append(_error("float_type", loc, "Input should be a valid number", _shown(raw), None))
                return _INVALID
            if self.checks:
                return self.check(v, raw, loc, errors)
            return v
        if kind == K_BOOL:
            if type(raw) is str:
                hit = PyDict_GetItem(_BOOLS, raw)
                if hit is NULL:
                    hit = PyDict_GetItem(_BOOLS, (<str>raw).strip().lower())
                if hit is not NULL:
                    return <object>hit
                errors.append(_error("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input",
                                     raw, None))
            else:
                errors.append(_error("bool_type", loc, "Input should be a valid boolean", _shown(raw), None))
            return _INVALID
        if kind == K_UPLOAD:
            if isinstance(raw, UploadFile):
                return raw
            errors.append(_error("value_error", loc, f"Value error, Expected UploadFile, received: {type(raw)}",
                                 raw, {"error": {}}))
            return _INVALID
        if kind == K_BYTES:
            if isinstance(raw, UploadFile):
                return bytes((<UploadFile>raw).read())
            if isinstance(raw, str):
                return (<str>raw).encode("utf-8")
            return bytes(raw)
        return raw                                # K_ANY

    cdef object check_str(self, str s, tuple loc, list errors):
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(s)
        cdef bint ok = True
        if self.min_length >= 0 and n < self.min_length:
            errors.append(_error("string_too_short", loc,
                                 f"String should have at least {self.min_length} character{'' if self.min_length == 1 else 's'}",
                                 s, {"min_length": self.min_length}))
            ok = False
        if self.max_length >= 0 and n > self.max_length:
            errors.append(_error("string_too_long", loc,
                                 f"String should have at most {self.max_length} character{'' if self.max_length == 1 else 's'}",
                                 s, {"max_length": self.max_length}))
            ok = False
        if ok and self.matcher is not None and not self.matcher.search(s):
            errors.append(_error("string_pattern_mismatch", loc, f"String should match pattern '{self.info.pattern}'",
                                 s, {"pattern": self.info.pattern}))
            ok = False
        return s if ok else _INVALID

    cdef object check(self, object v, object raw, tuple loc, list errors):
        """gt/ge/lt/le/multiple_of of a number (C doubles for int and float;
        the converted value's own comparison for other types)."""
        cdef double d
        cdef object info = self.info
        cdef int overflow = 0
        cdef bint native = self.kind == K_FLOAT
        if self.kind == K_INT:
            PyLong_AsLongLongAndOverflow(v, &overflow)
            native = overflow == 0               # an int beyond 64 bits: its own comparison below
        if native:
            d = v
            if self.has_gt and not d > self.gt:
                return _bound(errors, "greater_than", "greater than", "gt", info.gt, loc, raw)
            if self.has_ge and not d >= self.ge:
                return _bound(errors, "greater_than_equal", "greater than or equal to", "ge", info.ge, loc, raw)
            if self.has_lt and not d < self.lt:
                return _bound(errors, "less_than", "less than", "lt", info.lt, loc, raw)
            if self.has_le and not d <= self.le:
                return _bound(errors, "less_than_equal", "less than or equal to", "le", info.le, loc, raw)
        elif info is not None:
            if info.gt is not None and not v > info.gt:
                return _bound(errors, "greater_than", "greater than", "gt", info.gt, loc, raw)
            if info.ge is not None and not v >= info.ge:
                return _bound(errors, "greater_than_equal", "greater than or equal to", "ge", info.ge, loc, raw)
            if info.lt is not None and not v < info.lt:
                return _bound(errors, "less_than", "less than", "lt", info.lt, loc, raw)
            if info.le is not None and not v <= info.le:
                return _bound(errors, "less_than_equal", "less than or equal to", "le", info.le, loc, raw)
        if self.multiple_of is not None and not _is_multiple(v, self.multiple_of):
            errors.append(_error("multiple_of", loc, f"Input should be a multiple of {_num(self.multiple_of)}",
                                 _shown(raw), {"multiple_of": self.multiple_of}))
            return _INVALID
        return v


cdef object _bound(list errors, str typ, str words, str name, object bound, tuple loc, object v):
    errors.append(_error(typ, loc, f"Input should be {words} {_num(bound)}", _shown(v), {name: bound}))
    return _INVALID


cdef bint _is_multiple(object v, object m):
    if isinstance(v, int) and isinstance(m, int):
        return v % m == 0
    q = v / m
    return abs(q - round(q)) <= 1e-9 * max(1.0, abs(q))


cdef object _shown(object v):
    """An error's input: JSON-friendly (an UploadFile shown by its repr)."""
    if v is None or isinstance(v, (str, int, float, list, dict)):
        return v
    return str(v)


cdef class BodySpec:
    """The JSON body of a plan (read-only): annotation (the model type, or a
    synthesized msgspec Struct for embedded parameters), media_type, required,
    embed, params (the ParamSpecs it carries)."""

    def __repr__(self):
        return f"<BodySpec {self.annotation!r} embed={self.embed}>"


# ---------------------------------------------------------------------------
# response side

cdef Response _json(bytes body, int status):
    cdef Response r = JSONResponse.__new__(JSONResponse)
    r.status_code = status
    r.body = body
    r._ct = b"application/json"
    r._headers = []
    return r


cdef tuple _PASSTHROUGH = (_datetime.datetime, _datetime.date, _datetime.time, _datetime.timedelta,
                           _uuid.UUID, _decimal.Decimal, bytes, bytearray)


def _plain(obj):
    """to_builtins' hook: a pydantic model (or any object with model_dump) as its fields."""
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump()
    raise TypeError(f"cannot filter a {type(obj).__name__} through a response model")


cdef class _Invocation:
    """A def endpoint's call with its arguments, for a worker thread: the
    endpoint, its function-scoped dependencies' teardown, then its response."""
    cdef EndpointPlan plan
    cdef dict kwargs
    cdef _Solve solved                   # its dependencies, or None
    cdef RequestExit exit                # the request's, when it has one (see RequestExit.begin_call)

    def __call__(self, Request req):
        cdef bint began = False
        try:
            if self.exit is not None:
                self.exit.begin_call()
                began = True
            if self.kwargs is None:
                # a blocking route's sync dependencies are solved here too: they may block as it does
                self.kwargs = self.plan.solved_arguments(self.solved)
            result = self.plan.invoke(req, self.kwargs)
            if self.solved is not None:
                self.solved.returned()
            return self.plan.respond(result)
        except BaseException as exc:
            _failed(req, self.solved, exc)
            raise
        finally:
            if began:
                self.exit.end_call()


cdef _Invocation _invocation(EndpointPlan plan, Request req, dict kwargs, _Solve solved):
    """A blocking endpoint's call (kwargs None: its dependencies solved on the
    worker too): a hang-up while it runs waits for it before the request's
    teardown and background tasks (RequestExit.offloading)."""
    cdef _Invocation call = _Invocation.__new__(_Invocation)
    call.plan = plan
    call.kwargs = kwargs
    call.solved = solved
    if kwargs is None:
        request_exit(req)                # what the worker's dependencies enter: known to a hang-up now
    if req.exit is not None:
        call.exit = <RequestExit>req.exit
        call.exit.offloading()
    return call


cdef int _failed(Request req, _Solve solved, object exc) except -1:
    """The endpoint (or a dependency) raised: function-scoped dependencies get
    exc now, request-scoped ones once the response is over."""
    if solved is not None:
        solved.close_function_exits(exc)
    ex = req.exit
    if ex is not None and (<RequestExit>ex).exc is None:
        (<RequestExit>ex).exc = exc
    return 0


# ---------------------------------------------------------------------------
# dependencies, per request

cdef enum:
    D_CALL = 0          # a function or class: its return value
    D_CORO = 1          # async def: awaited
    D_GEN = 2           # a generator: what it yields; resumed at teardown
    D_AGEN = 3          # an async generator: likewise


cdef class _Solve:
    """One request's dependencies: the values (use_cache), the overrides in
    force, the function-scoped exits; the request-scoped ones go to `exit`
    (the request's RequestExit, or a WebSocket handler's own)."""
    cdef Request req
    cdef dict path
    cdef dict cache
    cdef dict overrides                  # app.dependency_overrides when not empty, else None
    cdef list fexits                     # function-scoped (generator, is_async), entered order
    cdef RequestExit exit                # None: the request's, made on first use

    cdef int entered(self, object gen, bint is_async, str scope) except -1:
        if scope == "function":
            if self.fexits is None:
                self.fexits = []
            self.fexits.append((gen, is_async))
        else:
            if self.exit is None:
                self.exit = request_exit(self.req)
            self.exit.enter(gen, is_async)
        return 0

    cdef int solve(self, EndpointPlan plan, dict kwargs, list errors) except -1:
        """Every dependency of plan, for a plan with nothing async (no overrides)."""
        cdef Dependant d
        for d in plan.dependencies:
            value = self.value(d, errors)
            if value is not _INVALID and d.name is not None:
                kwargs[d.name] = value
        return 0

    cdef object value(self, Dependant d, list errors):
        cdef PyObject *hit
        cdef Py_ssize_t before = len(errors)
        cdef dict kwargs
        if d.use_cache:
            hit = PyDict_GetItem(_singletons if d.singleton else self.cache, d.call)
            if hit is not NULL:
                return <object>hit
        kwargs = {}
        self.solve(d.plan, kwargs, errors)
        d.plan.fill(self.req, self.path, None, None, kwargs, errors)
        if len(errors) != before:
            return _INVALID
        value = self.entering(d, d.plan.invoke(self.req, kwargs))
        if d.use_cache:
            (_singletons if d.singleton else self.cache)[d.call] = value
        return value

    cdef object entering(self, Dependant d, object result):
        """A sync dependency's value: a generator is run to its yield (and kept for teardown)."""
        if d.kind != D_GEN:
            return result
        try:
            value = next(result)
        except StopIteration:
            raise RuntimeError(f"dependency {_qualname(d.call)} did not yield") from None
        self.entered(result, False, d.scope)
        return value

    async def solve_async(self, EndpointPlan plan, dict kwargs, list errors):
        cdef Dependant d
        for d in plan.dependencies:
            value = await self.value_async(d, errors)
            if value is not _INVALID and d.name is not None:
                kwargs[d.name] = value

    async def value_async(self, Dependant d, list errors):
        cdef Py_ssize_t before = len(errors)
        if self.overrides is not None:
            d = _overridden(d, self.overrides)
        cache = _singletons if d.singleton else self.cache
        if d.use_cache and d.call in cache:
            return cache[d.call]
        kwargs = {}
        await self.solve_async(d.plan, kwargs, errors)
        d.plan.fill(self.req, self.path, None, None, kwargs, errors)
        if len(errors) != before:
            return _INVALID
        result = d.plan.invoke(self.req, kwargs)
        if d.kind == D_CORO:
            value = await result
        elif d.kind == D_AGEN:
            try:
                value = await result.__anext__()
            except StopAsyncIteration:
                raise RuntimeError(f"dependency {_qualname(d.call)} did not yield") from None
            self.entered(result, True, d.scope)
        else:
            value = self.entering(d, result)
        if d.use_cache:
            cache[d.call] = value
        return value

    cdef int close_function_exits(self, object exc) except -1:
        """Sync function-scoped dependencies resumed here, last entered first
        (async ones: close_function_exits_async)."""
        if self.fexits:
            finish_sync_exits(self.fexits, exc, f"{self.req.method} {self.req.path}")
        return 0

    cdef int returned(self) except -1:
        return self.close_function_exits(None)

    async def close_function_exits_async(self, exc):
        if self.fexits:
            await finish_exits(self.fexits, exc, f"{self.req.method} {self.req.path}")


cdef _Solve _new_solve(Request req, dict path):
    cdef _Solve s = _Solve.__new__(_Solve)
    s.req = req
    s.path = path
    s.cache = {}
    app = req.app
    if app is not None:
        overrides = getattr(app, "dependency_overrides", None)
        if overrides:
            s.overrides = overrides
    return s


cdef dict _singletons = {}           # provider -> value: 0.2.3's singleton services, made at first use
cdef dict _override_plans = {}       # (override, path_info, use_cache, scope) -> its Dependant, compiled once


cdef Dependant _overridden(Dependant d, dict overrides):
    """The Dependant standing for d while app.dependency_overrides replaces d.call
    (compiled at the first request that sees the override, not per request)."""
    cdef PyObject *hit = PyDict_GetItem(overrides, d.call)
    cdef Dependant o
    if hit is NULL:
        return d
    # what it is compiled with: one override may stand for dependencies of
    # HTTP and WebSocket routes, request- and function-scoped, cached or not
    key = (<object>hit, d.plan.path_info, d.use_cache, d.scope)
    o = _override_plans.get(key)
    if o is None:
        names, converters, websocket = d.plan.path_info
        o = _dependant(Depends(<object>hit, use_cache=d.use_cache, scope=d.scope), d.name, None,
                       f"override of {_qualname(d.call)}", names, converters, websocket, ())
        _override_plans[key] = o
    return o


cdef class Dependant:
    """One Depends of a plan, compiled (read-only): call, name (the parameter,
    or None for a route's `dependencies=`), plan (its own parameters and
    sub-dependencies), use_cache, scope, scopes (Security's)."""

    def __repr__(self):
        return f"<Dependant {_qualname(self.call)} -> {self.name!r}>"


cdef class EndpointPlan:
    """What a typed endpoint's route runs per request (read-only):
    params (ParamSpecs), body (BodySpec or None), operation (the decorator
    keywords), response_type, stream (None or ("jsonl"|"sse", item type)),
    endpoint."""

    def __repr__(self):
        return (f"<EndpointPlan {getattr(self.endpoint, '__qualname__', self.endpoint)!r} "
                f"{len(self.params)} params{' + body' if self.body is not None else ''}>")

    cdef dict arguments(self, Request req, dict path, object form, object body):
        """The endpoint's keyword arguments; RequestValidationError with every
        failing parameter."""
        cdef dict kwargs = {}
        cdef list errors = []
        self.fill(req, path, form, body, kwargs, errors)
        if errors:
            raise RequestValidationError(errors, body=body)
        return kwargs

    cdef int fill(self, Request req, dict path, object form, object body, dict kwargs, list errors) except -1:
        cdef ParamSpec p
        cdef Py_ssize_t i, n = PyTuple_GET_SIZE(self.params)
        cdef object source = None, raw
        cdef object query = None, headers = None, cookies = None
        cdef PyObject *hit
        for i in range(n):
            p = <ParamSpec>PyTuple_GET_ITEM(self.params, i)
            if p.src == S_QUERY:
                if query is None:
                    query = req.query_params
                source = query
            elif p.src == S_PATH:
                raw = _MISSING
                if path is not None:
                    hit = PyDict_GetItem(path, p.key)
                    if hit is not NULL:
                        raw = <object>hit
                if raw is _MISSING:
                    raw = p.missing(errors)
                else:
                    raw = p.value(raw, p.loc, errors)
                if raw is not _INVALID:
                    kwargs[p.name] = raw
                continue
            elif p.src == S_HEADER:
                if headers is None:
                    headers = req.headers
                source = headers
            elif p.src == S_COOKIE:
                if cookies is None:
                    cookies = req.cookies
                hit = PyDict_GetItem(cookies, p.key)
                raw = p.missing(errors) if hit is NULL else p.value(<object>hit, p.loc, errors)
                if raw is not _INVALID:
                    kwargs[p.name] = raw
                continue
            else:                                   # S_FORM, S_FILE
                source = form
            if p.is_list:
                raw = (<_MultiMapping>source).getlist(p.key)
                if not raw:
                    raw = _MISSING
            else:
                raw = (<_MultiMapping>source).get(p.key, _MISSING)
                if p.src >= S_FORM and type(raw) is str and not raw:
                    raw = _MISSING                  # an empty form field is an absent one (FastAPI)
            if raw is _MISSING:
                raw = p.missing(errors)
            else:
                raw = p.value(raw, p.loc, errors)
            if raw is not _INVALID:
                kwargs[p.name] = raw
        if self.body is not None:
            self.body_arguments(<bytes>body, kwargs, errors)
        if self.extra_path and path is not None:
            for name in self.extra_path:
                if name in path:
                    kwargs[name] = path[name]
        if self.background is not None:
            kwargs[self.background] = request_exit(req).background_tasks()
        return 0

    cdef int body_arguments(self, bytes body, dict kwargs, list errors) except -1:
        cdef BodySpec b = self.body
        cdef ParamSpec p
        cdef dict fields
        if body is None or len(body) == 0:
            if not b.embed:
                p = <ParamSpec>b.params[0]
                value = p.missing(errors)
                if value is not _INVALID:
                    kwargs[p.name] = value
            else:
                for p in b.params:
                    value = p.missing(errors)
                    if value is not _INVALID:
                        kwargs[p.name] = value
            return 0
        if not b.embed:
            try:
                kwargs[(<ParamSpec>b.params[0]).name] = b.codec.decode_json(body)
            except ValidationError as exc:
                _engine_errors(errors, ("body",), exc)
            return 0
        if b.codec is not None:
            try:
                value = b.codec.decode_json(body)
            except ValidationError as exc:
                _engine_errors(errors, ("body",), exc)
                return 0
            for p in b.params:
                kwargs[p.name] = getattr(value, p.name)
            return 0
        # embedded types the Struct engine cannot hold (pydantic models): the
        # object once, then each key through its own codec
        try:
            fields = _DICT_CODEC().decode_json(body)
        except ValidationError as exc:
            _engine_errors(errors, ("body",), exc)
            return 0
        for p in b.params:
            if p.key not in fields:
                value = p.missing(errors)
            else:
                try:
                    value = (<dict>b.field_codecs)[p.key].convert(fields[p.key], False)
                except ValidationError as exc:
                    _engine_errors(errors, p.loc, exc)
                    value = _INVALID
            if value is not _INVALID:
                kwargs[p.name] = value
        return 0

    cdef object invoke(self, object arg, dict kwargs):
        for name in self.inject:
            kwargs[name] = arg
        if self.arg_first:
            return self.endpoint(arg, **kwargs)
        return self.endpoint(**kwargs)

    cdef object respond(self, object result):
        """The endpoint's return value as a Response: filtered through the
        response model, encoded by the model engine, with status_code."""
        cdef int status = self.status
        if isinstance(result, Response):
            return result
        if PyCoro_CheckExact(result):               # a def endpoint that returned a coroutine
            return self._finish(result)
        if self.typed_stream:
            return self.stream_response(result)
        if result is None and (self.response_codec is None or status == 204 or status == 304):
            return Response(b"", status or 204)     # nothing to say (a response model cannot add a body to a 204)
        if self.response_codec is not None:
            if type(result) is not self.response_exact:
                # filtered through the response model: another class's attributes
                # (a model with a password the response model omits) become plain
                # data first, so only the response model's fields remain
                result = self.response_codec.convert(
                    _msgspec.to_builtins(result, builtin_types=_PASSTHROUGH, enc_hook=_plain), False)
            return _json(self.response_codec.encode(result), status or 200)
        t = type(result)
        rc = self.response_class
        if rc is not None and rc is not JSONResponse:
            return rc(result, status_code=status or 200)
        if t is dict or t is list:                  # the common answer first
            return _json(encode_json(result), status or 200)
        if t is str:
            return PlainTextResponse(result, status or 200)
        if t is bytes or t is bytearray:
            return Response(bytes(result), status or 200)
        if isinstance(result, (types.GeneratorType, types.AsyncGeneratorType)):
            r = StreamingResponse(result)
            if status:
                (<Response>r).status_code = status
            return r
        return _json(encode_json(result), status or 200)

    cdef object stream_response(self, object result):
        """A typed generator's items framed by the stream responses themselves
        (catzilla.response / catzilla.sse encode models, dataclasses and lists
        as JSON): one JSON line each (application/jsonl), or each the data of
        an SSE event (a ServerSentEvent passes as it is)."""
        if not (hasattr(result, "__aiter__") or hasattr(result, "__iter__")):
            raise TypeError(f"{_qualname(self.endpoint)} is a typed stream and returned "
                            f"{type(result).__name__}, not an iterable")
        if self.stream[0] == "sse":
            return EventSourceResponse(result, self.status or 200)
        return StreamingResponse(result, self.status or 200, media_type="application/jsonl")

    cdef object run(self, Request req, dict path, bint offload, object offloader):
        cdef dict kwargs
        if self.dependencies:
            return self.run_dependent(req, path, offload, offloader)
        if self.is_async:
            if self.reads_form or (self.body is not None and req.reader is not None and req._body is None):
                return self._read_then_run(req, path)
            kwargs = self.arguments(req, path, None, _whole_body(req) if self.body is not None else None)
            return self._finish(self.invoke(req, kwargs), req)
        kwargs = self.arguments(req, path, req.form() if self.reads_form else None,
                                _whole_body(req) if self.body is not None else None)
        if offload:
            return offloader(_invocation(self, req, kwargs, None), req, None)
        try:
            return self.respond(self.invoke(req, kwargs))
        except BaseException as exc:
            _failed(req, None, exc)
            raise

    async def _finish(self, awaitable, Request req=None):
        try:
            return self.respond(await awaitable)
        except BaseException as exc:
            if req is not None:
                _failed(req, None, exc)
            raise

    async def _read_then_run(self, Request req, dict path):
        """An async endpoint whose form (or body) is still arriving: read it, then run."""
        form = None
        body = None
        if self.reads_form:
            form = await req.form()
        if self.body is not None:
            body = await req.body()
            body = bytes(body) if type(body) is not bytes else body
        kwargs = self.arguments(req, path, form, body)
        try:
            return self.respond(await self.invoke(req, kwargs))
        except BaseException as exc:
            _failed(req, None, exc)
            raise

    cdef object run_dependent(self, Request req, dict path, bint offload, object offloader):
        """run() for a plan with dependencies: they are solved (FastAPI's order:
        each dependency's own dependencies and parameters, then it is called;
        then the endpoint's parameters), the endpoint is called, function-scoped
        dependencies are torn down as it returns; request-scoped ones are left
        to the request's RequestExit. Synchronous when nothing awaits; for a
        blocking route, on its worker thread (a sync dependency may block as
        the endpoint does)."""
        cdef _Solve solved = _new_solve(req, path)
        cdef dict kwargs
        if self.awaits or self.is_async or solved.overrides is not None:
            return self._run_dependent_async(solved, offload, offloader)
        if offload:
            return offloader(_invocation(self, req, None, solved), req, None)
        try:
            kwargs = self.solved_arguments(solved)
            result = self.invoke(req, kwargs)
            solved.returned()
            return self.respond(result)
        except BaseException as exc:
            _failed(req, solved, exc)
            raise

    cdef dict solved_arguments(self, object solving):
        """The keyword arguments with every dependency solved (nothing async)."""
        cdef _Solve solved = <_Solve>solving
        cdef Request req = solved.req
        cdef dict kwargs = {}
        cdef list errors = []
        body = _whole_body(req) if self.body is not None else None
        solved.solve(self, kwargs, errors)
        self.fill(req, solved.path, req.form() if self.reads_form else None, body, kwargs, errors)
        if errors:
            raise RequestValidationError(errors, body=body)
        return kwargs

    async def _run_dependent_async(self, _Solve solved, bint offload, offloader):
        cdef Request req = solved.req
        cdef dict kwargs = {}
        cdef list errors = []
        handed = False
        try:
            body = None
            form = None
            if self.body is not None:
                if self.is_async and req.reader is not None and req._body is None:
                    body = await req.body()
                    body = bytes(body) if type(body) is not bytes else body
                else:
                    body = _whole_body(req)
            if self.reads_form:
                form = req.form()
                if inspect.isawaitable(form):
                    form = await form
            await solved.solve_async(self, kwargs, errors)
            self.fill(req, solved.path, form, body, kwargs, errors)
            if errors:
                raise RequestValidationError(errors, body=body)
            if self.is_async:
                result = await self.invoke(req, kwargs)
            elif offload:
                handed = True            # the worker resumes the sync function-scoped ones
                response = await offloader(_invocation(self, req, kwargs, solved), req, None)
                handed = False
                # the worker resumed the sync function-scoped ones; an async one is resumed here
                await solved.close_function_exits_async(None)
                return response
            else:
                result = self.invoke(req, kwargs)
            solved.close_function_exits(None)
            await solved.close_function_exits_async(None)
            return self.respond(result)
        except BaseException as exc:
            if handed and isinstance(exc, asyncio.CancelledError):
                raise                    # the client left: the endpoint may still run, its worker resumes them
            _failed(req, solved, exc)
            await solved.close_function_exits_async(exc)
            raise

    cdef dict ws_arguments(self, Request req, dict path):
        return self.arguments(req, path, None, None)

    cdef object ws_run(self, object socket, Request req, dict kwargs, object offload):
        return self._ws_run(socket, req, kwargs, offload)

    async def _ws_run(self, socket, Request req, dict kwargs, offload):
        """The handler with its dependencies: their teardown when it returns (or
        raises: the exception is thrown in), before the close frame."""
        cdef _Solve solved = _new_solve(req, req.path_params)
        cdef list errors = []
        solved.exit = RequestExit.__new__(RequestExit)
        solved.exit.route = f"WebSocket {req.path}"
        exc = None
        try:
            await solved.solve_async(self, kwargs, errors)
            if errors:
                raise RequestValidationError(errors)
            await self.invoke(socket, kwargs)
        except BaseException as e:
            exc = e
            raise
        finally:
            solved.close_function_exits(exc)
            await solved.close_function_exits_async(exc)
            await solved.exit.close(offload, exc, True)


cdef object _whole_body(Request req):
    """The body read whole before dispatch, as exact bytes."""
    b = req._body
    if type(b) is bytes:
        return b
    if b is not None:
        return bytes(b)
    return req.raw_body()


cdef Codec _dict_codec = None


cdef Codec _DICT_CODEC():
    global _dict_codec
    if _dict_codec is None:
        _dict_codec = codec(typing.Dict[str, typing.Any])
    return _dict_codec


# ---------------------------------------------------------------------------
# compiling a signature (registration time: plain Python speed is fine)

_OPERATION_KEYS = ("response_model", "status_code", "responses", "response_class", "tags", "summary",
                   "description", "deprecated", "operation_id", "include_in_schema")

# classes whose annotation means "the connection object the endpoint is called
# with" (the WebSocket of a WebSocket route): registered by their modules,
# which sit above this one
cdef list _connection_classes = []


def register_connection_class(cls):
    """Declare that a parameter annotated `cls` receives the object a route's
    endpoint is called with (catzilla.websocket registers WebSocket)."""
    if not isinstance(cls, type):
        raise TypeError(f"{cls!r} is not a class")
    if cls not in _connection_classes:
        _connection_classes.append(cls)
    return cls


cdef str _qualname(object endpoint):
    fn = endpoint
    while isinstance(fn, _partial):
        fn = fn.func
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


cdef bint _is_subclass(object tp, object base):
    return isinstance(tp, type) and issubclass(tp, base)


cdef bint _is_connection(object tp):
    for cls in _connection_classes:
        if _is_subclass(tp, cls):
            return True
    return False


cdef object _origin(object tp):
    return typing.get_origin(tp)


cdef tuple _split_annotated(object tp):
    """-> (type without Annotated, the last marker in its metadata or None,
    whether other metadata remains)."""
    marker = None
    other = False
    if _origin(tp) is typing.Annotated:
        rest = []
        for m in tp.__metadata__:
            if isinstance(m, Param):
                marker = m
            else:
                rest.append(m)
        base = tp.__origin__
        if rest:
            other = True
            tp = typing.Annotated[(base, *rest)]
        else:
            tp = base
    return tp, marker, other


cdef tuple _split_optional(object tp):
    """-> (T, True) for Optional[T] / T | None, else (tp, False)."""
    o = _origin(tp)
    if o is typing.Union or o is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != len(typing.get_args(tp)):
            if len(args) == 1:
                return args[0], True
            return typing.Union[tuple(args)], True
    return tp, False


cdef frozenset _LIST_ORIGINS = frozenset([list, _abc.Sequence, _abc.MutableSequence, _abc.Iterable,
                                          _abc.Collection])
cdef dict _SCALARS = {str: K_STR, int: K_INT, float: K_FLOAT, bool: K_BOOL}


cdef bint _is_list(object tp):
    return _origin(tp) in _LIST_ORIGINS or tp is list


cdef object _list_item(object tp):
    args = typing.get_args(tp)
    return args[0] if args else typing.Any


cdef bint _scalar_like(object tp):
    """A type a bare annotation makes a query parameter (FastAPI's rule: a
    scalar; a list, like a model, is the body unless a marker says Query)."""
    tp = _split_annotated(tp)[0]
    tp = _split_optional(tp)[0]
    if _origin(tp) is typing.Union:
        return all(_scalar_like(a) for a in typing.get_args(tp))
    if tp is typing.Any or tp in _SCALARS or _origin(tp) is typing.Literal:
        return True
    if _is_subclass(tp, (enum.Enum, bytes)):
        return True
    return _is_subclass(tp, (_datetime.date, _datetime.time, _datetime.timedelta, _decimal.Decimal, _uuid.UUID))


cdef bint _mentions_model(object tp):
    tp = _split_annotated(tp)[0]
    if is_model(tp):
        return True
    return any(_mentions_model(a) for a in typing.get_args(tp) if a is not Ellipsis)


cdef Codec _make_codec(object tp, str handler, str what):
    try:
        return codec(tp)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{handler}: {what}: the annotation {tp!r} cannot be validated ({exc})") from None


# what a router converter already produced for a path parameter
_CONVERTER_TYPES = {"str": str, "path": str, "int": int, "signed_int": int, "float": float,
                    "signed_float": float, "uuid": _uuid.UUID}


def _hints(fn, str handler):
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        pass
    # an annotation that does not resolve: take the others as they are
    out = {}
    ann = getattr(fn, "__annotations__", None) or {}
    globs = getattr(fn, "__globals__", {})
    for name, value in ann.items():
        if isinstance(value, str):
            try:
                value = eval(value, globs)
            except Exception:
                value = _Unresolved(value)
        out[name] = value
    return out


class _Unresolved(str):
    """A string annotation that names nothing importable."""


cdef bint _is_request_annotation(object tp):
    if isinstance(tp, _Unresolved):
        return tp == "Request" or tp.endswith(".Request")
    return _is_subclass(tp, _RequestClass)


def compile_endpoint(endpoint, path_param_names=(), path_param_converters=(), *, websocket=False,
                     dependencies=None, **operation):
    """The EndpointPlan of `endpoint` for a route whose path has the parameters
    `path_param_names` (with their converter names), or None when nothing of it
    is typed (it then runs exactly as an untyped handler). `dependencies`:
    Depends(...) run before it whose values are not passed (the route's,
    its routers' and the app's). TypeError/ValueError naming the handler for
    a definition mistake."""
    return _compile(endpoint, tuple(path_param_names), tuple(path_param_converters), websocket,
                    operation, dependencies, None, ())


cdef EndpointPlan _compile(object endpoint, tuple path_param_names, tuple path_param_converters,
                           bint websocket, dict operation, object route_dependencies, object call_kind,
                           tuple chain):
    """compile_endpoint; call_kind not None: the plan of a dependency (its own
    parameters: no body, no response side; `chain`: the dependencies being
    compiled above it, to refuse a cycle)."""
    cdef EndpointPlan plan
    cdef ParamSpec p
    cdef BodySpec b
    cdef bint dependency = call_kind is not None
    handler = _qualname(endpoint)
    for key in operation:
        if key not in _OPERATION_KEYS:
            raise TypeError(f"{handler}: unknown route option {key!r} (known: {', '.join(_OPERATION_KEYS)})")
    op = {k: operation.get(k) for k in _OPERATION_KEYS}
    if op["include_in_schema"] is None:
        op["include_in_schema"] = True
    if op["deprecated"] is None:
        op["deprecated"] = False
    described = any(v is not None for v in operation.values())
    status = op["status_code"]
    if status is not None:
        status = int(status)
        if not 100 <= status <= 599:
            raise ValueError(f"{handler}: status_code must be 100..599, got {status}")
        op["status_code"] = status
    path_names = tuple(path_param_names)
    converters = dict(zip(path_names, path_param_converters))

    fn = endpoint
    while isinstance(fn, _partial):
        fn = fn.func
    for d in route_dependencies or ():
        if not isinstance(d, Depends):
            raise TypeError(f"{handler}: dependencies must be Depends(...), got {d!r}")
    dependants = [_dependant(d, None, None, handler, path_names, path_param_converters, websocket, chain)
                  for d in route_dependencies or ()]
    if dependency:
        # a class: its __init__'s parameters; a callable object: its __call__'s
        fn = fn.__init__ if isinstance(fn, type) else fn if (inspect.isfunction(fn) or inspect.ismethod(fn)) \
            else type(fn).__call__
    elif not (inspect.isfunction(fn) or inspect.ismethod(fn)):
        # a callable object (StaticFiles, a class): called as it always was
        if described or dependants:
            raise TypeError(f"{handler}: route options ({', '.join(k for k, v in operation.items() if v is not None)}"
                            f"{', dependencies' if dependants else ''}) need a function endpoint")
        return None
    try:
        sig = inspect.signature(endpoint)
    except (TypeError, ValueError):
        if dependency:
            raise TypeError(f"{handler}: the dependency's signature cannot be read") from None
        return None
    hints = _hints(fn, handler)
    params = list(sig.parameters.values())
    is_async = call_kind in (D_CORO, D_AGEN) if dependency else inspect.iscoroutinefunction(fn)
    injected = set(getattr(endpoint, "__catzilla_inject__", ()))      # @inject("db"): db = Depends("db")
    if injected - {q.name for q in params} and not any(q.kind is inspect.Parameter.VAR_KEYWORD for q in params):
        raise TypeError(f"{handler}: @inject names {', '.join(sorted(injected - {q.name for q in params}))}, "
                        f"which are not its parameters")

    specs = []
    body_params = []
    inject = []
    extra_path = []
    arg_first = False
    typed = False
    var_kw = any(q.kind is inspect.Parameter.VAR_KEYWORD for q in params)
    seen_path = set()
    problems = []
    background = None
    for index, prm in enumerate(params):
        if prm.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        name = prm.name
        ann = hints.get(name, _EMPTY)
        default = prm.default
        tp, marker, other_meta = _split_annotated(ann) if ann is not _EMPTY else (_EMPTY, None, False)
        # a dependency: Depends(...) as the default or in Annotated, or a name @inject lists
        wanted = default if isinstance(default, Depends) else None
        if ann is not _EMPTY and _origin(ann) is typing.Annotated:
            for m in ann.__metadata__:
                if isinstance(m, Depends):
                    if wanted is not None:
                        raise TypeError(f"{handler}: parameter {name!r} has Depends both in Annotated and as "
                                        f"its default")
                    wanted = m
        if wanted is None and name in injected:
            wanted = Depends(name)
            injected.discard(name)
        if wanted is not None:
            if prm.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(f"{handler}: dependency parameter {name!r} is positional-only")
            dependants.append(_dependant(wanted, name, tp, handler, path_names, path_param_converters,
                                         websocket, chain))
            typed = True
            continue
        if isinstance(default, Param):
            if marker is not None:
                raise TypeError(f"{handler}: parameter {name!r} has a marker both in Annotated and as its default")
            marker = default
            default = marker.default               # `q: int = Query(10)`: the marker's default
        elif marker is not None and marker.default is not _UNSET:
            raise TypeError(f"{handler}: parameter {name!r}: a marker inside Annotated takes no default; "
                            f"write `{name}: Annotated[..., {type(marker).__name__}()] = {marker.default!r}`")
        # the request (a WebSocket route: the WebSocket): the first parameter
        # when unannotated, any parameter annotated with its class
        connection = tp is not _EMPTY and marker is None and (_is_request_annotation(tp) or _is_connection(tp))
        if connection and (_is_request_annotation(tp) == websocket):
            raise TypeError(f"{handler}: parameter {name!r}: a {'WebSocket' if websocket else 'HTTP'} route's "
                            f"endpoint is called with a {'WebSocket' if websocket else 'Request'}, not {tp!r}")
        if index == 0 and marker is None and name not in converters \
                and (tp is _EMPTY or connection or tp is typing.Any or tp is object) \
                and prm.kind is not inspect.Parameter.KEYWORD_ONLY \
                and (not dependency or connection or name in _REQUEST_NAMES):
            # `request: Any` too: how a strictly typed untyped handler spells it
            arg_first = True
            continue
        if connection:
            if prm.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(f"{handler}: parameter {name!r} is positional-only")
            inject.append(name)
            typed = True
            continue
        if marker is None and _is_subclass(tp, BackgroundTasks):
            if websocket:
                raise TypeError(f"{handler}: parameter {name!r}: a WebSocket endpoint has no response "
                                f"to run background tasks after")
            if background is not None or prm.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(f"{handler}: parameter {name!r}: one keyword BackgroundTasks parameter")
            background = name
            typed = True
            continue
        if prm.kind is inspect.Parameter.POSITIONAL_ONLY:
            # fine for an untyped endpoint (called as it always was); a plan passes keywords
            problems.append(f"parameter {name!r} is positional-only; a typed endpoint's parameters "
                            f"are passed by keyword")
        # the source
        if marker is not None:
            source = marker.source
            key = marker.alias or name
        elif name in converters:
            source = "path"
            key = name
        elif tp is _EMPTY:
            source = "query"
            key = name
        elif _is_subclass(_split_optional(_split_annotated(tp)[0])[0], UploadFile) or _is_upload_list(tp):
            source = "file"
            key = name
        elif _scalar_like(tp):
            source = "query"
            key = name
        else:
            source = "body"
            key = name
        if source != "path" and name in converters and marker is not None:
            raise TypeError(f"{handler}: parameter {name!r} is a path parameter of the route, "
                            f"but is marked {type(marker).__name__}")
        if source == "path":
            if key not in converters:
                raise TypeError(f"{handler}: path parameter {key!r} is not in the route's path "
                                f"(its parameters: {', '.join(path_names) or 'none'})")
            seen_path.add(key)
            # an unannotated or converter-typed path parameter is what the router already passes
            if marker is None and (tp is _EMPTY or _CONVERTER_TYPES[converters[key]] is tp):
                p = _spec(handler, name, "path", key, _CONVERTER_TYPES[converters[key]], None, default, False)
                p.kind = K_ANY
                specs.append(p)
                continue
        if source == "query" and tp is _EMPTY and marker is None and default is not _EMPTY:
            continue        # 0.2.3 and today: an unannotated keyword with a default keeps it
        if tp is _EMPTY:
            tp = typing.Any
        if tp is not typing.Any or marker is not None or hints.get(name, _EMPTY) is not _EMPTY:
            typed = True
        if dependency and source in ("body", "form", "file"):
            raise TypeError(f"{handler}: parameter {name!r}: a dependency does not read the request body "
                            f"(take it in the endpoint, or read request.json() in the dependency)")
        if source == "body":
            if websocket:
                raise TypeError(f"{handler}: parameter {name!r}: a WebSocket endpoint has no request body")
            body_params.append((name, key, tp, marker, default))
            continue
        if websocket and source in ("form", "file"):
            raise TypeError(f"{handler}: parameter {name!r}: a WebSocket endpoint has no form")
        specs.append(_spec(handler, name, source, key, tp, marker, default, other_meta))
    for name in sorted(injected):             # @inject names the endpoint takes through **kwargs
        dependants.append(_dependant(Depends(name), name, None, handler, path_names, path_param_converters,
                                     websocket, chain))
    if var_kw:
        extra_path = [n for n in path_names if n not in seen_path]
    if not arg_first and not any(q.kind is inspect.Parameter.VAR_POSITIONAL for q in params):
        typed = True        # no request parameter (`def items():`): only a plan can call it

    # the return side
    ret = hints.get("return", _EMPTY)
    response_model = op["response_model"]
    response_class = op["response_class"]
    stream = None
    if not dependency and (inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn)):
        item = _stream_item(ret)
        sse = _is_subclass(response_class, EventSourceResponse)
        if not sse and (item is typing.Any or item in (str, bytes, bytearray, memoryview)):
            item = None     # raw chunks (`-> Iterator[bytes]`): streamed as they always were
        if item is not None or sse:
            stream = ("sse" if sse else "jsonl", item)
            if item is not None and item is not typing.Any and not _is_subclass(item, ServerSentEvent):
                _make_codec(item, handler, "stream item")     # an item type the engine cannot encode fails now
    if response_class is not None and not _is_subclass(response_class, Response):
        raise TypeError(f"{handler}: response_class must be a Response subclass, got {response_class!r}")
    response_type = None
    response_codec = None
    response_exact = None
    if stream is None and not dependency:
        if response_model is not None:
            response_type = response_model
        elif ret is not _EMPTY and ret is not None and not _is_subclass(ret, Response) \
                and not isinstance(ret, _Unresolved) and _mentions_model(ret):
            response_type = ret
        if response_type is not None:
            response_codec = _make_codec(response_type, handler, "response model")
            response_exact = response_type if isinstance(response_type, type) else None
        elif ret is not _EMPTY and ret is not None and ret is not typing.Any and not isinstance(ret, _Unresolved) \
                and not _is_subclass(ret, Response) and ret not in (str, bytes, dict, list) \
                and _origin(ret) not in (dict, list) and not typing.get_args(ret) and ret is not type(None):
            response_type = ret                  # a typed value (int, UUID...): documented, encoded as it is

    if not typed and not body_params and stream is None and response_type is None and not described \
            and not dependants and not dependency:
        return None                              # nothing typed: today's call, today's cost
    if problems:
        raise TypeError(f"{handler}: {problems[0]}")

    plan = EndpointPlan.__new__(EndpointPlan)
    plan.endpoint = endpoint
    plan.is_async = is_async
    plan.arg_first = arg_first
    plan.inject = tuple(inject)
    plan.background = background
    plan.dependencies = tuple(dependants)
    plan.awaits = any((<Dependant>d).awaits for d in dependants)
    plan.path_info = (path_names, path_param_converters, websocket)
    plan.extra_path = tuple(extra_path)
    plan.operation = op
    plan.status = status or 0
    plan.response_class = response_class
    plan.response_type = response_type
    plan.response_codec = response_codec
    plan.response_exact = response_exact
    plan.stream = stream
    plan.typed_stream = stream is not None
    plan.params = tuple(specs)
    plan.reads_form = any((<ParamSpec>s).src >= S_FORM for s in specs)
    plan.body = _body_spec(handler, body_params, websocket) if body_params else None
    if plan.body is not None and plan.reads_form:
        raise TypeError(f"{handler}: a JSON body ({', '.join(n for n, *_ in body_params)}) and form "
                        f"fields cannot be read from one request")
    keys = {}
    for s in specs:
        p = <ParamSpec>s
        k = (p.src, p.key if p.src != S_HEADER else p.key.lower())
        if k in keys:
            raise ValueError(f"{handler}: parameters {keys[k]!r} and {p.name!r} both read {p.source} {p.key!r}")
        keys[k] = p.name
    return plan


cdef tuple _REQUEST_NAMES = ("request", "req", "websocket", "ws")    # a dependency's unannotated request parameter


cdef Dependant _dependant(Depends marker, str name, object annotation, str handler, tuple path_names,
                          tuple converters, bint websocket, tuple chain):
    """A Depends compiled: the callable (a service name looked up, the
    annotation when none is given), its kind and its own plan."""
    cdef Dependant d = Dependant.__new__(Dependant)
    where = f"{handler}: {'parameter ' + repr(name) if name is not None else 'route dependency'}"
    call = marker.dependency
    use_cache = marker.use_cache
    if call is None:
        call = _split_optional(_split_annotated(annotation)[0])[0] if annotation is not None \
            and annotation is not _EMPTY else None
        if not isinstance(call, type):
            raise TypeError(f"{where}: Depends() without a dependency needs a class annotation, not {annotation!r}")
    elif isinstance(call, str):
        try:
            call, scope = get_service(call)
        except LookupError as exc:
            raise TypeError(f"{where}: {exc}") from None
        use_cache = scope != "transient"
        d.singleton = scope == "singleton"
    if call in chain:
        cycle = " -> ".join(_qualname(c) for c in chain[chain.index(call):] + (call,))
        raise TypeError(f"{handler}: dependency cycle: {cycle}")
    fn = call
    while isinstance(fn, _partial):
        fn = fn.func
    if not isinstance(fn, type) and not (inspect.isfunction(fn) or inspect.ismethod(fn)):
        fn = getattr(type(fn), "__call__", None)
    if isinstance(fn, type):
        d.kind = D_CALL
    elif inspect.isasyncgenfunction(fn):
        d.kind = D_AGEN
    elif inspect.isgeneratorfunction(fn):
        d.kind = D_GEN
    elif inspect.iscoroutinefunction(fn):
        d.kind = D_CORO
    else:
        d.kind = D_CALL
    d.call = call
    d.name = name
    d.use_cache = use_cache
    d.scope = marker.scope
    d.scopes = (<Security>marker).scopes if isinstance(marker, Security) else ()
    d.plan = _compile(call, path_names, converters, websocket, {}, None, d.kind, chain + (call,))
    d.awaits = d.kind == D_CORO or d.kind == D_AGEN or d.plan.awaits
    return d


cdef bint _is_upload_list(object tp):
    tp = _split_optional(_split_annotated(tp)[0])[0]
    return _is_list(tp) and _is_subclass(_list_item(tp), UploadFile)


cdef object _stream_item(object ret):
    """The item type of a generator's return annotation (AsyncIterable[T], Iterator[T]...)."""
    if ret is _EMPTY:
        return None
    o = _origin(ret)
    if o in (_abc.AsyncIterable, _abc.AsyncIterator, _abc.AsyncGenerator, _abc.Iterable, _abc.Iterator,
             _abc.Generator):
        args = typing.get_args(ret)
        return args[0] if args else None
    return None


cdef ParamSpec _spec(str handler, str name, str source, str key, object tp, object marker, object default,
                     bint other_meta):
    cdef ParamSpec p = ParamSpec.__new__(ParamSpec)
    p.name = name
    p.source = source
    p.src = _SOURCES[source]
    p.info = marker
    p.min_length = -1
    p.max_length = -1
    if source == "header":
        # x_token reads x-token (Headers compares names case-insensitively); an
        # alias is kept as written, for the error's loc and the document
        if marker is not None and marker.alias:
            key = marker.alias
        elif not isinstance(marker, Header) or (<Header>marker).convert_underscores:
            key = name.replace("_", "-")
    p.key = key
    p.loc = (_LOC_SOURCE[p.src], key)
    # the default (the marker's, or the parameter's own in the Annotated spelling)
    if marker is not None:
        p.factory = marker.default_factory
    if default is _EMPTY:
        default = _UNSET
    p.required = default is _UNSET and p.factory is None
    p.default = None if default is _UNSET else default
    p.copy_default = isinstance(default, (list, dict, set, bytearray))
    # the type
    core, optional = _split_optional(tp)
    p.annotation = tp
    p.optional = optional
    if _is_list(core) and source != "body":
        if source in ("path", "cookie"):
            raise TypeError(f"{handler}: parameter {name!r}: a {source} parameter has one value, not {tp!r}")
        p.is_list = True
        item = _list_item(core)
        item_core, _ = _split_optional(_split_annotated(item)[0])
        if item_core in _SCALARS and not other_meta and item is item_core:
            p.kind = _SCALARS[item_core]
        elif _is_subclass(item_core, UploadFile):
            p.kind = K_UPLOAD
        elif item_core is bytes:
            p.kind = K_BYTES
        elif item_core is typing.Any:
            p.kind = K_ANY
        else:
            p.kind = K_CODEC
            p.codec = _make_codec(typing.List[item], handler, f"parameter {name!r}")
    elif other_meta:
        p.kind = K_CODEC
        p.codec = _make_codec(tp, handler, f"parameter {name!r}")
    elif core in _SCALARS:
        p.kind = _SCALARS[core]
    elif _is_subclass(core, UploadFile):
        p.kind = K_UPLOAD
    elif core is bytes and source in ("file", "form"):
        p.kind = K_BYTES
    elif core is typing.Any:
        p.kind = K_ANY
    else:
        p.kind = K_CODEC
        p.codec = _make_codec(tp, handler, f"parameter {name!r}")
    # constraints
    if marker is not None:
        for attr in ("gt", "ge", "lt", "le"):
            bound = getattr(marker, attr)
            if bound is not None:
                p.checks = True
                if p.kind in (K_INT, K_FLOAT):
                    if attr == "gt":
                        p.has_gt = True
                        p.gt = bound
                    elif attr == "ge":
                        p.has_ge = True
                        p.ge = bound
                    elif attr == "lt":
                        p.has_lt = True
                        p.lt = bound
                    else:
                        p.has_le = True
                        p.le = bound
        if marker.multiple_of is not None:
            p.checks = True
            p.multiple_of = marker.multiple_of
        if marker.min_length is not None:
            p.checks = True
            p.min_length = marker.min_length
        if marker.max_length is not None:
            p.checks = True
            p.max_length = marker.max_length
        if marker.pattern is not None:
            p.checks = True
            p.matcher = pattern_of(marker.pattern)
        if p.checks and p.kind in (K_BOOL, K_UPLOAD, K_BYTES, K_ANY) and not p.is_list:
            raise TypeError(f"{handler}: parameter {name!r}: constraints do not apply to {tp!r}")
    return p


cdef BodySpec _body_spec(str handler, list body_params, bint websocket):
    cdef BodySpec b = BodySpec.__new__(BodySpec)
    cdef ParamSpec p
    specs = []
    for name, key, tp, marker, default in body_params:
        p = ParamSpec.__new__(ParamSpec)
        p.name = name
        p.source = "body"
        p.src = S_BODY
        p.key = key
        p.info = marker
        p.annotation = tp
        p.kind = K_CODEC
        p.min_length = -1
        p.max_length = -1
        if marker is not None:
            p.factory = marker.default_factory
        if default is _EMPTY:
            default = _UNSET
        p.required = default is _UNSET and p.factory is None
        p.default = None if default is _UNSET else default
        p.copy_default = isinstance(default, (list, dict, set))
        p.optional = _split_optional(tp)[1]
        specs.append(p)
    b.params = tuple(specs)
    first = <ParamSpec>specs[0]
    b.embed = len(specs) > 1 or (isinstance(first.info, Body) and (<Body>first.info).embed)
    b.media_type = (<Body>first.info).media_type if isinstance(first.info, Body) else "application/json"
    b.required = any((<ParamSpec>s).required for s in specs)
    if not b.embed:
        first.loc = ("body",)
        b.annotation = first.annotation
        b.codec = _make_codec(first.annotation, handler, f"body parameter {first.name!r}")
        return b
    fields = []
    checked = {}
    for s in specs:
        p = <ParamSpec>s
        p.loc = ("body", p.key)
        tp = p.annotation
        if p.info is not None and p.info.constraints():
            tp = p.info.annotate(tp)     # the marker's constraints, checked by the engine with the rest of the body
        checked[p.key] = tp
        if p.required:
            fields.append((p.name, tp, _msgspec.field(name=p.key)))
        elif p.factory is not None:
            fields.append((p.name, tp, _msgspec.field(default_factory=p.factory, name=p.key)))
        else:
            fields.append((p.name, tp, _msgspec.field(default=p.default, name=p.key)))
    fields.sort(key=lambda f: f[2].default is not _msgspec.NODEFAULT or f[2].default_factory is not _msgspec.NODEFAULT)
    name = "Body_" + "".join(c if c.isalnum() else "_" for c in handler)
    try:
        b.annotation = _msgspec.defstruct(name, fields, kw_only=True, module=__name__)
        b.codec = codec(b.annotation)
    except (TypeError, ValueError):
        # a type a Struct cannot hold (a pydantic model): each key through its own codec
        b.codec = None
        b.field_codecs = {(<ParamSpec>s).key: _make_codec(checked[(<ParamSpec>s).key], handler,
                                                          f"body parameter {(<ParamSpec>s).name!r}")
                          for s in specs}
        if b.annotation is None:
            b.annotation = dict
    return b
