"""The model engine: validation, encoding and JSON Schema over msgspec.

A `Codec` per type (cached) decodes JSON bytes into validated values in one
msgspec pass. Only after a failure does the slow path walk the input against
the type (`msgspec.inspect`) to list EVERY error in pydantic v2's shape
(type codes, messages, ctx). Types msgspec cannot handle (pydantic v2 models,
and containers of them) go through pydantic's own TypeAdapter when pydantic is
installed. `BaseModel` is a msgspec Struct with pydantic's method names.
Error locations here have no source prefix: the parameter plan adds "body",
"query"... in front."""
import copy
import dataclasses
import datetime as _dt
import decimal
import enum
import fractions
import json as _stdjson
import re
import sys
import uuid
import types as _types
from typing import (Annotated, Any, ClassVar, Optional, Union, get_args, get_origin, get_type_hints,
                    is_typeddict)

import msgspec
from msgspec import inspect as _mi

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint32_t

from catzilla.includes.pattern cimport (CZ_PATTERN_MATCH, CZ_PATTERN_NOMATCH, cz_pattern_compile,
                                        cz_pattern_free, cz_pattern_search)

from catzilla.includes.python cimport PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND

cdef extern from "Python.h":
    int Py_EnterRecursiveCall(const char *where) except -1
    void Py_LeaveRecursiveCall()

cdef object _NODEFAULT = msgspec.NODEFAULT
cdef tuple _UNIONS = (Union, _types.UnionType)
cdef object _MSGSPEC_VALIDATION = msgspec.ValidationError
cdef object _MSGSPEC_DECODE = msgspec.DecodeError
cdef object _CONVERT = msgspec.convert


class ValidationError(ValueError):
    """Validation failed: .errors() lists every error as a dict with "type",
    "loc" (a tuple without a source prefix), "msg", "input" and, when pydantic
    has one, "ctx"."""

    def __init__(self, errors, title=None):
        self.title = title
        if isinstance(errors, str):         # raised by hand (a __post_init__ rule): one value error
            self._errors = [{"type": "value_error", "loc": (), "msg": errors, "input": None}]
            ValueError.__init__(self, errors)
            return
        self._errors = list(errors)
        ValueError.__init__(self, self._summary())

    def errors(self):
        return self._errors

    def error_count(self):
        return len(self._errors)

    def _summary(self):
        n = len(self._errors)
        lines = [f"{n} validation error{'s' if n != 1 else ''}" + (f" for {self.title}" if self.title else "")]
        for e in self._errors:
            lines.append(".".join(map(str, e["loc"])) or "(root)")
            lines.append(f"  {e['msg']} [type={e['type']}, input_value={e['input']!r}]")
        return "\n".join(lines)


# -- encoding --------------------------------------------------------------------------------------

def _enc_hook(obj):
    if _pydantic_instance(obj):
        return obj.model_dump(mode="json", by_alias=True)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


cdef object _ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)


cpdef bytes encode_json(object value):
    """Any returnable value as JSON bytes: dict/list/str/int/float/bool/None,
    Structs (BaseModel), dataclasses, pydantic models, UUID, datetime/date/time,
    Decimal (a string), Enum (its value), and containers of them."""
    return _ENCODER.encode(value)


# -- Field and BaseModel ------------------------------------------------------------------------

# -- str patterns: compiled code instead of a Python `re` call per string ---------------------------

cdef class Pattern:
    """A `pattern` constraint: re.search(pattern, s) is not None, answered by
    include/cz_pattern.c when the pattern is in the subset it compiles (and the
    string needs no Unicode class meaning), by Python's re otherwise."""

    def __cinit__(self, str pattern):
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(pattern), i
        cdef uint32_t *cps
        self.pattern = pattern
        re.compile(pattern)                  # re.error for a bad pattern, as before
        cps = <uint32_t *>PyMem_Malloc((n + 1) * sizeof(uint32_t))
        if cps == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                cps[i] = <uint32_t>ord(pattern[i])
            cz_pattern_compile(cps, <size_t>n, &self.prog)   # refused: prog stays NULL, re answers
        finally:
            PyMem_Free(cps)

    def __dealloc__(self):
        cz_pattern_free(self.prog)

    @property
    def compiled(self):
        """True when include/cz_pattern.c runs this pattern."""
        return self.prog != NULL

    cdef bint search(self, str s) except -1:
        cdef int rc
        if self.prog != NULL:
            rc = cz_pattern_search(self.prog, PyUnicode_KIND(s), PyUnicode_DATA(s), <size_t>PyUnicode_GET_LENGTH(s))
            if rc == CZ_PATTERN_MATCH:
                return True
            if rc == CZ_PATTERN_NOMATCH:
                return False
        if self.re_search is None:           # refused, or a Unicode class met a code point >= 128
            self.re_search = re.compile(self.pattern).search
        return self.re_search(s) is not None

    def __repr__(self):
        return f"Pattern({self.pattern!r}{', compiled' if self.prog != NULL else ''})"


cdef dict _PATTERNS = {}


cpdef Pattern pattern_of(str pattern):
    """The Pattern of a pattern string, built once."""
    p = _PATTERNS.get(pattern)
    if p is None:
        p = _PATTERNS[pattern] = Pattern(pattern)
    return <Pattern>p


cdef dict pattern_meta(object tp, dict cons):
    """Meta keywords with a `pattern` on a str that include/cz_pattern.c compiles
    moved out of msgspec's sight (it would call re per string): the schema
    still shows it (extra_json_schema) and Codec checks it after the decode
    (Meta.extra carries it to the type info it walks)."""
    p = cons.get("pattern")
    if tp is not str or not isinstance(p, str) or not pattern_of(p).compiled:
        return cons
    cons = dict(cons)
    del cons["pattern"]
    cons["extra_json_schema"] = {"pattern": p}
    cons["extra"] = {_PATTERN_KEY: p}
    return cons


cdef str _PATTERN_KEY = "catzilla.pattern"


cdef Pattern _meta_pattern(object t):
    """The compiled-checked pattern a msgspec Metadata node carries, or None."""
    extra = t.extra
    if extra:
        p = extra.get(_PATTERN_KEY)
        if p is not None:
            return pattern_of(p)
    return None


def _pattern_search(str pattern, str s):
    """Test hook: the compiled matcher's own answer (True/False), or None when
    it refuses the pattern or cannot decide for this string."""
    cdef Pattern p = Pattern(pattern)
    cdef int rc
    if p.prog == NULL:
        return None
    rc = cz_pattern_search(p.prog, PyUnicode_KIND(s), PyUnicode_DATA(s), <size_t>PyUnicode_GET_LENGTH(s))
    return True if rc == CZ_PATTERN_MATCH else False if rc == CZ_PATTERN_NOMATCH else None


#: FieldInfo's attributes, in the order its repr shows them
cdef tuple _FIELD_ATTRS = ("default", "default_factory", "alias", "title", "description", "gt", "ge", "lt", "le",
                           "multiple_of", "min_length", "max_length", "pattern", "examples", "deprecated",
                           "json_schema_extra", "annotation")


#: what a gt/ge/lt/le bound may be: a number, or a value of the ordered types the engine validates
cdef tuple _NUMBER_TYPES = (int, float, decimal.Decimal, fractions.Fraction)
cdef tuple _BOUND_TYPES = _NUMBER_TYPES + (_dt.date, _dt.time, _dt.timedelta)


cdef class FieldInfo:
    """What Field(...) declares; model_fields maps each field name to one
    (with .annotation set). The parameter markers (Query, Path, Body...) are
    FieldInfos too, as in FastAPI. Arguments are checked here, so a mistake
    fails where the model or the route is defined."""

    def __init__(self, default=_NODEFAULT, *, default_factory=None, alias=None, title=None, description=None,
                 gt=None, ge=None, lt=None, le=None, multiple_of=None, min_length=None, max_length=None,
                 pattern=None, examples=None, deprecated=None, json_schema_extra=None, annotation=None):
        if default is Ellipsis:             # pydantic's Field(...): required
            default = _NODEFAULT
        if default is not _NODEFAULT and default_factory is not None:
            raise TypeError("give a default or a default_factory, not both")
        for name, value in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, _BOUND_TYPES)):
                raise TypeError(f"{name} must be a number (or a date, time or timedelta), not {value!r}")
        if multiple_of is not None and (isinstance(multiple_of, bool) or not isinstance(multiple_of, _NUMBER_TYPES)):
            raise TypeError(f"multiple_of must be a number, not {multiple_of!r}")
        for name, value in (("min_length", min_length), ("max_length", max_length)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise TypeError(f"{name} must be an int >= 0, not {value!r}")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise TypeError(f"pattern must be a str, not {pattern!r}")
            re.compile(pattern)              # re.error now, not at the first request
        if alias is not None and not isinstance(alias, str):
            raise TypeError(f"alias must be a str, not {alias!r}")
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.title = title
        self.description = description
        self.gt = gt
        self.ge = ge
        self.lt = lt
        self.le = le
        self.multiple_of = multiple_of
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern
        self.examples = examples
        self.deprecated = deprecated
        self.json_schema_extra = json_schema_extra
        self.annotation = annotation

    def is_required(self):
        return self.default is _NODEFAULT and self.default_factory is None

    def constraints(self):
        """The validation constraints given, as msgspec.Meta keywords."""
        return {k: getattr(self, k) for k in ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length",
                                              "pattern") if getattr(self, k) is not None}

    def documentation(self):
        """title, description, examples, deprecated, json_schema_extra as msgspec.Meta keywords."""
        kw = {k: getattr(self, k) for k in ("title", "description") if getattr(self, k) is not None}
        if self.examples is not None:
            kw["examples"] = list(self.examples)
        extra = dict(self.json_schema_extra or {})
        if self.deprecated:
            extra["deprecated"] = True
        if extra:
            kw["extra_json_schema"] = extra
        return kw

    def meta(self):
        """The constraints and documentation as one msgspec.Meta, or None."""
        kw = self.constraints()
        kw.update(self.documentation())
        return msgspec.Meta(**kw) if kw else None

    def annotate(self, tp):
        """`tp` carrying this field's constraints and documentation. On an
        Optional[X] the constraints go on X, as pydantic applies them."""
        cons = self.constraints()
        docs = self.documentation()
        if cons and not isinstance(tp, str) and get_origin(tp) in _UNIONS and type(None) in get_args(tp):
            members = tuple(a for a in get_args(tp) if a is not type(None))
            inner = members[0] if len(members) == 1 else Union[members]
            tp = Optional[Annotated[inner, msgspec.Meta(**pattern_meta(inner, cons))]]
            cons = {}
        cons = pattern_meta(tp, cons)
        for k, v in docs.items():
            if k == "extra_json_schema" and k in cons:
                cons[k] = {**cons[k], **v}
            else:
                cons[k] = v
        return Annotated[tp, msgspec.Meta(**cons)] if cons else tp

    def __repr__(self):
        shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in _FIELD_ATTRS
                          if getattr(self, k) is not None and getattr(self, k) is not _NODEFAULT)
        return f"FieldInfo({shown})"


def Field(default=_NODEFAULT, *, default_factory=None, alias=None, title=None, description=None, gt=None,
          ge=None, lt=None, le=None, multiple_of=None, min_length=None, max_length=None, pattern=None,
          examples=None, deprecated=None, json_schema_extra=None, regex=None, min_items=None, max_items=None):
    """A model field's default, alias, constraints and documentation (pydantic's Field).
    regex, min_items, max_items: pydantic v1's (and Catzilla 0.2.3's) names for
    pattern, min_length, max_length."""
    pattern = renamed_option(pattern, "pattern", regex, "regex")
    min_length = renamed_option(min_length, "min_length", min_items, "min_items")
    max_length = renamed_option(max_length, "max_length", max_items, "max_items")
    return FieldInfo(default, default_factory=default_factory, alias=alias, title=title,
                     description=description, gt=gt, ge=ge, lt=lt, le=le, multiple_of=multiple_of,
                     min_length=min_length, max_length=max_length, pattern=pattern, examples=examples,
                     deprecated=deprecated, json_schema_extra=json_schema_extra)


cdef object renamed_option(object value, str name, object old, str old_name):
    """`value`, or the option's former name's value (pydantic v1's regex...); not both."""
    if old is None:
        return value
    if value is not None:
        raise TypeError(f"give {name} or {old_name}, not both")
    return old


cdef bint _is_classvar(object tp):
    if isinstance(tp, str):
        return tp.startswith(("ClassVar", "typing.ClassVar"))
    return tp is ClassVar or get_origin(tp) is ClassVar


def _copier(value):
    return lambda: copy.deepcopy(value)


class _ModelMeta(msgspec.StructMeta):
    """Turns `x: int = Field(ge=1)` into `x: Annotated[int, Meta(ge=1)]` with its
    default (msgspec.field for aliases and factories) before msgspec builds the
    Struct; fields are keyword-only so required ones may follow defaults."""

    def __new__(mcls, name, bases, namespace, **kwargs):
        kwargs.setdefault("kw_only", True)
        ns = dict(namespace)
        config = ns.get("model_config") or {}      # pydantic's spelling of the two it shares
        if config.get("extra") == "forbid":
            kwargs.setdefault("forbid_unknown_fields", True)
        if config.get("frozen"):
            kwargs.setdefault("frozen", True)
        declared = dict(ns.get("__annotations__", {}))
        annotations = {}
        fields = {}
        scope = None
        for fname, tp in declared.items():
            if isinstance(tp, str):
                if scope is None:
                    scope = _defining_scope()
                tp = _resolved(tp, scope)
            if _is_classvar(tp):
                annotations[fname] = tp
                continue
            value = ns.get(fname, _NODEFAULT)
            info = value if isinstance(value, FieldInfo) else FieldInfo(value)
            annotations[fname] = info.annotate(tp)
            default = info.default
            factory = info.default_factory
            if isinstance(default, (list, dict, set, bytearray)) and default:
                factory, default = _copier(default), _NODEFAULT     # msgspec holds only empty mutables
            if default is not _NODEFAULT:
                try:
                    encode_json(default)
                except Exception as exc:
                    raise TypeError(f"{name}.{fname}: the default {default!r} cannot be a model default "
                                    f"(not JSON-encodable: {exc})") from None
            if info.alias is not None or factory is not None:
                ns[fname] = msgspec.field(default=default, default_factory=factory or _NODEFAULT,
                                          name=info.alias)
            elif default is not _NODEFAULT:
                ns[fname] = default
            else:
                ns.pop(fname, None)
            fields[fname] = FieldInfo(info.default, default_factory=info.default_factory, alias=info.alias,
                                      title=info.title, description=info.description, gt=info.gt, ge=info.ge,
                                      lt=info.lt, le=info.le, multiple_of=info.multiple_of,
                                      min_length=info.min_length, max_length=info.max_length,
                                      pattern=info.pattern, examples=info.examples, deprecated=info.deprecated,
                                      json_schema_extra=info.json_schema_extra, annotation=tp)
        ns["__annotations__"] = annotations
        try:
            cls = super().__new__(mcls, name, bases, ns, **kwargs)
        except TypeError as exc:
            raise TypeError(f"model {name}: {exc}") from None
        model_fields = {}
        for base in reversed(cls.__mro__[1:]):
            model_fields.update(getattr(base, "model_fields", None) or {})
        model_fields.update(fields)
        type.__setattr__(cls, "model_fields", model_fields)
        if cls.__struct_fields__:
            _check_model(cls, name)
        return cls


cdef object _custom(object t, set seen):
    """The first type in `t` (msgspec type info) that msgspec knows only as a
    custom type (one it would need a hook for), or None."""
    if id(t) in seen:
        return None
    seen.add(id(t))
    if type(t) is _mi.CustomType or type(t) is _mi.ExtType:
        return getattr(t, "cls", t)
    for name in ("type", "item_type", "key_type", "value_type"):
        sub = getattr(t, name, None)
        if isinstance(sub, _mi.Type):
            found = _custom(sub, seen)
            if found is not None:
                return found
    for sub in (getattr(t, "item_types", None) or getattr(t, "types", None) or ()):
        found = _custom(sub, seen)
        if found is not None:
            return found
    for f in getattr(t, "fields", None) or ():
        found = _custom(f.type, seen)
        if found is not None:
            return found
    return None


cdef object _msgspec_info(object tp):
    """msgspec's type info for `tp`; TypeError when msgspec cannot validate all of
    it from JSON (NameError: a forward reference not defined yet)."""
    info = _mi.type_info(tp)
    found = _custom(info, set())
    if found is not None:
        raise TypeError(f"type {_type_name(found)} is not supported")
    return info


cdef tuple _defining_scope():
    # The namespaces of the code running the class statement (this compiled
    # function has no frame of its own), so that string annotations naming
    # local or exec'd classes resolve, as pydantic resolves them.
    frame = sys._getframe(0)
    return frame.f_globals, frame.f_locals


cdef object _resolved(str annotation, tuple scope):
    """A string annotation evaluated where the class is defined, or kept as a
    string (a forward reference msgspec resolves once the name exists)."""
    try:
        return eval(annotation, scope[0], scope[1])
    except Exception:
        return annotation


cdef _check_model(object cls, str name):
    """An annotation msgspec cannot validate raises here, naming the field (a
    forward reference not yet defined is checked when the model is first used)."""
    try:
        _msgspec_info(cls)
        return
    except NameError:
        return
    except TypeError as exc:
        error = exc
    try:
        hints = get_type_hints(cls, include_extras=True)
    except NameError:
        return
    for fname in cls.__struct_fields__:
        try:
            _msgspec_info(hints[fname])
        except NameError:
            pass
        except TypeError as exc:
            raise TypeError(f"model {name}, field {fname!r}: {exc}") from None
    raise TypeError(f"model {name}: {error}") from None


class BaseModel(msgspec.Struct, metaclass=_ModelMeta):
    """A model: a msgspec Struct (keyword-only fields) with pydantic's method names.

        class Item(BaseModel):
            sku: str = Field(pattern=r"^[A-Z]-[0-9]+$")
            qty: int = Field(ge=1, le=1000)
            note: str | None = None
    """

    model_fields: ClassVar[dict] = {}
    # pydantic's model_config, for what msgspec has too: {"extra": "forbid"} (unknown fields are
    # errors: forbid_unknown_fields) and {"frozen": True}; class keywords work as well
    model_config: ClassVar[dict] = {}

    @classmethod
    def model_validate(cls, obj):
        """From Python objects (a dict, or an instance), pydantic's lax rules."""
        return codec(cls).convert(obj, True)

    @classmethod
    def model_validate_json(cls, data):
        """From JSON (bytes or str), in one pass; ValidationError lists every error."""
        if isinstance(data, str):
            data = (<str>data).encode("utf-8")
        return codec(cls).decode_json(data)

    # `include` is a Cython keyword: it arrives through **options (the stub has the signature)
    def model_dump(self, *, mode="python", by_alias=False, exclude_none=False, exclude=None, **options):
        """A dict of the fields (nested models as dicts). mode="json": JSON-ready values."""
        included = _include(options)
        if mode not in ("python", "json"):
            raise ValueError(f"mode must be 'python' or 'json', not {mode!r}")
        out = _dump(self, by_alias, exclude_none, included, exclude)
        if mode == "json":
            out = msgspec.to_builtins(out, enc_hook=_enc_hook)
        return out

    def model_dump_json(self, *, by_alias=False, exclude_none=False, exclude=None, **options):
        """JSON text (str), like pydantic's."""
        included = _include(options)
        if (by_alias or not _renames(type(self))) and not exclude_none and included is None and exclude is None:
            return encode_json(self).decode("utf-8")       # what the encoder writes is what was asked
        return encode_json(_dump(self, by_alias, exclude_none, included, exclude)).decode("utf-8")

    @classmethod
    def model_json_schema(cls, ref_template="#/$defs/{model}"):
        """JSON Schema 2020-12 of this model, nested models under "$defs"."""
        template = ref_template.replace("{model}", "{name}")
        (top,), components = json_schema([cls], template)
        ref = top.get("$ref", "")
        name = next((n for n in components if template.format(name=n) == ref), None)
        if name is None:
            return top
        schema = components.pop(name)
        if components:
            schema = dict(schema, **{"$defs": components})
        return schema

    def model_copy(self, *, update=None, deep=False):
        """A copy, with `update`'s fields replaced (not validated, like pydantic)."""
        new = copy.deepcopy(self) if deep else msgspec.structs.replace(self)
        if update:
            new = msgspec.structs.replace(new, **update)
        return new

    # pydantic v1's names (Catzilla 0.2.3 models had them); last in the body, as
    # `dict` shadows the builtin in the class namespace from here on
    @classmethod
    def parse_obj(cls, obj):
        return cls.model_validate(obj)

    @classmethod
    def parse_raw(cls, data):
        return cls.model_validate_json(data)

    def json(self, **options):
        return self.model_dump_json(**options)

    def dict(self, **options):
        return self.model_dump(**options)


cdef dict _RENAMES = {}


cdef bint _renames(object cls):
    """Whether any Struct reachable from `cls` has a field whose wire name differs."""
    try:
        return _RENAMES[cls]
    except KeyError:
        pass
    found = _any_rename(_mi.type_info(cls), set())
    _RENAMES[cls] = found
    return found


cdef bint _any_rename(object t, set seen):
    if id(t) in seen:
        return False
    seen.add(id(t))
    for f in getattr(t, "fields", None) or ():
        if getattr(f, "encode_name", f.name) != f.name or _any_rename(f.type, seen):
            return True
    for name in ("type", "item_type", "key_type", "value_type"):
        sub = getattr(t, name, None)
        if isinstance(sub, _mi.Type) and _any_rename(sub, seen):
            return True
    for sub in (getattr(t, "item_types", None) or getattr(t, "types", None) or ()):
        if _any_rename(sub, seen):
            return True
    return False


cdef object _include(dict options):
    spec = options.pop("include", None)
    if options:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(options)}")
    return spec


cdef object _selected(object spec, object key):
    # include/exclude: a set of names, or a dict name -> nested spec (True: all)
    if spec is None:
        return None
    if isinstance(spec, dict):
        return (<dict>spec).get(key)
    return True if key in spec else None


cdef object _dump(object obj, bint by_alias, bint exclude_none, object included, object exclude):
    cdef dict out
    if isinstance(obj, msgspec.Struct):
        out = {}
        names = type(obj).__struct_fields__
        keys = type(obj).__struct_encode_fields__ if by_alias else names
        for name, key in zip(names, keys):
            inc = _selected(included, name) if included is not None else True
            exc = _selected(exclude, name)
            if inc is None or exc is True:
                continue
            value = getattr(obj, name)
            if exclude_none and value is None:
                continue
            out[key] = _dump(value, by_alias, exclude_none, inc if isinstance(inc, (dict, set)) else None,
                             exc if isinstance(exc, (dict, set)) else None)
        return out
    if isinstance(obj, dict):
        return {k: _dump(v, by_alias, exclude_none, None, None) for k, v in (<dict>obj).items()}
    if isinstance(obj, list):
        return [_dump(v, by_alias, exclude_none, None, None) for v in obj]
    if isinstance(obj, tuple):
        return tuple([_dump(v, by_alias, exclude_none, None, None) for v in obj])
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _dump(getattr(obj, f.name), by_alias, exclude_none, None, None)
                for f in dataclasses.fields(obj)}
    if _pydantic_instance(obj):
        return obj.model_dump(by_alias=by_alias, exclude_none=exclude_none)
    return obj


# -- pydantic, when installed ---------------------------------------------------------------------

cdef bint _pydantic_class(object tp):
    pyd = sys.modules.get("pydantic")    # no pydantic imported: no pydantic model can exist
    return pyd is not None and isinstance(tp, type) and issubclass(tp, pyd.BaseModel)


cdef bint _pydantic_instance(object obj):
    pyd = sys.modules.get("pydantic")
    return pyd is not None and isinstance(obj, pyd.BaseModel)


cdef object _plain(object v):
    # ctx values are JSON-ready (pydantic puts exceptions in some)
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return str(v)


cdef list _pydantic_errors(object exc, object data):
    cdef list out = []
    for e in exc.errors(include_url=False):
        if e["type"] == "json_invalid" and data is not None:
            return [_json_invalid(data)]
        d = {"type": e["type"], "loc": tuple(e["loc"]), "msg": e["msg"], "input": e.get("input")}
        ctx = e.get("ctx")
        if ctx:
            d["ctx"] = {k: _plain(v) for k, v in ctx.items()}
        out.append(d)
    return out


# -- the pattern checks after a decode --------------------------------------------------------------
# A tree built once per Codec from msgspec's type info, with a node only where a
# compiled-checked pattern is reachable: a decoded Order walks customer.email and
# items[*].sku and nothing else.

cdef class _Walk:
    cdef bint ok(self, object v) except -1:
        return True


cdef class _WStr(_Walk):
    cdef Pattern pattern
    cdef _Walk inner                     # the pattern's Metadata wraps more than a str: its checks, or None

    cdef bint ok(self, object v) except -1:
        if isinstance(v, str) and not self.pattern.search(<str>v):
            return False
        return self.inner is None or self.inner.ok(v)


cdef class _WFields(_Walk):
    cdef list names                      # attribute (or TypedDict key) names
    cdef list walks
    cdef bint by_key                     # a TypedDict: a dict, keys possibly absent

    cdef bint recursive                  # reached again from inside itself: guard the C stack

    cdef bint ok(self, object v) except -1:
        cdef Py_ssize_t i
        cdef bint good = True
        if self.recursive:
            Py_EnterRecursiveCall(" checking patterns")
        try:
            for i in range(len(self.names)):
                if self.by_key:
                    if self.names[i] not in v:
                        continue
                    sub = (<dict>v)[self.names[i]]
                else:
                    sub = getattr(v, <str>self.names[i])
                if not (<_Walk>self.walks[i]).ok(sub):
                    good = False
                    break
        finally:
            if self.recursive:
                Py_LeaveRecursiveCall()
        return good


cdef class _WItems(_Walk):
    cdef _Walk item

    cdef bint ok(self, object v) except -1:
        for x in v:
            if not self.item.ok(x):
                return False
        return True


cdef class _WTuple(_Walk):
    cdef list walks                      # per position, None where nothing is checked

    cdef bint ok(self, object v) except -1:
        cdef Py_ssize_t i
        for i in range(len(self.walks)):
            if self.walks[i] is not None and not (<_Walk>self.walks[i]).ok(v[i]):
                return False
        return True


cdef class _WDict(_Walk):
    cdef _Walk key, value                # either may be None

    cdef bint ok(self, object v) except -1:
        for k, x in (<dict>v).items():
            if self.key is not None and not self.key.ok(k):
                return False
            if self.value is not None and not self.value.ok(x):
                return False
        return True


cdef class _WUnion(_Walk):
    cdef list kinds                      # per checked member: the Python type(s) its decoded values have
    cdef list walks

    cdef bint ok(self, object v) except -1:
        cdef Py_ssize_t i
        for i in range(len(self.kinds)):
            if isinstance(v, self.kinds[i]):
                return (<_Walk>self.walks[i]).ok(v)
        return True


cdef object _py_kind(object t):
    """The Python type(s) a value of msgspec type info `t` decodes to (the
    members of a msgspec union are told apart by them), or None."""
    tt = type(t)
    if tt is _mi.Metadata:
        return _py_kind(t.type)
    if tt is _mi.StrType:
        return str
    if tt is _mi.StructType or tt is _mi.DataclassType:
        return t.cls
    if tt is _mi.ListType:
        return list
    if tt is _mi.SetType:
        return set
    if tt is _mi.FrozenSetType:
        return frozenset
    if tt is _mi.TupleType or tt is _mi.VarTupleType or tt is _mi.NamedTupleType:
        return tuple
    if tt is _mi.DictType or tt is _mi.TypedDictType:
        return dict
    return None


cdef bint _has_pattern(object t, set seen):
    if id(t) in seen:
        return False
    seen.add(id(t))
    tt = type(t)
    if tt is _mi.Metadata:
        return _meta_pattern(t) is not None or _has_pattern(t.type, seen)
    for name in ("item_type", "key_type", "value_type"):
        sub = getattr(t, name, None)
        if isinstance(sub, _mi.Type) and _has_pattern(sub, seen):
            return True
    for sub in (getattr(t, "item_types", None) or getattr(t, "types", None) or ()):
        if _has_pattern(sub, seen):
            return True
    for f in getattr(t, "fields", None) or ():
        if _has_pattern(f.type, seen):
            return True
    return False


cdef _Walk _walk(object t, dict memo):
    """The checks of type info `t`, or None when no compiled-checked pattern is
    reachable from it. Raises TypeError for a shape it cannot follow."""
    cdef _WStr ws
    cdef _WFields wf
    cdef _WItems wi
    cdef _WTuple wt
    cdef _WDict wd
    cdef _WUnion wu
    if not _has_pattern(t, set()):
        return None
    tt = type(t)
    if tt is _mi.Metadata:
        p = _meta_pattern(t)
        inner = _walk(t.type, memo)
        if p is None:
            return inner
        ws = _WStr()
        ws.pattern = p
        ws.inner = inner
        return ws
    if tt is _mi.StructType or tt is _mi.DataclassType or tt is _mi.TypedDictType or tt is _mi.NamedTupleType:
        key = (tt, t.cls)
        if key in memo:                      # a recursive type: the node being built
            node = memo[key]
            if isinstance(node, _WFields):
                (<_WFields>node).recursive = True
            return node
        if tt is _mi.NamedTupleType:
            wt = _WTuple()
            memo[key] = wt
            wt.walks = [_walk(f.type, memo) for f in t.fields]
            return wt
        wf = _WFields()
        memo[key] = wf
        wf.by_key = tt is _mi.TypedDictType
        wf.names = []
        wf.walks = []
        for f in t.fields:
            sub = _walk(f.type, memo)
            if sub is not None:
                wf.names.append(f.name)
                wf.walks.append(sub)
        return wf
    if tt is _mi.ListType or tt is _mi.SetType or tt is _mi.FrozenSetType or tt is _mi.VarTupleType:
        wi = _WItems()
        wi.item = _walk(t.item_type, memo)
        return wi
    if tt is _mi.TupleType:
        wt = _WTuple()
        wt.walks = [_walk(x, memo) for x in t.item_types]
        return wt
    if tt is _mi.DictType:
        wd = _WDict()
        wd.key = _walk(t.key_type, memo)
        wd.value = _walk(t.value_type, memo)
        return wd
    if tt is _mi.UnionType:
        wu = _WUnion()
        wu.kinds = []
        wu.walks = []
        for member in t.types:
            sub = _walk(member, memo)
            if sub is not None:
                kind = _py_kind(member)
                if kind is None:
                    raise TypeError(f"cannot check patterns inside {member!r}")
                wu.kinds.append(kind)
                wu.walks.append(sub)
        return wu
    raise TypeError(f"cannot check patterns inside {t!r}")


# -- codecs ----------------------------------------------------------------------------------------

cdef dict _CODECS = {}


cdef class Codec:
    """Validation and encoding for one type: codec(tp), cached."""

    def __init__(self, tp):
        self.type = tp
        self.schema_type = tp
        try:
            self.info = _msgspec_info(tp)
            self.decoder = msgspec.json.Decoder(tp, strict=False)
            # msgspec.convert keeps what it learns of a type on Struct and dataclass
            # classes only: any other type rides in a one-field Struct, or it would be
            # worked out again on every call (3-7x slower for an Enum, a Literal, a UUID)
            if not (isinstance(tp, type) and (issubclass(tp, msgspec.Struct) or dataclasses.is_dataclass(tp))):
                self.box = msgspec.defstruct("Value", [("value", tp)])
            self.patterns = _walk(self.info, {})
        except (TypeError, NameError) as exc:
            if "pydantic" not in sys.modules:
                raise TypeError(f"cannot validate {_type_name(tp)}: {exc}") from None
            from pydantic import TypeAdapter
            try:
                self.adapter = TypeAdapter(tp)
            except Exception as pexc:
                raise TypeError(f"cannot validate {_type_name(tp)}: {exc}; pydantic: {pexc}") from None
            self.is_pydantic = True

    cpdef object decode_json(self, object data):
        if self.adapter is not None:
            try:
                return self.adapter.validate_json(data)
            except Exception as exc:
                if not isinstance(exc, sys.modules["pydantic"].ValidationError):
                    raise
                raise ValidationError(_pydantic_errors(exc, data), _type_name(self.type)) from None
        try:
            value = self.decoder.decode(data)
        except _MSGSPEC_VALIDATION:
            pass
        except (_MSGSPEC_DECODE, RecursionError):     # malformed, or nested beyond msgspec's limit
            raise ValidationError([_json_invalid(data)], _type_name(self.type)) from None
        else:
            if self.patterns is None or self.patterns.ok(value):
                return value
        # the slow path: every error, from the plain JSON value (the typed decoder may
        # have stopped before a syntax error further on)
        try:
            value = msgspec.json.decode(data)
        except (_MSGSPEC_DECODE, RecursionError):
            raise ValidationError([_json_invalid(data)], _type_name(self.type)) from None
        return self._slow(value, True, True)

    cpdef object convert(self, object obj, bint from_strings=False):
        if self.adapter is not None:
            try:
                return self.adapter.validate_python(obj, strict=False if from_strings else None)
            except Exception as exc:
                if not isinstance(exc, sys.modules["pydantic"].ValidationError):
                    raise
                raise ValidationError(_pydantic_errors(exc, None), _type_name(self.type)) from None
        try:
            if self.box is None:
                value = _CONVERT(obj, self.type, strict=not from_strings)
            else:
                value = _CONVERT({"value": obj}, self.box, strict=not from_strings).value
        except _MSGSPEC_VALIDATION:
            return self._slow(obj, from_strings, False)
        if self.patterns is None or self.patterns.ok(value):
            return value
        return self._slow(obj, from_strings, False)

    cdef object _slow(self, object value, bint lax, bint js):
        cdef list errors = []
        normal = _check(self.info, value, (), errors, lax, js)
        if not errors:
            # accepted by the walker's wider rules ("yes" for a bool...): the normalised value
            try:
                return msgspec.convert(normal, self.type, strict=not lax)
            except _MSGSPEC_VALIDATION as exc:
                errors = [_from_msgspec(exc, value)]
        raise ValidationError(errors, _type_name(self.type)) from None

    cpdef bytes encode(self, object value):
        if self.adapter is not None:
            return self.adapter.dump_json(value, by_alias=True)
        return _ENCODER.encode(value)

    def __repr__(self):
        return f"<Codec {_type_name(self.type)}{' (pydantic)' if self.adapter is not None else ''}>"


cpdef Codec codec(object tp):
    """The Codec of a type, built once."""
    try:
        return _CODECS[tp]
    except KeyError:
        pass
    except TypeError:                       # unhashable annotation: not cached
        return Codec(tp)
    c = Codec(tp)
    _CODECS[tp] = c
    return c


cpdef bint is_model(object tp):
    """A type that is a request body by itself when bare: msgspec Structs
    (BaseModel), dataclasses, TypedDicts, pydantic v2 models."""
    if not isinstance(tp, type):
        return False
    return (issubclass(tp, msgspec.Struct) or dataclasses.is_dataclass(tp) or is_typeddict(tp)
            or _pydantic_class(tp))


cdef str _type_name(object tp):
    return tp.__name__ if isinstance(tp, type) else repr(tp)


# -- JSON Schema ------------------------------------------------------------------------------------

cdef object _rewrite_refs(object node, dict renamed):
    if isinstance(node, dict):
        return {k: (renamed.get(v, v) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v, renamed))
                for k, v in (<dict>node).items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, renamed) for v in node]
    return node


def json_schema(types, ref_template="#/components/schemas/{name}"):
    """JSON Schema 2020-12 for each type (msgspec-supported and pydantic ones
    together): (list of schemas, in order; dict of shared components, their
    names unique). References are ref_template.format(name=...)."""
    types = list(types)
    cdef list out = [None] * len(types)
    cdef dict components = {}
    plain = [i for i, tp in enumerate(types) if not codec(tp).is_pydantic]
    if plain:
        schemas, comps = msgspec.json.schema_components([types[i] for i in plain], ref_template=ref_template)
        components.update(comps)
        for i, s in zip(plain, schemas):
            out[i] = s
    pyd_template = ref_template.replace("{name}", "{model}")
    for i, tp in enumerate(types):
        if out[i] is not None:
            continue
        schema = codec(tp).adapter.json_schema(ref_template=pyd_template, mode="validation")
        defs = schema.pop("$defs", {})
        if _pydantic_class(tp):            # a model is a component, like a Struct
            defs[tp.__name__] = schema
            schema = {"$ref": ref_template.format(name=tp.__name__)}
        renamed = {}
        names = {}
        for name, sub in defs.items():
            new = name
            n = 2
            while new in components and components[new] != _rewrite_refs(sub, renamed):
                new = f"{name}{n}"
                n += 1
            names[name] = new
            if new != name:
                renamed[ref_template.format(name=name)] = ref_template.format(name=new)
        for name, sub in defs.items():
            components[names[name]] = _rewrite_refs(sub, renamed)
        out[i] = _rewrite_refs(schema, renamed)
    return out, components


# -- the slow path: every error, pydantic's codes -------------------------------------------------------

cdef dict _err(str type_, tuple loc, str msg, object input_, dict ctx=None):
    cdef dict e = {"type": type_, "loc": loc, "msg": msg, "input": input_}
    if ctx is not None:
        e["ctx"] = ctx
    return e


cdef dict _json_invalid(object data):
    """Malformed JSON: FastAPI's error, its position in characters (stdlib parser)."""
    raw = bytes(data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _err("json_invalid", (len(raw[:exc.start].decode("utf-8", "replace")),), "JSON decode error", {},
                    {"error": "Invalid UTF-8 in the body"})
    try:
        _stdjson.loads(text)
    except _stdjson.JSONDecodeError as exc:
        return _err("json_invalid", (exc.pos,), "JSON decode error", {}, {"error": exc.msg})
    except RecursionError:
        return _err("json_invalid", (0,), "JSON decode error", {}, {"error": "Nested too deeply"})
    # the standard library takes what msgspec refused (NaN, Infinity, depth): msgspec's reason and byte
    try:
        msgspec.json.decode(raw)
        reason, pos = "Invalid JSON", 0
    except RecursionError:
        reason, pos = "Nested too deeply", 0
    except _MSGSPEC_DECODE as exc:
        reason = str(exc)
        m = re.search(r"\(byte (\d+)\)", reason)
        pos = len(raw[:int(m.group(1))].decode("utf-8", "replace")) if m else 0
        reason = re.sub(r"^JSON is malformed: |\s*\(byte \d+\)$", "", reason)
    return _err("json_invalid", (pos,), "JSON decode error", {}, {"error": reason})


cdef object _LOC_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")


cdef dict _from_msgspec(object exc, object value):
    """msgspec's own message when the walker found nothing (a __post_init__ error...)."""
    text = str(exc)
    msg, _, path = text.partition(" - at `$")
    loc = []
    for m in _LOC_PART.finditer(path.rstrip("`")):
        if m.group(1) is not None:
            loc.append(m.group(1))
        elif m.group(2) is not None:
            loc.append(int(m.group(2)))
    return _err("value_error", tuple(loc), "Value error, " + msg, value, {"error": msg})


cdef str _fmt_expected(list values):
    parts = [repr(v.value if isinstance(v, enum.Enum) else v) for v in values]
    if len(parts) == 1:
        return parts[0]
    cdef Py_ssize_t last = len(parts) - 1       # no negative indexes: compiled with wraparound=False
    return ", ".join(parts[:last]) + " or " + parts[last]


cdef str _s(object n):
    return "" if n == 1 else "s"


cdef object _INT_TEXT = re.compile(r"\s*[+-]?\d+\s*")
cdef object _FLOAT_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*|\s*[+-]?(inf|infinity|nan)\s*",
                                     re.IGNORECASE)
cdef dict _BOOL_WORDS = {"0": False, "off": False, "f": False, "false": False, "n": False, "no": False,
                         "1": True, "on": True, "t": True, "true": True, "y": True, "yes": True}


cdef tuple _DICT_MSG = ("Input should be a valid dictionary", "Input should be an object")


cdef bint _bounds(object t, object v, tuple loc, list errors, object input_, bint as_float=False):
    # pydantic reports a float field's bounds as floats in ctx, as written in msg
    cdef bint ok = True
    if type(t) is _mi.DecimalType:       # msgspec keeps no bounds for Decimal
        return True
    if t.gt is not None and not v > t.gt:
        errors.append(_err("greater_than", loc, f"Input should be greater than {t.gt}", input_, {"gt": float(t.gt) if as_float else t.gt}))
        ok = False
    if t.ge is not None and not v >= t.ge:
        errors.append(_err("greater_than_equal", loc, f"Input should be greater than or equal to {t.ge}", input_,
                           {"ge": float(t.ge) if as_float else t.ge}))
        ok = False
    if t.lt is not None and not v < t.lt:
        errors.append(_err("less_than", loc, f"Input should be less than {t.lt}", input_, {"lt": float(t.lt) if as_float else t.lt}))
        ok = False
    if t.le is not None and not v <= t.le:
        errors.append(_err("less_than_equal", loc, f"Input should be less than or equal to {t.le}", input_,
                           {"le": float(t.le) if as_float else t.le}))
        ok = False
    if t.multiple_of is not None and v % t.multiple_of != 0:
        errors.append(_err("multiple_of", loc, f"Input should be a multiple of {t.multiple_of}", input_,
                           {"multiple_of": float(t.multiple_of) if as_float else t.multiple_of}))
        ok = False
    return ok


cdef bint _sized(str kind, object t, Py_ssize_t n, tuple loc, list errors, object input_):
    if t.min_length is not None and n < t.min_length:
        errors.append(_err("too_short", loc, f"{kind} should have at least {t.min_length} item{_s(t.min_length)} "
                           f"after validation, not {n}", input_,
                           {"field_type": kind, "min_length": t.min_length, "actual_length": n}))
        return False
    if t.max_length is not None and n > t.max_length:
        errors.append(_err("too_long", loc, f"{kind} should have at most {t.max_length} item{_s(t.max_length)} "
                           f"after validation, not {n}", input_,
                           {"field_type": kind, "max_length": t.max_length, "actual_length": n}))
        return False
    return True


cdef str _uuid_error(str s):
    text = s[9:] if s.lower().startswith("urn:uuid:") else s
    for i, ch in enumerate(text):
        if ch not in "0123456789abcdefABCDEF-{}":
            return f"invalid character: found `{ch}` at {i}"
    digits = text.replace("-", "").strip("{}")
    if "-" in text:
        groups = text.strip("{}").split("-")
        if len(groups) != 5:
            return f"invalid group count: expected 5, found {len(groups)}"
        for i, (g, n) in enumerate(zip(groups, (8, 4, 4, 4, 12))):
            if len(g) != n:
                return f"invalid group length in group {i}: expected {n}, found {len(g)}"
    return f"invalid length: found {len(digits)}"


cdef str _date_error(str s):
    """Why `s` is not a YYYY-MM-DD date (pydantic reports a bad date or datetime this way)."""
    if len(s) < 10:
        return "input is too short"
    if not s[:4].isdigit():
        return "invalid character in year"
    if s[4] != "-" or s[7] != "-":
        return "invalid date separator, expected `-`"
    if not s[5:7].isdigit():
        return "invalid character in month"
    if not s[8:10].isdigit():
        return "invalid character in day"
    if not 1 <= int(s[5:7]) <= 12:
        return "month value is outside expected range of 1-12"
    try:
        _dt.date(int(s[:4]), int(s[5:7]), int(s[8:10]))
    except ValueError:
        return "day value is outside expected range"
    return "unexpected extra characters at the end of the input"


cdef object _check(object t, object v, tuple loc, list errors, bint lax, bint js):
    """Append every error of `v` against msgspec type info `t` to `errors`;
    return `v` normalised where the walker's rules are wider than msgspec's."""
    cdef type tt = type(t)
    if tt is _mi.Metadata:
        normal = _check(t.type, v, loc, errors, lax, js)
        p = _meta_pattern(t)
        if p is not None and isinstance(v, str) and not p.search(v):
            errors.append(_err("string_pattern_mismatch", loc, f"String should match pattern '{p.pattern}'", v,
                               {"pattern": p.pattern}))
        return normal
    if tt is _mi.AnyType or tt is _mi.RawType:
        return v
    if tt is _mi.NoneType:
        if v is not None:
            errors.append(_err("none_required", loc, "Input should be None", v))
        return v
    if tt is _mi.IntType:
        n = None
        if isinstance(v, bool):
            pass
        elif isinstance(v, int):
            n = v
        elif isinstance(v, float):
            if v == v and v not in (float("inf"), float("-inf")):
                if v != int(v):
                    errors.append(_err("int_from_float", loc,
                                       "Input should be a valid integer, got a number with a fractional part", v))
                    return v
                n = int(v)
        elif isinstance(v, str) and lax:
            if _INT_TEXT.fullmatch(v):
                n = int(v)
            else:
                errors.append(_err("int_parsing", loc,
                                   "Input should be a valid integer, unable to parse string as an integer", v))
                return v
        if n is None:
            errors.append(_err("int_type", loc, "Input should be a valid integer", v))
            return v
        _bounds(t, n, loc, errors, v)
        return n
    if tt is _mi.FloatType:
        x = None
        if isinstance(v, bool):
            pass
        elif isinstance(v, (int, float)):
            x = float(v)
        elif isinstance(v, str) and lax:
            if _FLOAT_TEXT.fullmatch(v):
                x = float(v)
            else:
                errors.append(_err("float_parsing", loc,
                                   "Input should be a valid number, unable to parse string as a number", v))
                return v
        if x is None:
            errors.append(_err("float_type", loc, "Input should be a valid number", v))
            return v
        _bounds(t, x, loc, errors, v, True)
        return x
    if tt is _mi.BoolType:
        if isinstance(v, bool):
            return v
        if lax and isinstance(v, str) and v.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[v.strip().lower()]
        if lax and isinstance(v, int) and v in (0, 1):
            return bool(v)
        if lax and isinstance(v, (str, int)):
            errors.append(_err("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", v))
        else:
            errors.append(_err("bool_type", loc, "Input should be a valid boolean", v))
        return v
    if tt is _mi.StrType:
        if not isinstance(v, str):
            errors.append(_err("string_type", loc, "Input should be a valid string", v))
            return v
        if t.min_length is not None and len(v) < t.min_length:
            errors.append(_err("string_too_short", loc,
                               f"String should have at least {t.min_length} character{_s(t.min_length)}", v,
                               {"min_length": t.min_length}))
        if t.max_length is not None and len(v) > t.max_length:
            errors.append(_err("string_too_long", loc,
                               f"String should have at most {t.max_length} character{_s(t.max_length)}", v,
                               {"max_length": t.max_length}))
        if t.pattern is not None and not pattern_of(t.pattern).search(v):
            errors.append(_err("string_pattern_mismatch", loc, f"String should match pattern '{t.pattern}'", v,
                               {"pattern": t.pattern}))
        return v
    if tt is _mi.LiteralType:
        for lit in t.values:
            if v == lit and type(v) is type(lit):
                return v
            if lax and isinstance(v, str) and isinstance(lit, int) and not isinstance(lit, bool) \
                    and _INT_TEXT.fullmatch(v) and int(v) == lit:
                return lit
        expected = _fmt_expected(list(t.values))
        errors.append(_err("literal_error", loc, f"Input should be {expected}", v, {"expected": expected}))
        return v
    if tt is _mi.EnumType:
        members = list(t.cls)
        if isinstance(v, t.cls):
            return v
        for m in members:
            if v == m.value and type(v) is type(m.value):
                return v
            if lax and isinstance(v, str) and isinstance(m.value, int) and _INT_TEXT.fullmatch(v) \
                    and int(v) == m.value:
                return m.value
        expected = _fmt_expected(members)
        errors.append(_err("enum", loc, f"Input should be {expected}", v, {"expected": expected}))
        return v
    if tt is _mi.UUIDType:
        if isinstance(v, uuid.UUID):
            return v
        if isinstance(v, str):
            try:
                return str(uuid.UUID(v))
            except ValueError:
                err = _uuid_error(v)
                errors.append(_err("uuid_parsing", loc, "Input should be a valid UUID, " + err, v, {"error": err}))
                return v
        errors.append(_err("uuid_type", loc, "UUID input should be a string, bytes or UUID object", v))
        return v
    if tt is _mi.DateTimeType or tt is _mi.DateType or tt is _mi.TimeType:
        kind = _dt.datetime if tt is _mi.DateTimeType else _dt.date if tt is _mi.DateType else _dt.time
        if isinstance(v, kind) and (kind is not _dt.date or not isinstance(v, _dt.datetime)):
            return v
        if isinstance(v, str):
            try:
                msgspec.convert(v, kind)
                return v
            except _MSGSPEC_VALIDATION:
                pass
            if kind is _dt.time:
                err = "invalid time format" if len(v) >= 5 else "input is too short"
                errors.append(_err("time_parsing", loc, "Input should be in a valid time format, " + err, v,
                                   {"error": err}))
            elif kind is _dt.date:
                err = _date_error(v)
                errors.append(_err("date_from_datetime_parsing", loc, "Input should be a valid date or datetime, "
                                   + err, v, {"error": err}))
            else:
                err = _date_error(v)
                errors.append(_err("datetime_from_date_parsing", loc, "Input should be a valid datetime or date, "
                                   + err, v, {"error": err}))
            return v
        name = kind.__name__
        errors.append(_err(f"{name}_type", loc, f"Input should be a valid {name}", v))
        return v
    if tt is _mi.TimeDeltaType:
        if isinstance(v, _dt.timedelta):
            return v
        try:
            msgspec.convert(v, _dt.timedelta, strict=False)
            return v
        except _MSGSPEC_VALIDATION:
            errors.append(_err("time_delta_parsing", loc, "Input should be a valid timedelta, invalid duration",
                               v, {"error": "invalid duration"}))
            return v
    if tt is _mi.DecimalType:
        if isinstance(v, decimal.Decimal):
            d = v
        elif isinstance(v, (str, int, float)) and not isinstance(v, bool):
            try:
                d = decimal.Decimal(v.strip() if isinstance(v, str) else str(v))
            except decimal.InvalidOperation:
                errors.append(_err("decimal_parsing", loc, "Input should be a valid decimal", v))
                return v
        else:
            errors.append(_err("decimal_type", loc,
                               "Decimal input should be an integer, float, string or Decimal object", v))
            return v
        if d.is_finite():
            _bounds(t, d, loc, errors, v)
        return v
    if tt is _mi.BytesType or tt is _mi.ByteArrayType or tt is _mi.MemoryViewType:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return v
        if isinstance(v, str):
            try:
                msgspec.convert(v, bytes)
                return v
            except _MSGSPEC_VALIDATION:
                pass
        errors.append(_err("bytes_type", loc, "Input should be a valid bytes", v))
        return v
    if tt is _mi.UnionType:
        if v is None and t.includes_none:
            return v
        members = [m for m in t.types if type(m) is not _mi.NoneType]
        if len(members) == 1:
            return _check(members[0], v, loc, errors, lax, js)
        collected = []
        for m in members:
            mine = []
            normal = _check(m, v, loc, mine, lax, js)
            if not mine:
                return normal
            collected.append((m, mine))
        for m, mine in collected:
            tag = _member_name(m)
            for e in mine:
                e["loc"] = loc + (tag,) + e["loc"][len(loc):]
                errors.append(e)
        return v
    if tt is _mi.ListType or tt is _mi.VarTupleType or tt is _mi.SetType or tt is _mi.FrozenSetType:
        kind = {_mi.ListType: "List", _mi.VarTupleType: "Tuple", _mi.SetType: "Set",
                _mi.FrozenSetType: "Frozenset"}[tt]
        if not isinstance(v, (list, tuple, set, frozenset)) or (isinstance(v, (set, frozenset)) and kind == "List"):
            code = {"List": "list_type", "Tuple": "tuple_type", "Set": "set_type", "Frozenset": "frozen_set_type"}[kind]
            errors.append(_err(code, loc, "Input should be a valid array" if js and kind == "List"
                               else f"Input should be a valid {kind.lower()}", v))
            return v
        items = list(v)
        if t.max_length is not None and len(items) > t.max_length:
            _sized(kind, t, len(items), loc, errors, v)      # pydantic stops there: no item errors
            return v
        normal = [_check(t.item_type, item, loc + (i,), errors, lax, js) for i, item in enumerate(items)]
        _sized(kind, t, len(items), loc, errors, v)
        return normal
    if tt is _mi.TupleType:
        if not isinstance(v, (list, tuple)):
            errors.append(_err("tuple_type", loc, "Input should be a valid tuple", v))
            return v
        items = list(v)
        normal = [_check(it, item, loc + (i,), errors, lax, js) for i, (it, item) in enumerate(zip(t.item_types, items))]
        for i in range(len(items), len(t.item_types)):
            errors.append(_err("missing", loc + (i,), "Field required", v))
        if len(items) > len(t.item_types):
            n = len(t.item_types)
            errors.append(_err("too_long", loc, f"Tuple should have at most {n} item{_s(n)} after validation, "
                               f"not {len(items)}", v, {"field_type": "Tuple", "max_length": n,
                                                        "actual_length": len(items)}))
        return normal
    if tt is _mi.DictType:
        if not isinstance(v, dict):
            errors.append(_err("dict_type", loc, _DICT_MSG[js], v))
            return v
        out = {}
        for key, item in (<dict>v).items():
            k = _check(t.key_type, key, loc + (key, "[key]"), errors, lax, js)
            out[k] = _check(t.value_type, item, loc + (key,), errors, lax, js)
        _sized("Dictionary", t, len(v), loc, errors, v)
        return out
    if tt is _mi.StructType or tt is _mi.DataclassType or tt is _mi.TypedDictType:
        if tt is not _mi.TypedDictType and isinstance(v, t.cls):
            return v
        if not isinstance(v, dict):
            name = t.cls.__name__
            if tt is _mi.DataclassType:
                errors.append(_err("dataclass_type", loc, f"Input should be a dictionary or an instance of {name}",
                                   v, {"class_name": name}))
            elif tt is _mi.TypedDictType:
                errors.append(_err("dict_type", loc, _DICT_MSG[js], v))
            else:
                errors.append(_err("model_type", loc, "Input should be an object" if js else
                                   f"Input should be a valid dictionary or instance of {name}", v,
                                   {"class_name": name}))
            return v
        out = dict(v)
        for f in t.fields:
            key = getattr(f, "encode_name", f.name)
            if key not in v:
                if f.required:
                    errors.append(_err("missing", loc + (key,), "Field required", v))
                continue
            out[key] = _check(f.type, v[key], loc + (key,), errors, lax, js)
        if tt is _mi.StructType and t.forbid_unknown_fields:
            known = {getattr(f, "encode_name", f.name) for f in t.fields}
            if t.tag_field is not None:
                known.add(t.tag_field)
            for key, item in (<dict>v).items():
                if key not in known:
                    errors.append(_err("extra_forbidden", loc + (key,), "Extra inputs are not permitted", item))
        return out
    return v        # other kinds (custom, ext, named tuples...): msgspec's message if it refuses


cdef str _member_name(object t):
    cdef type tt = type(t)
    if tt is _mi.Metadata:
        return _member_name(t.type)
    if hasattr(t, "cls"):
        return t.cls.__name__
    names = {_mi.IntType: "int", _mi.FloatType: "float", _mi.StrType: "str", _mi.BoolType: "bool",
             _mi.ListType: "list", _mi.DictType: "dict", _mi.UUIDType: "uuid", _mi.DateTimeType: "datetime",
             _mi.DateType: "date", _mi.DecimalType: "decimal", _mi.LiteralType: "literal"}
    return names.get(tt, tt.__name__.lower())
