/* libFuzzer target for include/cz_multipart.c.
 *
 * Input: byte 0 picks the boundary, byte 1 the header limit, byte 2 the seed
 * of the chunk sizes; the rest is the body. The body is parsed three ways: in
 * one feed, in chunks of pseudo-random sizes, and one byte per feed. Every
 * chunk is copied to its own exact-size heap block, so AddressSanitizer catches
 * any read past `len`. Invariants (abort() on violation):
 *  - the three event logs are identical (consecutive DATA spans merged, the
 *    final finish/error code included);
 *  - consumed <= len; a call that reports no event consumed everything; a call
 *    that consumed nothing reported an event; spans are non-empty DATA inside
 *    the chunk or the parser's look-behind, and HEADERS inside the header
 *    buffer, at most max_header long;
 *  - no part's content holds a real delimiter (CRLF--boundary then "--" or
 *    SP/HTAB* CRLF), every header block is followed by content ending at one,
 *    and events come in the order [PART_BEGIN HEADERS DATA* PART_END]* END.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cz_multipart.h"

static const char *const BOUNDARIES[] = {
    "b", "XyZ", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a'()+_,-./:=?z", "sp ace",
    "1234567890123456789012345678901234567890123456789012345678901234567890",
};
static const size_t HEADER_LIMITS[] = {0, 1, 4, 16, 64, 200, 16384};

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "fuzz_multipart: invariant failed: %s (line %d)\n", #cond, __LINE__); \
    abort(); } } while (0)

/* An append-only log: event codes with lengths, header and data bytes. */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
    int last;             /* previous event, to merge DATA runs */
    int in_part;          /* between PART_BEGIN and PART_END */
    int saw_headers;
    unsigned char *part;  /* current part's content, for the delimiter check */
    size_t part_len, part_cap;
} log_t;

static void grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need)
        ncap *= 2;
    unsigned char *nb = realloc(*buf, ncap);
    CHECK(nb != NULL);
    *buf = nb;
    *cap = ncap;
}

static void log_bytes(log_t *lg, const void *p, size_t n)
{
    grow(&lg->buf, &lg->cap, lg->len + n);
    if (n)
        memcpy(lg->buf + lg->len, p, n);
    lg->len += n;
}

static void log_code(log_t *lg, int code)
{
    unsigned char b = (unsigned char)(code + 16);
    log_bytes(lg, &b, 1);
}

/* Where the first "\r\n--" boundary + ("--" | [ \t]* "\r\n") in p[0..n) starts, or n. */
static size_t first_delimiter(const unsigned char *p, size_t n, const char *b)
{
    size_t bl = strlen(b), i, k;
    for (i = 0; i + 4 + bl <= n; i++) {
        if (memcmp(p + i, "\r\n--", 4) != 0 || memcmp(p + i + 4, b, bl) != 0)
            continue;
        k = i + 4 + bl;
        if (k + 1 < n && p[k] == '-' && p[k + 1] == '-')
            return i;
        while (k < n && (p[k] == ' ' || p[k] == '\t'))
            k++;
        if (k + 1 < n && p[k] == '\r' && p[k + 1] == '\n')
            return i;
    }
    return n;
}

static void on_event(log_t *lg, int ev, const cz_mp_span *sp, const char *boundary)
{
    if (ev == CZ_MP_DATA) {
        CHECK(lg->in_part && lg->saw_headers);
        grow(&lg->part, &lg->part_cap, lg->part_len + sp->len);
        memcpy(lg->part + lg->part_len, sp->at, sp->len);
        lg->part_len += sp->len;
        if (lg->last != CZ_MP_DATA)
            log_code(lg, ev);
        log_bytes(lg, sp->at, sp->len);
        lg->last = ev;
        return;
    }
    if (lg->last == CZ_MP_DATA)
        log_code(lg, 99);                        /* end of a DATA run */
    lg->last = ev;
    log_code(lg, ev);
    switch (ev) {
    case CZ_MP_PART_BEGIN:
        CHECK(!lg->in_part);
        lg->in_part = 1;
        lg->saw_headers = 0;
        lg->part_len = 0;
        break;
    case CZ_MP_HEADERS:
        CHECK(lg->in_part && !lg->saw_headers);
        lg->saw_headers = 1;
        log_bytes(lg, &sp->len, sizeof sp->len);
        log_bytes(lg, sp->at, sp->len);
        break;
    case CZ_MP_PART_END:
        CHECK(lg->in_part && lg->saw_headers);
        /* content + a close delimiter: the first real delimiter is that one (none
         * inside the content, none starting in it and ending in the delimiter) */
        {
            size_t bl = strlen(boundary), n = lg->part_len;
            grow(&lg->part, &lg->part_cap, n + 6 + bl);
            memcpy(lg->part + n, "\r\n--", 4);
            memcpy(lg->part + n + 4, boundary, bl);
            memcpy(lg->part + n + 4 + bl, "--", 2);
            CHECK(first_delimiter(lg->part, n + 6 + bl, boundary) == n);
        }
        lg->in_part = 0;
        break;
    case CZ_MP_END:
        CHECK(!lg->in_part);
        break;
    default:
        CHECK(0);
    }
}

/* Feeds body[0..n) in chunks whose sizes come from `next_size` (0 = all). */
static void run(const unsigned char *body, size_t n, const char *boundary, size_t hmax,
                uint32_t seed, int mode, log_t *lg)
{
    cz_mp mp;
    char *hdr = malloc(hmax + 4);
    size_t off = 0;
    int rc = 0;
    CHECK(hdr != NULL);
    CHECK(cz_mp_init(&mp, boundary, strlen(boundary), hdr, hmax) == 0);
    memset(lg, 0, sizeof(*lg));
    while (off < n && rc >= 0) {
        size_t want = n - off;
        if (mode == 1) {
            seed = seed * 1103515245u + 12345u;
            size_t s = (seed >> 16) % 9 == 0 ? (seed >> 8) % 300 : (seed >> 16) % 7 + 1;
            if (s == 0)
                s = 1;
            if (s < want)
                want = s;
        } else if (mode == 2) {
            want = 1;
        }
        char *chunk = malloc(want);
        CHECK(chunk != NULL);
        memcpy(chunk, body + off, want);
        size_t pos = 0;
        for (;;) {
            size_t used = 12345;
            cz_mp_span sp;
            rc = cz_mp_feed(&mp, chunk + pos, want - pos, &used, &sp);
            CHECK(used <= want - pos);
            if (rc < 0) {
                break;
            }
            pos += used;
            if (rc == CZ_MP_NEED_MORE) {
                CHECK(pos == want);
                break;
            }
            if (rc == CZ_MP_DATA) {
                int in_chunk = sp.at >= chunk && sp.at + sp.len <= chunk + want;
                int in_lb = sp.at >= mp.lb && sp.at + sp.len <= mp.lb + sizeof mp.lb;
                CHECK(sp.len > 0 && (in_chunk || in_lb));
            } else if (rc == CZ_MP_HEADERS) {
                CHECK(sp.at == hdr && sp.len <= hmax);
            }
            on_event(lg, rc, &sp, boundary);
        }
        free(chunk);
        off += want;
    }
    if (rc >= 0) {
        rc = cz_mp_finish(&mp);
        /* an empty feed changes nothing */
        size_t used;
        cz_mp_span sp;
        CHECK(cz_mp_feed(&mp, "", 0, &used, &sp) == (mp.error ? mp.error : CZ_MP_NEED_MORE));
        CHECK(cz_mp_finish(&mp) == rc);
    } else {
        size_t used;
        cz_mp_span sp;
        CHECK(cz_mp_feed(&mp, "x", 1, &used, &sp) == rc && used == 0);   /* sticky */
        CHECK(cz_mp_finish(&mp) == rc);
    }
    if (rc == 0)
        CHECK(lg->last == CZ_MP_END);
    if (lg->last == CZ_MP_DATA)
        log_code(lg, 99);
    log_code(lg, rc);
    free(lg->part);
    lg->part = NULL;
    free(hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_t one, split, bytes;
    if (size < 3)
        return 0;
    const char *boundary = BOUNDARIES[data[0] % (sizeof BOUNDARIES / sizeof BOUNDARIES[0])];
    size_t hmax = HEADER_LIMITS[data[1] % (sizeof HEADER_LIMITS / sizeof HEADER_LIMITS[0])];
    uint32_t seed = data[2];
    run(data + 3, size - 3, boundary, hmax, seed, 0, &one);
    run(data + 3, size - 3, boundary, hmax, seed, 1, &split);
    run(data + 3, size - 3, boundary, hmax, seed, 2, &bytes);
    CHECK(one.len == split.len && memcmp(one.buf, split.buf, one.len) == 0);
    CHECK(one.len == bytes.len && memcmp(one.buf, bytes.buf, one.len) == 0);
    free(one.buf);
    free(split.buf);
    free(bytes.buf);
    return 0;
}
