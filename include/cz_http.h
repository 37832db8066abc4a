/* Catzilla HTTP/1.1 request parser: zero-copy, incremental, strict.
 *
 * Plain C, no Python. Every pointer returned points into the caller's buffer;
 * nothing is allocated. A request head is re-parsed from its first byte after
 * each read until complete (heads are small; this keeps the parser stateless),
 * but errors are reported as soon as the bytes seen so far prove them, and
 * size limits are enforced on partial input so a slow or endless head is cut
 * off early (414 / 431).
 *
 * Policy (documented in README "HTTP correctness"):
 *  - lines end in CRLF; a bare LF is a 400 (RFC 9112 §2.2 allows rejecting it,
 *    and accepting it is a known smuggling vector between proxies); so is a
 *    CR not followed by LF;
 *  - up to 4 empty lines before the request line are skipped, a 5th is a 400;
 *  - method = token, single SP separators, request-target = 1*VCHAR (no
 *    CTL, SP or non-ASCII byte: clients percent-encode), "HTTP/1.1" or
 *    "HTTP/1.0"; any other well-formed "HTTP/d.d" -> 505, other text -> 400;
 *  - obs-fold, whitespace before ':' or before the first field, CTLs in
 *    names/values -> 400; values may hold obs-text (0x80-0xFF) and HTAB;
 *  - Content-Length with Transfer-Encoding, bad Content-Length (anything but
 *    1*DIGIT, over INT64_MAX), Content-Length repeated (even with the same
 *    value), Transfer-Encoding other than a single final "chunked" (one
 *    field, value "chunked" in any case), any Transfer-Encoding on HTTP/1.0
 *    -> 400;
 *  - HTTP/1.1 without a Host, more than one Host (any version), or a Host
 *    value with bytes outside uri-host [":" port] -> 400;
 *  - Connection must be a list of tokens (else 400); close / keep-alive /
 *    upgrade set flags; Expect: 100-continue sets a flag, other
 *    expectations are ignored.
 */
#ifndef CZ_HTTP_H
#define CZ_HTTP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CZ_ERROR      (-1)
#define CZ_INCOMPLETE (-2)

/* req->flags */
#define CZ_F_CHUNKED          0x01u /* Transfer-Encoding: chunked */
#define CZ_F_CONN_CLOSE       0x02u /* Connection: close token present */
#define CZ_F_CONN_KEEP_ALIVE  0x04u /* Connection: keep-alive token present */
#define CZ_F_EXPECT_CONTINUE  0x08u /* Expect: 100-continue */
#define CZ_F_UPGRADE          0x10u /* Connection: upgrade token present */
#define CZ_F_HAS_HOST         0x20u

typedef struct {
    const char *name;
    size_t name_len;
    const char *value;       /* leading/trailing OWS stripped */
    size_t value_len;
} cz_header;

typedef struct {
    size_t max_request_line;  /* method SP target SP version, without CRLF; over -> 414 */
    size_t max_head_bytes;    /* whole head including the final CRLFCRLF; over -> 431 */
    size_t max_headers;       /* header fields; over -> 431 (must be <= capacity of req->headers) */
} cz_limits;

typedef struct {
    /* out; on CZ_ERROR or CZ_INCOMPLETE, method and target are what was read
     * of them (NULL/0 when not reached; the target possibly a cut prefix) */
    const char *method;
    size_t method_len;
    const char *target;       /* request-target as sent: path[?query] or absolute-form */
    size_t target_len;
    int minor_version;        /* 0 or 1 (-1 before the version was parsed) */
    cz_header *headers;       /* in: caller's array, at least limits->max_headers long */
    size_t num_headers;       /* out */
    int64_t content_length;   /* -1 when absent */
    unsigned flags;           /* CZ_F_* */
    int error_status;         /* on CZ_ERROR: 400, 414, 431 or 505 */
    const char *error_reason; /* on CZ_ERROR: static text, e.g. "invalid header name" */
} cz_request;

/* Parse a request head from buf[0, len).
 * Returns the head's length in bytes (through the blank line) when complete,
 * CZ_INCOMPLETE when more bytes are needed, CZ_ERROR with error_status set.
 * Leading empty lines (CRLF) before the request line are skipped, at most a
 * few, as RFC 9112 §2.2 allows; they count in the returned length. */
int cz_parse_request(const char *buf, size_t len, cz_request *req, const cz_limits *limits);

/* Incremental chunked body decoder (RFC 9112 §7.1). A state machine, so it
 * accepts input split anywhere (one byte at a time included). Chunk sizes
 * are 1 to 16 hex digits; extensions follow the RFC grammar (BWS around ';'
 * and '=', none before the CRLF) and a chunk-size line, extensions included,
 * is limited to 4096 bytes. Trailer fields are validated like header fields and
 * discarded; their lines (with CRLFs, without the final empty line) may total
 * at most max_trailer_bytes. */
typedef struct {
    uint64_t remaining;       /* bytes left in the current chunk's data */
    size_t trailer_bytes;     /* trailer section bytes seen so far */
    size_t max_trailer_bytes; /* set by cz_chunked_init */
    size_t scratch;           /* internal */
    int state;                /* internal */
} cz_chunked;

void cz_chunked_init(cz_chunked *d, size_t max_trailer_bytes);

/* Decode src[0, len): payload bytes are written to dst (dst may equal src or
 * lie before it: the copy is a memmove). *consumed gets the raw bytes used,
 * *produced the payload bytes written. Returns 1 when the last chunk and the
 * trailer section are complete (bytes after *consumed belong to the next
 * request), 0 when more input is needed (everything given was consumed),
 * CZ_ERROR on malformed input (bad hex, size overflow, bad extension, missing
 * CRLF after data, bare LF, bad or oversized trailers). Errors are sticky;
 * once complete, further calls return 1 and consume nothing. */
int cz_chunked_decode(cz_chunked *d, const char *src, size_t len, char *dst,
                      size_t *consumed, size_t *produced);

/* Encoding: the size line that starts a chunk of n bytes, n in lowercase hex
 * then CRLF, written to out (room for CZ_CHUNK_HEAD_MAX bytes); returns its
 * length. Per chunk of every stream, so no printf. */
#define CZ_CHUNK_HEAD_MAX 18   /* 16 hex digits + CRLF */

static inline size_t cz_chunk_head(char *out, uint64_t n)
{
    static const char hex[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                 '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    size_t digits = 1, i;
    while (digits < 16 && (n >> (4 * digits)) != 0)
        digits++;
    for (i = 0; i < digits; i++)
        out[digits - 1 - i] = hex[(n >> (4 * i)) & 15];
    out[digits] = '\r';
    out[digits + 1] = '\n';
    return digits + 2;
}

#ifdef __cplusplus
}
#endif
#endif
