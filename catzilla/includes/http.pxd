# Declarations of the bundled C HTTP/1.1 parser (include/cz_http.h).
from libc.stdint cimport int64_t, uint64_t

cdef extern from "cz_http.h" nogil:
    int CZ_ERROR
    int CZ_INCOMPLETE
    unsigned CZ_F_CHUNKED
    unsigned CZ_F_CONN_CLOSE
    unsigned CZ_F_CONN_KEEP_ALIVE
    unsigned CZ_F_EXPECT_CONTINUE
    unsigned CZ_F_UPGRADE
    unsigned CZ_F_HAS_HOST

    ctypedef struct cz_header:
        const char *name
        size_t name_len
        const char *value
        size_t value_len

    ctypedef struct cz_limits:
        size_t max_request_line
        size_t max_head_bytes
        size_t max_headers

    ctypedef struct cz_request:
        const char *method
        size_t method_len
        const char *target
        size_t target_len
        int minor_version
        cz_header *headers
        size_t num_headers
        int64_t content_length
        unsigned flags
        int error_status
        const char *error_reason

    int cz_parse_request(const char *buf, size_t len, cz_request *req, const cz_limits *limits)

    ctypedef struct cz_chunked:
        uint64_t remaining
        size_t trailer_bytes
        size_t max_trailer_bytes

    void cz_chunked_init(cz_chunked *d, size_t max_trailer_bytes)
    int cz_chunked_decode(cz_chunked *d, const char *src, size_t len, char *dst,
                          size_t *consumed, size_t *produced)

    enum: CZ_CHUNK_HEAD_MAX
    size_t cz_chunk_head(char *out, uint64_t n)
