# Declarations of the compiled string-pattern matcher (include/cz_pattern.h).
from libc.stdint cimport uint32_t

cdef extern from "cz_pattern.h" nogil:
    int CZ_PATTERN_NOMATCH
    int CZ_PATTERN_MATCH
    int CZ_PATTERN_UNDECIDED
    int CZ_PATTERN_NOMEM
    int CZ_PATTERN_UNSUPPORTED
    int CZ_PATTERN_TOO_BIG

    ctypedef struct cz_pattern:
        pass

    int cz_pattern_compile(const uint32_t *pattern, size_t n, cz_pattern **out)
    void cz_pattern_free(cz_pattern *p)
    int cz_pattern_search(const cz_pattern *p, int kind, const void *data, size_t len)
    size_t cz_pattern_size(const cz_pattern *p)
