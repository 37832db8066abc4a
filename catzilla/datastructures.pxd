# Header and multi-valued mappings (catzilla/datastructures.pyx), cimportable by
# request.pyx, forms.pyx and the response side.
#
# Contracts of the C-level factories (they validate nothing, callers must obey):
#   Headers.from_pairs(pairs): `pairs` is a list of 2-tuples (name: str, value: str)
#       whose names are ALREADY lower-cased. The list is adopted, not copied: the
#       caller must not mutate it afterwards.
#   mutable_headers_over(pairs): `pairs` is a list of 2-tuples (lower-case name: str,
#       value: str) that passed header_name()/header_value(). The list is adopted:
#       the MutableHeaders edits it in place (never rebinds it), so its owner sees
#       every change. Whoever else mutates the list must not keep a MutableHeaders
#       over it across that change, or must call its _changed() (cached
#       names/index would be stale).
#   new_query_params(items) / new_form_data(items) / new_multidict(items): `items` is a
#       list of 2-tuples (key: str, value) adopted the same way as from_pairs.

cdef class _MultiMapping:
    cdef list _pairs      # [(key, value)] in order; only MutableHeaders mutates it
    cdef list _names      # distinct keys in first-appearance order, built lazily
    cdef dict _index      # key -> [values], built lazily (see _use_index)
    cdef Py_ssize_t _scans  # linear lookups done so far

    # supplied by the subclasses
    cdef str _key(self, object key)            # the stored form of a lookup key; None: matches nothing
    cdef object _lookup(self, str key)         # what m[key] means: _first or _last (a sentinel when absent)
    cdef list _convert(self, object source)    # constructor input -> a new list of pairs
    # shared machinery
    cdef void _changed(self) noexcept          # drop the cached names/index after a mutation
    cdef dict _use_index(self)
    cdef list _distinct_keys(self)
    cdef object _first(self, str key)
    cdef object _last(self, str key)
    cdef object _get(self, object key, object default)
    cdef list _getlist(self, object key)
    cpdef object get(self, object key, object default=*)
    cpdef list getlist(self, object key)


cdef class Headers(_MultiMapping):
    @staticmethod
    cdef Headers from_pairs(list pairs)
    cpdef object get(self, object name, object default=*)
    cpdef list getlist(self, object name)


cdef class MutableHeaders(Headers):
    cdef Py_ssize_t _replace(self, str name, object value) except -1


cdef class MultiDict(_MultiMapping):
    pass


cdef class QueryParams(MultiDict):
    pass


cdef class FormData(MultiDict):
    pass


# UploadFile: `_file` is a binary file object (BytesIO, or the multipart parser's
# SpooledTemporaryFile); the parser appends to it and keeps `size` in step.
cdef class UploadFile:
    cdef readonly str filename
    cdef readonly str content_type
    cdef readonly Headers headers
    cdef readonly Py_ssize_t size
    cdef object _file
    cdef bint _closed


# Header-field validation, shared by every place that accepts headers from the
# application. header_name: str or bytes, a non-empty RFC 9110 token -> lower-case
# str (ValueError / TypeError). header_value: str, bytes (latin-1) or int ->
# str; ValueError when not latin-1 or holding CR, LF, NUL or another control
# character but HTAB.
cdef str header_name(object name)
cdef str header_value(object value)
# dict / Mapping / iterable of pairs / Headers (None -> []) -> a new list of
# validated (lower-case name, value) pairs; list/tuple mapping values expand.
cdef list validated_pairs(object source)
cdef MutableHeaders mutable_headers_over(list pairs)

cdef MultiDict new_multidict(list items)
cdef QueryParams new_query_params(list items)
cdef FormData new_form_data(list items)
# An empty UploadFile over `file` (size 0): the caller writes the content and size.
cdef UploadFile new_upload_file(str filename, object file, str content_type, Headers headers)
