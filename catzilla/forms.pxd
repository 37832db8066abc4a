# Body / query / path / cookie parsers (catzilla/forms.pyx), cimportable by request.pyx.
from catzilla.datastructures cimport QueryParams, FormData

# Percent-decode n bytes at s ('+' -> ' ' when plus_as_space) and decode the result
# as UTF-8 with errors="replace".  Malformed escapes are kept literally.
cdef str c_unquote(const char *s, Py_ssize_t n, bint plus_as_space)

# application/x-www-form-urlencoded parse of n bytes at s.
cdef list c_parse_urlencoded(const char *s, Py_ssize_t n)

cpdef str unquote_path(bytes raw)
cpdef QueryParams parse_query(object qs)
cpdef dict parse_cookies(str header)
cpdef FormData parse_urlencoded(bytes body)
cpdef tuple parse_options_header(str value)
cpdef bytes multipart_boundary(str content_type)
