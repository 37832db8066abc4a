/* See cz_deflate.h. */
#include "cz_deflate.h"

#include <stdlib.h>

#define CHUNK_MAX ((size_t)1 << 30)     /* zlib's avail_in/avail_out are uInt */

static int z_error(int ret) {
    return ret == Z_MEM_ERROR ? CZ_DEFLATE_NOMEM : CZ_DEFLATE_ERROR;
}

int cz_deflate_init(cz_deflate *d, int window_bits, int level) {
    int ret, bits = window_bits < 0 ? -window_bits : window_bits > 15 ? window_bits - 16 : window_bits;
    d->ready = 0;
    d->zs.zalloc = Z_NULL;
    d->zs.zfree = Z_NULL;
    d->zs.opaque = Z_NULL;
    if (bits < 9 || bits > 15 || window_bits > 31 || level < -1 || level > 9)
        return CZ_DEFLATE_ERROR;
    ret = deflateInit2(&d->zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
    if (ret != Z_OK)
        return z_error(ret);
    d->ready = 1;
    return CZ_DEFLATE_OK;
}

int cz_deflate_run(cz_deflate *d, const unsigned char *p, size_t n, int flush,
                   unsigned char **out, size_t *out_len) {
    unsigned char *buf, *q;
    size_t cap, len = 0, chunk, room;
    uInt before;
    int last, ret, err;

    *out = NULL;
    *out_len = 0;
    if (!d->ready)
        return CZ_DEFLATE_ERROR;
    cap = (size_t)deflateBound(&d->zs, (uLong)n) + 32;   /* + flush marker and gzip trailer */
    if (cap < n) {
        err = CZ_DEFLATE_NOMEM;   /* overflow */
        goto fail;
    }
    buf = malloc(cap);
    if (buf == NULL) {
        err = CZ_DEFLATE_NOMEM;
        goto fail;
    }
    do {
        chunk = n > CHUNK_MAX ? CHUNK_MAX : n;
        last = chunk == n;
        d->zs.next_in = (z_const Bytef *)p;
        d->zs.avail_in = (uInt)chunk;
        for (;;) {
            if (len == cap) {   /* deflateBound should make this rare */
                if (cap > ((size_t)-1) / 2) { err = CZ_DEFLATE_NOMEM; goto fail_buf; }
                q = realloc(buf, cap * 2);
                if (q == NULL) { err = CZ_DEFLATE_NOMEM; goto fail_buf; }
                buf = q;
                cap *= 2;
            }
            room = cap - len;
            d->zs.next_out = buf + len;
            d->zs.avail_out = (uInt)(room > CHUNK_MAX ? CHUNK_MAX : room);
            before = d->zs.avail_out;
            ret = deflate(&d->zs, last ? flush : Z_NO_FLUSH);
            len += before - d->zs.avail_out;
            if (ret == Z_STREAM_END)
                break;              /* Z_FINISH is done: the trailer is out */
            /* Z_BUF_ERROR: nothing to do (e.g. a second flush with no new input). */
            if (ret != Z_OK && ret != Z_BUF_ERROR) { err = z_error(ret); goto fail_buf; }
            if (d->zs.avail_in == 0 && d->zs.avail_out > 0 && !(last && flush == Z_FINISH))
                break;
            if (ret == Z_BUF_ERROR && d->zs.avail_out > 0) { err = CZ_DEFLATE_ERROR; goto fail_buf; }
        }
        p += chunk;
        n -= chunk;
    } while (!last);
    *out = buf;
    *out_len = len;
    return CZ_DEFLATE_OK;
fail_buf:
    free(buf);
fail:
    cz_deflate_free(d);
    return err;
}

int cz_deflate_reset(cz_deflate *d) {
    int ret;
    if (!d->ready)
        return CZ_DEFLATE_ERROR;
    ret = deflateReset(&d->zs);
    if (ret != Z_OK) {
        cz_deflate_free(d);
        return z_error(ret);
    }
    return CZ_DEFLATE_OK;
}

void cz_deflate_free(cz_deflate *d) {
    if (d->ready)
        deflateEnd(&d->zs);
    d->ready = 0;
}
