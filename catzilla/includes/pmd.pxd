# Declarations of permessage-deflate over zlib (include/cz_pmd.h).
cdef extern from "cz_pmd.h" nogil:
    enum:
        CZ_PMD_OK
        CZ_PMD_TOO_BIG
        CZ_PMD_INVALID
        CZ_PMD_NOMEM
    ctypedef struct cz_inflater:
        unsigned char *out
        size_t len
    ctypedef struct cz_deflater:
        pass
    int cz_inflater_init(cz_inflater *f, int bits, int no_context_takeover, size_t max_size)
    int cz_inflater_feed(cz_inflater *f, const unsigned char *p, size_t n)
    int cz_inflater_finish(cz_inflater *f)
    int cz_inflater_next(cz_inflater *f)
    int cz_inflater_reset(cz_inflater *f)
    void cz_inflater_free(cz_inflater *f)
    int cz_deflater_init(cz_deflater *d, int bits, int no_context_takeover, int level)
    int cz_deflater_compress(cz_deflater *d, const unsigned char *p, size_t n,
                             unsigned char **out, size_t *out_len)
    void cz_deflater_free(cz_deflater *d)
