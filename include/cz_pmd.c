/* permessage-deflate (RFC 7692) over zlib; see cz_pmd.h. */
#include "cz_pmd.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MAX ((size_t)1 << 30)     /* zlib's avail_in/avail_out are uInt */
#define FIRST_CAP ((size_t)4096)
#define KEEP_CAP ((size_t)65536)        /* larger buffers are freed between messages */

static const unsigned char TAIL[4] = {0x00, 0x00, 0xff, 0xff};

static int z_error(int ret) {
    return ret == Z_MEM_ERROR ? CZ_PMD_NOMEM : CZ_PMD_INVALID;
}

static int deflate_error(int ret) {
    return ret == CZ_DEFLATE_NOMEM ? CZ_PMD_NOMEM : CZ_PMD_INVALID;
}

/* ---- inflate ---------------------------------------------------------- */

int cz_inflater_init(cz_inflater *f, int bits, int no_context_takeover, size_t max_size) {
    int ret;
    memset(f, 0, sizeof *f);
    if (bits < 8 || bits > 15)
        return CZ_PMD_INVALID;
    f->bits = bits;
    f->no_context = no_context_takeover != 0;
    f->max = max_size;
    f->zs.zalloc = Z_NULL;
    f->zs.zfree = Z_NULL;
    f->zs.opaque = Z_NULL;
    ret = inflateInit2(&f->zs, -bits);   /* negative: raw deflate, no zlib header */
    if (ret != Z_OK)
        return z_error(ret);
    f->ready = 1;
    return CZ_PMD_OK;
}

static int inflate_fail(cz_inflater *f, int err) {
    f->failed = err;
    return err;
}

/* A block with BFINAL set ended the raw stream (§7.2.3.4 allows senders to do
 * that). Start a new one that still sees the window, since later data may
 * refer back to it. */
static int restart_stream(cz_inflater *f) {
    unsigned char *dict;
    uInt dict_len = 0;
    int ret;
    dict = malloc((size_t)1 << f->bits);
    if (dict == NULL)
        return CZ_PMD_NOMEM;
    ret = inflateGetDictionary(&f->zs, dict, &dict_len);
    if (ret == Z_OK)
        ret = inflateReset(&f->zs);
    if (ret == Z_OK && dict_len > 0)
        ret = inflateSetDictionary(&f->zs, dict, dict_len);
    free(dict);
    f->ended = 0;
    return ret == Z_OK ? CZ_PMD_OK : z_error(ret);
}

/* Room after len: double the buffer, never beyond max. */
static int grow(cz_inflater *f) {
    size_t want;
    unsigned char *p;
    want = f->cap == 0 ? FIRST_CAP : (f->cap > f->max / 2 ? f->max : f->cap * 2);
    if (want > f->max)
        want = f->max;
    if (want <= f->cap)
        return CZ_PMD_TOO_BIG;   /* caller checks cap < max first; never reached */
    p = realloc(f->out, want);
    if (p == NULL)
        return CZ_PMD_NOMEM;
    f->out = p;
    f->cap = want;
    return CZ_PMD_OK;
}

static int inflate_chunk(cz_inflater *f, const unsigned char *p, uInt n) {
    unsigned char scratch;   /* where a byte past max_size lands, to be detected */
    uInt before, produced;
    size_t room;
    int full, ret, err;

    if (f->ended && n > 0) {   /* more data after a final block: a new stream */
        err = restart_stream(f);
        if (err != CZ_PMD_OK)
            return inflate_fail(f, err);
    }
    f->zs.next_in = (z_const Bytef *)p;
    f->zs.avail_in = n;
    for (;;) {
        if (f->len == f->cap && f->cap < f->max) {
            err = grow(f);
            if (err != CZ_PMD_OK)
                return inflate_fail(f, err);
        }
        full = f->len == f->cap;
        if (full) {
            f->zs.next_out = &scratch;
            f->zs.avail_out = 1;
        } else {
            room = f->cap - f->len;
            f->zs.next_out = f->out + f->len;
            f->zs.avail_out = (uInt)(room > CHUNK_MAX ? CHUNK_MAX : room);
        }
        before = f->zs.avail_out;
        ret = inflate(&f->zs, Z_SYNC_FLUSH);
        produced = before - f->zs.avail_out;
        if (full && produced > 0)
            return inflate_fail(f, CZ_PMD_TOO_BIG);
        f->len += full ? 0 : produced;
        switch (ret) {
        case Z_OK:
            break;
        case Z_STREAM_END:
            f->ended = 1;
            if (f->zs.avail_in == 0)
                return CZ_PMD_OK;
            err = restart_stream(f);
            if (err != CZ_PMD_OK)
                return inflate_fail(f, err);
            continue;
        case Z_BUF_ERROR:   /* no progress possible: input used up, or output full */
            if (f->zs.avail_in == 0)
                return CZ_PMD_OK;
            if (f->zs.avail_out > 0)
                return inflate_fail(f, CZ_PMD_INVALID);   /* cannot happen; never spin */
            continue;
        default:            /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR, Z_MEM_ERROR */
            return inflate_fail(f, ret == Z_NEED_DICT ? CZ_PMD_INVALID : z_error(ret));
        }
        /* Output space left over means inflate has written all it can. */
        if (f->zs.avail_in == 0 && f->zs.avail_out > 0)
            return CZ_PMD_OK;
    }
}

int cz_inflater_feed(cz_inflater *f, const unsigned char *p, size_t n) {
    size_t chunk;
    int err;
    if (f->failed)
        return f->failed;
    if (!f->ready)
        return inflate_fail(f, CZ_PMD_INVALID);
    f->fed += n;
    while (n > 0) {
        chunk = n > CHUNK_MAX ? CHUNK_MAX : n;
        err = inflate_chunk(f, p, (uInt)chunk);
        if (err != CZ_PMD_OK)
            return err;
        p += chunk;
        n -= chunk;
    }
    return CZ_PMD_OK;
}

int cz_inflater_finish(cz_inflater *f) {
    int err;
    if (f->failed)
        return f->failed;
    if (!f->ready)
        return inflate_fail(f, CZ_PMD_INVALID);
    if (f->fed == 0)
        return CZ_PMD_OK;   /* no payload: the tail alone would open a stored block */
    if (!f->ended) {
        err = inflate_chunk(f, TAIL, (uInt)sizeof TAIL);
        if (err != CZ_PMD_OK)
            return err;
        /* data_type bit 128: inflate stopped between blocks. */
        if (!f->ended && !(f->zs.data_type & 128))
            return inflate_fail(f, CZ_PMD_INVALID);
    }
    if (f->ended) {   /* the next message continues in a new stream */
        err = restart_stream(f);
        if (err != CZ_PMD_OK)
            return inflate_fail(f, err);
    }
    return CZ_PMD_OK;
}

int cz_inflater_reset(cz_inflater *f) {
    int ret;
    f->len = 0;
    f->fed = 0;
    f->failed = 0;
    f->ended = 0;
    if (!f->ready)
        return CZ_PMD_INVALID;
    ret = inflateReset(&f->zs);
    if (ret != Z_OK)
        return inflate_fail(f, z_error(ret));
    return CZ_PMD_OK;
}

int cz_inflater_next(cz_inflater *f) {
    if (f->cap > KEEP_CAP) {
        free(f->out);
        f->out = NULL;
        f->cap = 0;
    }
    if (f->failed || f->no_context)
        return cz_inflater_reset(f);
    f->len = 0;
    f->fed = 0;
    return CZ_PMD_OK;
}

void cz_inflater_free(cz_inflater *f) {
    if (f->ready)
        inflateEnd(&f->zs);
    f->ready = 0;
    free(f->out);
    f->out = NULL;
    f->len = f->cap = 0;
}

/* ---- deflate ---------------------------------------------------------- */

int cz_deflater_init(cz_deflater *d, int bits, int no_context_takeover, int level) {
    int ret;
    memset(d, 0, sizeof *d);
    if (bits < 8 || bits > 15 || level < -1 || level > 9)
        return CZ_PMD_INVALID;
    d->no_context = no_context_takeover != 0;
    /* zlib rejects a raw 8-bit window; 9 emits no distance > 250 (see cz_pmd.h). */
    ret = cz_deflate_init(&d->z, -(bits == 8 ? 9 : bits), level);
    return ret == CZ_DEFLATE_OK ? CZ_PMD_OK : deflate_error(ret);
}

int cz_deflater_compress(cz_deflater *d, const unsigned char *p, size_t n,
                         unsigned char **out, size_t *out_len) {
    unsigned char *buf;
    size_t len;
    int ret;

    *out = NULL;
    *out_len = 0;
    ret = cz_deflate_run(&d->z, p, n, Z_SYNC_FLUSH, &buf, &len);
    if (ret != CZ_DEFLATE_OK)
        return deflate_error(ret);
    if (len >= sizeof TAIL && memcmp(buf + len - sizeof TAIL, TAIL, sizeof TAIL) == 0) {
        len -= sizeof TAIL;   /* §7.2.1: the receiver appends it back */
    } else if (len == 0) {
        /* An empty message right after a flush: zlib emits nothing. Send one
         * 0x00, the start of an empty stored block the tail completes
         * (cz_deflate_run's buffer always has room for it). */
        buf[0] = 0x00;
        len = 1;
    } else {
        ret = CZ_PMD_INVALID;
        goto fail;
    }
    if (d->no_context) {
        ret = cz_deflate_reset(&d->z);
        if (ret != CZ_DEFLATE_OK) {
            ret = deflate_error(ret);
            goto fail;
        }
    }
    *out = buf;
    *out_len = len;
    return CZ_PMD_OK;
fail:
    /* The stream may hold part of this message: later output would not match
     * what the peer's window holds, so the deflater is done. */
    free(buf);
    cz_deflater_free(d);
    return ret;
}

void cz_deflater_free(cz_deflater *d) {
    cz_deflate_free(&d->z);
}
