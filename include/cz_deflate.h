/* One zlib deflate stream whose output is collected into malloc'd buffers:
 * shared by permessage-deflate (raw deflate, one sync-flushed message per
 * call) and HTTP content coding (gzip, one sync-flushed chunk per call, then
 * Z_FINISH). Plain C, no Python. */
#ifndef CZ_DEFLATE_H
#define CZ_DEFLATE_H

#include <stddef.h>
#include <zlib.h>

enum {
    CZ_DEFLATE_OK = 0,
    CZ_DEFLATE_NOMEM = 1,   /* malloc / zlib allocation failed */
    CZ_DEFLATE_ERROR = 2    /* zlib state error, or a call after the stream ended or failed */
};

typedef struct {
    z_stream zs;
    int ready;              /* deflateInit2 succeeded and no error since: deflateEnd is owed */
} cz_deflate;

/* window_bits as zlib's deflateInit2 takes them: -9..-15 raw deflate, 9..15
 * zlib, 25..31 gzip (16 + bits). level 0..9 or -1 (zlib's default). Leaves
 * the struct safe to cz_deflate_free even on failure. */
int cz_deflate_init(cz_deflate *d, int window_bits, int level);
/* Compress p[0..n) followed by `flush` (Z_SYNC_FLUSH: everything so far is
 * decodable from the output; Z_FINISH: the stream ends, with its trailer) into
 * a malloc'd buffer (*out, *out_len; the caller frees it, even when
 * *out_len is 0). After an error the stream is freed and every later call
 * returns CZ_DEFLATE_ERROR: its output would no longer be decodable. */
int cz_deflate_run(cz_deflate *d, const unsigned char *p, size_t n, int flush,
                   unsigned char **out, size_t *out_len);
/* Start a new stream with the same parameters (forgets the window). */
int cz_deflate_reset(cz_deflate *d);
void cz_deflate_free(cz_deflate *d);

#endif
