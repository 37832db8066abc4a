# Request-side data structures (catzilla/datastructures.pyx), cimportable by
# request.pyx and forms.pyx.
#
# Contracts for the C-level factories (no validation is done, callers must obey):
#   Headers.from_pairs(pairs): `pairs` is a list of 2-tuples (name: str, value: str)
#       whose names are ALREADY lower-cased. The list is adopted, not copied: the
#       caller must not mutate it afterwards.
#   new_query_params(items) / new_form_data(items) / new_multidict(items): `items` is a
#       list of 2-tuples (key: str, value) adopted the same way.

cdef class Headers:
    cdef list _pairs      # [(lower-case name, value)], never mutated after construction
    cdef list _names      # distinct names in first-appearance order, built lazily
    cdef dict _index      # name -> [values], built lazily (see _use_index)

    @staticmethod
    cdef Headers from_pairs(list pairs)

    cdef object _first(self, str lname)
    cdef list _build_names(self)
    cdef dict _build_index(self)
    cpdef object get(self, object name, object default=*)
    cpdef list getlist(self, object name)

    cdef Py_ssize_t _scans  # linear lookups done so far
    cdef dict _use_index(self)


cdef class MultiDict:
    cdef list _items      # [(key, value)], never mutated after construction
    cdef list _keys       # distinct keys in first-appearance order, built lazily
    cdef dict _index      # key -> [values], built lazily (see _use_index)

    cdef object _last(self, object key)
    cdef list _build_keys(self)
    cdef dict _build_index(self)
    cpdef object get(self, object key, object default=*)
    cpdef list getlist(self, object key)

    cdef Py_ssize_t _scans  # linear lookups done so far
    cdef dict _use_index(self)


cdef class QueryParams(MultiDict):
    pass


cdef class FormData(MultiDict):
    pass


cdef class UploadFile:
    cdef readonly str filename
    cdef readonly str content_type
    cdef readonly Headers headers
    cdef readonly Py_ssize_t size
    cdef bytes _data
    cdef bint _closed


cdef MultiDict new_multidict(list items)
cdef QueryParams new_query_params(list items)
cdef FormData new_form_data(list items)
cdef UploadFile new_upload_file(str filename, bytes data, str content_type, Headers headers)
