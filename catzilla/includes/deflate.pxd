# Declarations of one zlib deflate stream (include/cz_deflate.h).
cdef extern from "cz_deflate.h" nogil:
    enum:
        CZ_DEFLATE_OK
        CZ_DEFLATE_NOMEM
        CZ_DEFLATE_ERROR
        Z_NO_FLUSH
        Z_SYNC_FLUSH
        Z_FINISH
    ctypedef struct cz_deflate:
        int ready
    int cz_deflate_init(cz_deflate *d, int window_bits, int level)
    int cz_deflate_run(cz_deflate *d, const unsigned char *p, size_t n, int flush,
                       unsigned char **out, size_t *out_len)
    int cz_deflate_reset(cz_deflate *d)
    void cz_deflate_free(cz_deflate *d)
