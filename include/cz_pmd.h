/* permessage-deflate (RFC 7692) over zlib: one inflater and one deflater per
 * WebSocket connection. Plain C, no Python.
 *
 * Inflate: the payloads of one message's frames are fed in order, then
 * cz_inflater_finish() feeds the 00 00 ff ff tail the sender stripped
 * (§7.2.2). Output collects in the inflater's own buffer, which never grows
 * beyond max_size bytes: the first byte past the limit is inflated into a
 * one-byte scratch and reported as CZ_PMD_TOO_BIG, so a decompression bomb
 * costs at most max_size bytes of output memory.
 *
 * Deflate: one whole message per call, Z_SYNC_FLUSH, trailing 00 00 ff ff
 * removed (§7.2.1).
 *
 * Window bits 8: zlib refuses raw deflate with an 8-bit window (-8), so the
 * deflater uses 9 instead. That still honours a negotiated 256-byte window:
 * zlib's deflate never emits a distance beyond w_size - 262 (250 for a 512-byte
 * window), so every back-reference fits the peer's 256-byte window. The
 * inflater accepts -8 and uses it as negotiated.
 */
#ifndef CZ_PMD_H
#define CZ_PMD_H

#include <stddef.h>
#include <zlib.h>

#include "cz_deflate.h"

enum {
    CZ_PMD_OK = 0,
    CZ_PMD_TOO_BIG = 1,   /* message would exceed max_size (close 1009) */
    CZ_PMD_INVALID = 2,   /* not valid deflate data (close 1007) */
    CZ_PMD_NOMEM = 3      /* malloc / zlib allocation failed */
};

typedef struct {
    z_stream zs;
    int ready;             /* inflateInit2 succeeded: inflateEnd is owed */
    int bits;              /* 8..15 */
    int no_context;        /* reset the window after every message */
    int failed;            /* sticky error of the current message, 0 if none */
    int ended;             /* a BFINAL block ended the raw stream (§7.2.3.4) */
    size_t fed;            /* compressed bytes of the current message */
    unsigned char *out;    /* the current message's decompressed bytes */
    size_t len, cap, max;  /* cap <= max always */
} cz_inflater;

typedef struct {
    cz_deflate z;
    int no_context;
} cz_deflater;

/* Both *_init functions leave the struct safe to *_free even on failure.
 * bits must be 8..15, level 0..9 (or -1 for zlib's default). */
int cz_inflater_init(cz_inflater *f, int bits, int no_context_takeover, size_t max_size);
/* Inflate one frame's payload, appending to the message: CZ_PMD_OK or an error.
 * After an error every later call returns it until cz_inflater_reset(). */
int cz_inflater_feed(cz_inflater *f, const unsigned char *p, size_t n);
/* End of message: inflate the tail. On CZ_PMD_OK the message is f->out[0..f->len).
 * A message must then end on a block boundary (§7.2.1: the sender flushed, so
 * with the tail its data ends with an empty stored block), else
 * CZ_PMD_INVALID; after a BFINAL block the tail is ignored. A message of no
 * compressed bytes at all is the empty message. */
int cz_inflater_finish(cz_inflater *f);
/* Ready for the next message: empties the buffer (giving back a large one),
 * resets the window when no_context. Returns CZ_PMD_OK or an error. */
int cz_inflater_next(cz_inflater *f);
/* Forget the current message and the window (after an error, for instance). */
int cz_inflater_reset(cz_inflater *f);
void cz_inflater_free(cz_inflater *f);

int cz_deflater_init(cz_deflater *d, int bits, int no_context_takeover, int level);
/* Compress one whole message into a malloc'd buffer (*out, *out_len; the
 * caller frees it). Returns CZ_PMD_OK, CZ_PMD_NOMEM or CZ_PMD_INVALID (zlib
 * state error). After any error the deflater is unusable (every later call
 * returns CZ_PMD_INVALID): the peer's window no longer matches ours. */
int cz_deflater_compress(cz_deflater *d, const unsigned char *p, size_t n,
                         unsigned char **out, size_t *out_len);
void cz_deflater_free(cz_deflater *d);

#endif
