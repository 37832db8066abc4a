# The model engine's compiled interface (catzilla/models.pyx), for the parameter
# plan: a Codec is built once per type at registration and called per request.
from catzilla.includes.pattern cimport cz_pattern


cdef class Pattern:
    # a str `pattern` constraint: include/cz_pattern.c for the subset it compiles, re otherwise
    cdef readonly str pattern
    cdef cz_pattern *prog                # NULL: outside the compiled subset
    cdef object re_search                # re.compile(pattern).search (the fallback), made when first needed
    # re.search(pattern, s) is not None
    cdef bint search(self, str s) except -1

cpdef Pattern pattern_of(str pattern)

# an option given by its name or its former one (regex for pattern...): TypeError for both
cdef object renamed_option(object value, str name, object old, str old_name)

cdef class FieldInfo:
    # What Field(...) declares, and the base of the parameter markers (catzilla.params.Param):
    # a default, constraints (msgspec.Meta keywords) and documentation. No default: _NODEFAULT.
    cdef readonly object default, default_factory, alias, title, description
    cdef readonly object gt, ge, lt, le, multiple_of, min_length, max_length, pattern
    cdef readonly object examples, deprecated, json_schema_extra
    cdef public object annotation        # a model field's declared type (model_fields), else None

# msgspec.Meta keywords for `tp` with a compiled pattern moved to what Codec checks after the decode
cdef dict pattern_meta(object tp, dict cons)

cdef class _Walk:
    # the pattern checks of a decoded value: only the paths that lead to pattern-constrained strings
    cdef bint ok(self, object v) except -1

cdef class Codec:
    cdef readonly object type            # the annotation it validates
    cdef readonly object schema_type     # what its JSON Schema is made from
    cdef readonly bint is_pydantic       # validated by pydantic (a TypeAdapter), not msgspec
    cdef object decoder                  # msgspec.json.Decoder(type, strict=False), or None
    cdef object adapter                  # pydantic.TypeAdapter(type), or None
    cdef object info                     # msgspec.inspect type info (the slow path walks it), or None
    cdef object box                      # a one-field Struct carrying `type` through msgspec.convert, or None
    cdef _Walk patterns                  # the pattern checks msgspec leaves to us (compiled), or None

    # JSON bytes -> value in one pass; models.ValidationError with every error
    cpdef object decode_json(self, object data)
    # Python objects -> value; from_strings: str inputs coerced as query strings are
    cpdef object convert(self, object obj, bint from_strings=*)
    cpdef bytes encode(self, object value)
    # after a failure: every error (models.ValidationError), or the value under the wider rules
    cdef object _slow(self, object value, bint lax, bint js)

cpdef Codec codec(object tp)
cpdef bytes encode_json(object value)
cpdef bint is_model(object tp)
