# Declarations of the bundled C multipart/form-data parser (include/cz_multipart.h).

cdef extern from "cz_multipart.h" nogil:
    int CZ_MP_MAX_BOUNDARY
    int CZ_MP_MAX_PADDING

    int CZ_MP_NEED_MORE
    int CZ_MP_PART_BEGIN
    int CZ_MP_HEADERS
    int CZ_MP_DATA
    int CZ_MP_PART_END
    int CZ_MP_END

    int CZ_MP_E_BOUNDARY
    int CZ_MP_E_HEADER_TOO_LARGE
    int CZ_MP_E_PADDING
    int CZ_MP_E_NO_OPENING
    int CZ_MP_E_HEADERS_UNTERMINATED
    int CZ_MP_E_NO_CLOSING
    int CZ_MP_E_STATE

    ctypedef struct cz_mp_span:
        const char *at
        size_t len

    ctypedef struct cz_mp:    # fields private to cz_multipart.c
        pass

    int cz_mp_init(cz_mp *mp, const char *boundary, size_t boundary_len,
                   char *hdr, size_t max_header)
    int cz_mp_feed(cz_mp *mp, const char *data, size_t len, size_t *consumed,
                   cz_mp_span *span)
    int cz_mp_finish(const cz_mp *mp)
    const char *cz_mp_strerror(int code)
