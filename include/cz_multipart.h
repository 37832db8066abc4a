/* Catzilla multipart/form-data parser (RFC 7578, RFC 2046 section 5.1):
 * incremental, zero-copy, strict, fixed memory.
 *
 * Plain C, no Python, no allocation. The caller owns a cz_mp (its only buffer
 * besides the caller's input is the delimiter look-behind, at most
 * 4 + boundary + CZ_MP_MAX_PADDING + 1 bytes) and a header buffer of
 * max_header + 4 bytes given to cz_mp_init. Input may be split anywhere,
 * including inside a boundary: feed each chunk as it arrives.
 *
 * Pull API, one event per call:
 *
 *     size_t pos = 0, used;
 *     for (;;) {
 *         int ev = cz_mp_feed(&mp, chunk + pos, len - pos, &used, &span);
 *         pos += used;
 *         if (ev == CZ_MP_NEED_MORE) break;     // whole chunk consumed
 *         if (ev < 0) ...error...
 *         ...handle ev / span...
 *     }
 *     // after the last chunk: cz_mp_finish(&mp) == 0, else an error code
 *
 * Events, in order: [PART_BEGIN HEADERS DATA* PART_END]* END. A span is valid
 * only until the next call: DATA points into the caller's chunk or, for the
 * rare bytes that looked like the start of a delimiter at the end of an earlier
 * chunk and turned out to be content, into the cz_mp itself; HEADERS points
 * into the header buffer (the raw block, without its final CRLF CRLF, not
 * validated: header syntax is the caller's concern). DATA spans are never
 * empty; consecutive DATA events belong to the same part.
 *
 * Policy:
 *  - the body may start with "--boundary" or have a preamble before
 *    "CRLF--boundary"; the preamble is skipped, and so is everything after the
 *    close delimiter (epilogue);
 *  - a delimiter is CRLF "--" boundary followed by "--" (close) or by up to
 *    CZ_MP_MAX_PADDING SP/HTAB (transport padding) and CRLF; more padding is an
 *    error (CZ_MP_E_PADDING), anything else makes the bytes content
 *    (look-alikes such as CRLF--boundaryX stay in the part's data);
 *  - a part's header block ends at the first CRLF CRLF (an immediate CRLF is
 *    an empty block); a block longer than max_header bytes is
 *    CZ_MP_E_HEADER_TOO_LARGE, detected as soon as max_header + 4 bytes have no
 *    terminator;
 *  - cz_mp_finish reports a body that stopped before its close delimiter;
 *  - errors are sticky: every later cz_mp_feed returns the same code.
 */
#ifndef CZ_MULTIPART_H
#define CZ_MULTIPART_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CZ_MP_MAX_BOUNDARY 70   /* RFC 2046 section 5.1.1 */
#define CZ_MP_MAX_PADDING  64   /* SP/HTAB allowed between boundary and CRLF */

/* cz_mp_feed results: an event (>= 0) or an error (< 0) */
#define CZ_MP_NEED_MORE   0     /* the input is consumed; feed more (or finish) */
#define CZ_MP_PART_BEGIN  1
#define CZ_MP_HEADERS     2     /* span = raw header block of the current part */
#define CZ_MP_DATA        3     /* span = content bytes of the current part */
#define CZ_MP_PART_END    4
#define CZ_MP_END         5     /* close delimiter seen; the rest is epilogue */

#define CZ_MP_E_BOUNDARY           (-1)  /* cz_mp_init: invalid boundary / arguments */
#define CZ_MP_E_HEADER_TOO_LARGE   (-2)
#define CZ_MP_E_PADDING            (-3)
#define CZ_MP_E_NO_OPENING         (-4)  /* cz_mp_finish: no delimiter at all */
#define CZ_MP_E_HEADERS_UNTERMINATED (-5) /* cz_mp_finish: body ended in part headers */
#define CZ_MP_E_NO_CLOSING         (-6)  /* cz_mp_finish: body ended in part content */
#define CZ_MP_E_STATE              (-7)  /* cz_mp_finish before all events were taken */

typedef struct {
    const char *at;
    size_t len;
} cz_mp_span;

typedef struct {
    int phase;            /* private: see cz_multipart.c */
    int pending;          /* event to report on the next call, or 0 */
    int error;            /* sticky error code, or 0 */
    int tail;             /* delimiter tail state */
    size_t dlen;          /* strlen("\r\n--" boundary) */
    size_t m;             /* delimiter bytes matched by the current candidate */
    size_t tl;            /* tail bytes (padding, CR, '-') matched after them */
    char *hdr;            /* caller's header buffer, hdr_max + 4 bytes */
    size_t hdr_max;
    size_t hdr_len;
    int hdr_match;        /* progress through CR LF CR LF */
    /* "\r\n--" boundary, then the tail bytes of the current candidate: the
     * look-behind, reported as DATA when a held candidate proves to be content */
    char lb[4 + CZ_MP_MAX_BOUNDARY + CZ_MP_MAX_PADDING + 1];
} cz_mp;

/* Validates the boundary (1..70 bchars, not ending in SP). `hdr` must hold
 * max_header + 4 bytes and outlive the parser. Returns 0 or CZ_MP_E_BOUNDARY. */
int cz_mp_init(cz_mp *mp, const char *boundary, size_t boundary_len,
               char *hdr, size_t max_header);

/* Parses from data[0..len): returns one event (span set for HEADERS / DATA) or
 * CZ_MP_NEED_MORE, and sets *consumed (<= len) to the bytes used. Call again
 * with the rest until CZ_MP_NEED_MORE (which always consumes everything). */
int cz_mp_feed(cz_mp *mp, const char *data, size_t len, size_t *consumed,
               cz_mp_span *span);

/* After the last byte: 0 when the body was complete (close delimiter seen and
 * END taken), else the sticky error or why it is incomplete. */
int cz_mp_finish(const cz_mp *mp);

/* A short English description of an error code. */
const char *cz_mp_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
