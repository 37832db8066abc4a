/* libFuzzer target for include/cz_ws.c: the WebSocket frame-header parser,
 * the unmasker, the incremental UTF-8 validator and the close-payload check.
 *
 * Input: byte 0 picks the parser options (bit 0: RSV1 allowed, bit 1: inside a
 * fragmented message, bit 2: masks required), byte 1 the size limit, byte 2
 * a split point; the rest is the data. Invariants (abort() when broken):
 *  - the header parser reads nothing past the length it is given (the data
 *    is copied to an exactly sized heap block, so ASan sees any over-read);
 *    on every prefix it answers INCOMPLETE until some length, then always
 *    the same verdict and fields;
 *  - a header written by cz_ws_write_header parses back to the same fields;
 *  - unmasking in two pieces (any split, offset carried) equals a byte loop,
 *    and unmasking twice restores the data;
 *  - the UTF-8 verdict equals a reference decoder's (written differently:
 *    it decodes code points and checks which completions remain possible),
 *    the first rejected byte is the reference's first bad byte, and feeding
 *    in two pieces gives the same state as feeding at once;
 *  - the close-payload check agrees with the RFC's rules applied directly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cz_ws.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* Could a sequence with value-so-far cp and `rem` continuation bytes still
 * to come end as a scalar value >= min (no overlong), <= U+10FFFF, not a
 * surrogate? */
static int feasible(uint32_t cp, int rem, uint32_t min)
{
    uint64_t lo = (uint64_t)cp << (6 * rem);
    uint64_t hi = lo | (((uint64_t)1 << (6 * rem)) - 1);
    if (hi < min || lo > 0x10FFFF)
        return 0;
    if (lo < min) lo = min;
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    return !(lo >= 0xD800 && hi <= 0xDFFF);
}

/* Index of the first byte after which no valid completion exists (n when
 * none); *complete: the text ends on a whole character. */
static size_t ref_first_bad(const unsigned char *p, size_t n, int *complete)
{
    size_t i = 0;
    int len, j;
    uint32_t cp, min;
    *complete = 1;
    while (i < n) {
        unsigned b = p[i];
        if (b < 0x80) { i++; continue; }
        if ((b & 0xE0) == 0xC0) { len = 2; cp = b & 0x1F; min = 0x80; }
        else if ((b & 0xF0) == 0xE0) { len = 3; cp = b & 0x0F; min = 0x800; }
        else if ((b & 0xF8) == 0xF0) { len = 4; cp = b & 0x07; min = 0x10000; }
        else return i;
        if (!feasible(cp, len - 1, min))
            return i;
        for (j = 1; j < len; j++) {
            if (i + j >= n) { *complete = 0; return n; }
            if ((p[i + j] & 0xC0) != 0x80)
                return i + j;
            cp = (cp << 6) | (p[i + j] & 0x3F);
            if (!feasible(cp, len - 1 - j, min))
                return i + j;
        }
        i += len;
    }
    return n;
}

static void check_utf8(const unsigned char *p, size_t n, size_t split)
{
    int complete;
    size_t bad = ref_first_bad(p, n, &complete), i;
    int ref_valid = bad == n && complete;
    uint32_t s1 = CZ_UTF8_ACCEPT, s2 = CZ_UTF8_ACCEPT;

    CHECK(!!cz_utf8_valid(p, n) == ref_valid);
    /* byte by byte: -1 exactly at the reference's first bad byte */
    for (i = 0; i < n; i++) {
        int r = cz_utf8_feed(&s1, p + i, 1);
        CHECK((r == -1) == (i == bad));
        if (r == -1)
            break;
    }
    if (bad == n)
        CHECK(!!cz_utf8_complete(s1) == complete);
    /* two pieces: the same final verdict as one */
    if (split > n)
        split = n;
    s2 = CZ_UTF8_ACCEPT;
    if (cz_utf8_feed(&s2, p, split) == 0)
        cz_utf8_feed(&s2, p + split, n - split);
    s1 = CZ_UTF8_ACCEPT;
    cz_utf8_feed(&s1, p, n);
    CHECK(s1 == s2);
}

static void check_header(const unsigned char *data, size_t n, unsigned opts, uint64_t max_payload)
{
    unsigned rsv_allowed = (opts & 1) ? CZ_WS_RSV1 : 0;
    int in_message = (opts >> 1) & 1, require_mask = (opts >> 2) & 1;
    size_t lim = n < CZ_WS_MAX_HEADER + 2 ? n : CZ_WS_MAX_HEADER + 2, k;
    cz_ws_frame first, f;
    int verdict = CZ_WS_INCOMPLETE, r;

    memset(&first, 0, sizeof first);
    for (k = 0; k <= lim; k++) {
        unsigned char *copy = malloc(k ? k : 1);   /* exact size: ASan catches over-reads */
        CHECK(copy != NULL);
        memcpy(copy, data, k);
        memset(&f, 0, sizeof f);
        r = cz_ws_parse_header(copy, k, rsv_allowed, in_message, require_mask, max_payload, &f);
        free(copy);
        CHECK(r == CZ_WS_INCOMPLETE || r == CZ_WS_ERROR || (r >= 2 && r <= CZ_WS_MAX_HEADER && (size_t)r <= k));
        if (verdict == CZ_WS_INCOMPLETE) {
            verdict = r;
            first = f;
        } else {
            CHECK(r == verdict);                    /* more bytes never change the verdict */
            if (r > 0) {
                CHECK(f.fin == first.fin && f.opcode == first.opcode && f.rsv == first.rsv);
                CHECK(f.length == first.length && f.masked == first.masked);
                CHECK(memcmp(f.mask, first.mask, 4) == 0);
            } else if (r == CZ_WS_ERROR) {
                CHECK(f.error_code == first.error_code);
            }
        }
        if (r == CZ_WS_ERROR)
            CHECK(f.error_code == 1002 || f.error_code == 1009);
        if (r > 0) {
            CHECK(!(f.opcode & 8) || (f.fin && f.length <= 125 && f.rsv == 0));
            CHECK((f.opcode & 8) || f.length <= max_payload);
            CHECK(!require_mask || f.masked);
            CHECK((f.rsv & ~rsv_allowed) == 0);
            CHECK(f.length >> 63 == 0);
        }
    }
    if (verdict > 0) {
        /* what we write parses back the same (unmasked, as a server frame) */
        unsigned char out[CZ_WS_MAX_HEADER];
        size_t hl = cz_ws_write_header(out, first.fin, first.rsv, first.opcode, first.length);
        CHECK(hl == 2 || hl == 4 || hl == 10);
        r = cz_ws_parse_header(out, hl, rsv_allowed, in_message, 0, max_payload, &f);
        CHECK(r == (int)hl && f.fin == first.fin && f.opcode == first.opcode && f.rsv == first.rsv
              && f.length == first.length && !f.masked);
    }
}

static void check_unmask(const unsigned char *data, size_t n, size_t split)
{
    unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    unsigned char *a, *b;
    size_t i, lead = n & 7;
    if (n >= 4)
        memcpy(mask, data, 4);
    a = malloc(n + 8);
    b = malloc(n + 8);
    CHECK(a != NULL && b != NULL);
    /* misaligned start too: data copied at an offset of `lead` bytes */
    memcpy(a + lead, data, n);
    memcpy(b, data, n);
    if (split > n)
        split = n;
    cz_ws_unmask(a + lead, split, mask, 0);
    cz_ws_unmask(a + lead + split, n - split, mask, split);
    for (i = 0; i < n; i++)
        b[i] ^= mask[i & 3];
    CHECK(memcmp(a + lead, b, n) == 0);
    cz_ws_unmask(a + lead, n, mask, 0);
    CHECK(memcmp(a + lead, data, n) == 0);
    free(a);
    free(b);
}

static void check_close(const unsigned char *p, size_t n)
{
    int code = -1, r = cz_ws_check_close(p, n, &code), c, comp;
    if (n == 0) {
        CHECK(r == 0 && code == 1005);
        return;
    }
    if (n == 1) {
        CHECK(r == 1002);
        return;
    }
    c = (p[0] << 8) | p[1];
    {
        int ok = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
        int reason_ok = ref_first_bad(p + 2, n - 2, &comp) == n - 2 && comp;
        CHECK((r == 0) == (ok && reason_ok));
        CHECK(r == 0 || r == 1002);
        if (r == 0)
            CHECK(code == c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned opts;
    uint64_t max_payload;
    size_t split;
    if (size < 3)
        return 0;
    opts = data[0];
    max_payload = data[1] == 0xFF ? UINT64_MAX : (uint64_t)data[1] * 1021u;
    split = data[2];
    data += 3;
    size -= 3;
    check_header(data, size, opts, max_payload);
    check_unmask(data, size, split);
    check_utf8(data, size, split);
    check_close(data, size < 125 ? size : 125);
    return 0;
}
