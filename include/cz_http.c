/* Catzilla HTTP/1.1 request-head parser and chunked body decoder.
 *
 * See cz_http.h for the API and the policy. Implementation notes:
 *
 *  - The head parser is a single left-to-right pass over buf. Every check is
 *    made at the first byte that proves it, and the verdict for a byte only
 *    depends on the bytes before it; scanning never looks past
 *    min(len, max_head_bytes) (nor past the request-line limit while in the
 *    request line). Hence a prefix either yields CZ_INCOMPLETE or exactly the
 *    error the complete input yields, whichever way the input is split.
 *  - Limits are hit at a fixed position: the byte at offset max_head_bytes of
 *    a head that is not complete yet, or the byte at offset max_request_line
 *    of a request line whose content is not finished, so 431 / 414 are
 *    reported on partial input as soon as they are certain.
 *  - Hot loops (request-target, field values) test 16 bytes at a time with
 *    SSE2 where available (baseline on x86-64), 8 bytes at a time (SWAR)
 *    otherwise, then finish with the byte table, which is the definition.
 *    The SSE2 compares flag exactly the bytes outside the common printable
 *    range; the SWAR tests may over-flag a word, which is then re-checked
 *    byte by byte. Define CZ_HTTP_NO_SIMD to force the portable path (the
 *    fuzzer checks that both builds agree).
 *  - Header names are short: a 4x-unrolled table loop beat an SSE2 variant.
 */
#include "cz_http.h"

#include <limits.h>
#include <string.h>

#if !defined(CZ_HTTP_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64) || defined(_M_AMD64))
#include <emmintrin.h>
#define CZ_HAVE_SSE2 1
#endif

/* Empty lines (CRLF) tolerated before the request line. */
#define CZ_MAX_LEADING_EMPTY_LINES 4
/* Longest chunk-size line (size, extensions, CR) the decoder accepts. */
#define CZ_CHUNK_LINE_MAX 4096

/* ------------------------------------------------------------------------ */
/* Character classes                                                         */

#define C_TCHAR  0x01u /* RFC 9110 tchar */
#define C_VALUE  0x02u /* field-content byte: HTAB, SP, VCHAR, obs-text */
#define C_TARGET 0x04u /* request-target byte: VCHAR (0x21-0x7E) */
#define C_QDTEXT 0x08u /* quoted-string qdtext: HTAB SP 21 23-5B 5D-7E obs-text */
#define C_HOST   0x10u /* Host value: unreserved pct sub-delims ":" "[" "]" */

static const unsigned char cz_ctab[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x00 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x10 */
    0x0a, 0x1f, 0x06, 0x0f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1e, 0x1e, 0x1f, 0x1f, 0x1e, 0x1f, 0x1f, 0x0e, /* 0x20 */
    0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1e, 0x1e, 0x0e, 0x1e, 0x0e, 0x0e, /* 0x30 */
    0x0e, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, /* 0x40 */
    0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1e, 0x06, 0x1e, 0x0f, 0x1f, /* 0x50 */
    0x0f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, /* 0x60 */
    0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x0e, 0x0f, 0x0e, 0x1f, 0x00, /* 0x70 */
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 0x80 */
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 0x90 */
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 0xa0 */
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 0xb0 */
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 0xc0 */
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 0xd0 */
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 0xe0 */
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 0xf0 */
};

#define IS(c, cls) ((cz_ctab[(unsigned char)(c)] & (cls)) != 0)
#define IS_OWS(c) ((c) == ' ' || (c) == '\t')

static unsigned cz_lower(unsigned c)
{
    return (c - 'A' < 26u) ? c + ('a' - 'A') : c;
}

/* a[0, n) equals the lower-case ASCII string lower, ignoring ASCII case. */
static int cz_ieq(const unsigned char *a, const char *lower, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (cz_lower(a[i]) != (unsigned char)lower[i])
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Block scanners. Each returns the first byte in [p, end) outside its class
 * (or end). The wide loops only pick blocks without any unusual byte; a block
 * with one is re-checked byte by byte with the table, which is the
 * definition. They never read at or past end. */

#define SWAR_ONES  0x0101010101010101ull
#define SWAR_HIGHS 0x8080808080808080ull
/* Non-zero iff some byte of x is < n (n <= 128). */
#define SWAR_HAS_LESS(x, n) (((x) - SWAR_ONES * (n)) & ~(x) & SWAR_HIGHS)
/* Non-zero iff some byte of x is zero. */
#define SWAR_HAS_ZERO(x) (((x) - SWAR_ONES) & ~(x) & SWAR_HIGHS)

static uint64_t cz_load64(const void *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

static uint32_t cz_load32(const void *p)
{
    uint32_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

#ifdef CZ_HAVE_SSE2
#if defined(__GNUC__) || defined(__clang__)
#define CZ_CTZ(m) __builtin_ctz(m)
#else
static int CZ_CTZ(unsigned m) /* m != 0 */
{
    int n = 0;
    while (!(m & 1u)) {
        m >>= 1;
        n++;
    }
    return n;
}
#endif
#endif

/* Field-content bytes (C_VALUE). Common bytes: 0x20-0x7E, 0x80-0xFF. */
static const unsigned char *scan_value(const unsigned char *p, const unsigned char *end)
{
    size_t i;
#ifdef CZ_HAVE_SSE2
    const __m128i lo = _mm_set1_epi8(0x20);
    const __m128i del = _mm_set1_epi8(0x7f);
    const __m128i neg1 = _mm_set1_epi8(-1);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed: 0 <= v < 0x20 is a control byte; negative is obs-text.
         * Flagged: 0x00-0x1F and 0x7F, the complement of C_VALUE plus HTAB. */
        __m128i ctl = _mm_and_si128(_mm_cmpgt_epi8(v, neg1), _mm_cmplt_epi8(v, lo));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));
        if (m != 0) {
            p += CZ_CTZ(m);
            if (*p != '\t')
                return p;
            p++; /* HTAB is field content: go on after it */
            continue;
        }
        p += 16;
    }
#endif
    while (end - p >= 8) {
        uint64_t x = cz_load64(p);
        if (SWAR_HAS_LESS(x, 0x20) | SWAR_HAS_ZERO(x ^ (SWAR_ONES * 0x7f))) {
            for (i = 0; i < 8; i++)
                if (!IS(p[i], C_VALUE))
                    return p + i;
        }
        p += 8;
    }
    while (p < end && IS(*p, C_VALUE))
        p++;
    return p;
}

/* Request-target bytes (C_TARGET): 0x21-0x7E. */
static const unsigned char *scan_target(const unsigned char *p, const unsigned char *end)
{
    size_t i;
#ifdef CZ_HAVE_SSE2
    const __m128i lo = _mm_set1_epi8(0x21);
    const __m128i del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed: v < 0x21 covers controls, SP and 0x80-0xFF; with 0x7F
         * the flagged bytes are exactly the complement of C_TARGET */
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, lo), _mm_cmpeq_epi8(v, del));
        unsigned m = (unsigned)_mm_movemask_epi8(bad);
        if (m != 0)
            return p + CZ_CTZ(m);
        p += 16;
    }
#endif
    while (end - p >= 8) {
        uint64_t x = cz_load64(p);
        if (SWAR_HAS_LESS(x, 0x21) | (x & SWAR_HIGHS) | SWAR_HAS_ZERO(x ^ (SWAR_ONES * 0x7f))) {
            for (i = 0; i < 8; i++)
                if (!IS(p[i], C_TARGET))
                    return p + i;
        }
        p += 8;
    }
    while (p < end && IS(*p, C_TARGET))
        p++;
    return p;
}

/* tchar run (names are short: unrolled table lookups). */
static const unsigned char *scan_token(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 4) {
        if (!IS(p[0], C_TCHAR)) return p;
        if (!IS(p[1], C_TCHAR)) return p + 1;
        if (!IS(p[2], C_TCHAR)) return p + 2;
        if (!IS(p[3], C_TCHAR)) return p + 3;
        p += 4;
    }
    while (p < end && IS(*p, C_TCHAR))
        p++;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Header fields with meaning for framing and connection management          */

enum { H_OTHER, H_HOST, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_CONNECTION, H_EXPECT };

/* The token t[0, n) (tchar bytes only, n >= 4) equals lower, a string of
 * lower-case letters and '-', ignoring case. Compares 8 or 4 bytes at a time
 * (the last load overlaps the previous one). OR-ing 0x20 folds 'A'-'Z' onto
 * 'a'-'z' and maps no other tchar onto a letter or onto '-' (only CR would
 * fold onto '-'), so the comparison is exact for tokens. */
static int token_is(const unsigned char *t, const char *lower, size_t n)
{
    const uint64_t fold8 = SWAR_ONES * 0x20;
    const uint32_t fold4 = 0x20202020u;
    size_t i;
    if (n >= 8) {
        for (i = 0; i + 8 <= n; i += 8)
            if ((cz_load64(t + i) | fold8) != cz_load64(lower + i))
                return 0;
        return i == n || (cz_load64(t + n - 8) | fold8) == cz_load64(lower + n - 8);
    }
    return (cz_load32(t) | fold4) == cz_load32(lower) &&
           (cz_load32(t + n - 4) | fold4) == cz_load32(lower + n - 4);
}

static int classify(const unsigned char *name, size_t n)
{
    switch (n) {
    case 4:  return token_is(name, "host", 4) ? H_HOST : H_OTHER;
    case 6:  return token_is(name, "expect", 6) ? H_EXPECT : H_OTHER;
    case 10: return token_is(name, "connection", 10) ? H_CONNECTION : H_OTHER;
    case 14: return token_is(name, "content-length", 14) ? H_CONTENT_LENGTH : H_OTHER;
    case 17: return token_is(name, "transfer-encoding", 17) ? H_TRANSFER_ENCODING : H_OTHER;
    default: return H_OTHER;
    }
}

static unsigned connection_option(const unsigned char *t, size_t n)
{
    if (n == 5 && token_is(t, "close", 5)) return CZ_F_CONN_CLOSE;
    if (n == 10 && token_is(t, "keep-alive", 10)) return CZ_F_CONN_KEEP_ALIVE;
    if (n == 7 && token_is(t, "upgrade", 7)) return CZ_F_UPGRADE;
    return 0;
}

/* Checks the value of a Host / Content-Length / Transfer-Encoding /
 * Connection field. v[0, n) are field-content bytes with the leading OWS
 * removed, trailing OWS still present; complete says that a CR follows (the
 * value is whole), otherwise more value bytes may come. A value is rejected
 * at its first byte that no continuation can make valid, so partial and
 * complete input agree. Returns NULL or the error reason; results go to
 * *content_length and *flags (meaningful only when complete). */
static const char *check_value(int kind, const unsigned char *v, size_t n, int complete,
                               int64_t *content_length, unsigned *flags)
{
    size_t i = 0;
    switch (kind) {
    case H_CONTENT_LENGTH: {
        int64_t x = 0;
        for (; i < n && (unsigned)v[i] - '0' < 10u; i++) {
            int d = v[i] - '0';
            if (x > (INT64_MAX - d) / 10)
                return "content-length overflow";
            x = x * 10 + d;
        }
        if (i == 0 && (n > 0 || complete))
            return "invalid content-length";
        for (; i < n; i++)
            if (!IS_OWS(v[i]))
                return "invalid content-length";
        *content_length = x;
        return NULL;
    }
    case H_TRANSFER_ENCODING: {
        static const char chunked[] = "chunked";
        for (; i < n && i < 7; i++)
            if (cz_lower(v[i]) != (unsigned char)chunked[i])
                return "unsupported transfer-encoding";
        for (; i < n; i++)
            if (!IS_OWS(v[i]))
                return "unsupported transfer-encoding";
        if (complete && n < 7)
            return "unsupported transfer-encoding";
        return NULL;
    }
    case H_HOST:
        while (i < n && IS(v[i], C_HOST))
            i++;
        for (; i < n; i++)
            if (!IS_OWS(v[i]))
                return "invalid host";
        return NULL;
    case H_CONNECTION: {
        /* #connection-option: tokens separated by commas with OWS; empty
         * list elements are allowed (RFC 9110 §5.6.1). */
        unsigned f = 0;
        while (i < n) {
            size_t start;
            if (v[i] == ',' || IS_OWS(v[i])) {
                i++;
                continue;
            }
            if (!IS(v[i], C_TCHAR))
                return "invalid connection header";
            start = i;
            while (i < n && IS(v[i], C_TCHAR))
                i++;
            if (i == n && !complete)
                break; /* the option may continue */
            f |= connection_option(v + start, i - start);
            while (i < n && IS_OWS(v[i]))
                i++;
            if (i < n) {
                if (v[i] != ',')
                    return "invalid connection header";
                i++;
            }
        }
        *flags |= f;
        return NULL;
    }
    default:
        return NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* Request head                                                              */

#define FAIL(st, why)                 \
    do {                              \
        req->error_status = (st);     \
        req->error_reason = (why);    \
        return CZ_ERROR;              \
    } while (0)

/* Ran out of bytes inside the head: over the head limit or just partial. */
#define NEED_MORE()                                       \
    do {                                                  \
        if (head_capped)                                  \
            FAIL(431, "request head too large");          \
        return CZ_INCOMPLETE;                             \
    } while (0)

/* Ran out inside the request line's content (before the version's end). */
#define NEED_MORE_LINE()                                  \
    do {                                                  \
        if (line_capped)                                  \
            FAIL(414, "request line too long");           \
        NEED_MORE();                                      \
    } while (0)

int cz_parse_request(const char *buf, size_t len, cz_request *req, const cz_limits *limits)
{
    const unsigned char *const start = (const unsigned char *)buf;
    const unsigned char *p = start;
    const unsigned char *end, *line, *line_end, *target;
    size_t head_lim = limits->max_head_bytes;
    int head_capped, line_capped;
    int minor, i;
    size_t nh = 0, avail;
    int host_count = 0, have_cl = 0, have_te = 0;
    int64_t content_length = -1;
    unsigned flags = 0;

    req->method = NULL;
    req->method_len = 0;
    req->target = NULL;
    req->target_len = 0;
    req->minor_version = -1;
    req->num_headers = 0;
    req->content_length = -1;
    req->flags = 0;
    req->error_status = 0;
    req->error_reason = NULL;

    /* The return value is an int: no head may be longer than INT_MAX. */
    if (head_lim > (size_t)INT_MAX)
        head_lim = (size_t)INT_MAX;
    head_capped = len >= head_lim;
    end = start + (head_capped ? head_lim : len);

    /* Leading empty lines (RFC 9112 §2.2), at most a few. */
    for (i = 0;; i++) {
        if (p == end)
            NEED_MORE();
        if (*p != '\r') {
            if (*p == '\n')
                FAIL(400, "bare LF");
            break;
        }
        if (i == CZ_MAX_LEADING_EMPTY_LINES)
            FAIL(400, "too many empty lines before request");
        if (end - p < 2)
            NEED_MORE();
        if (p[1] != '\n')
            FAIL(400, "bare CR");
        p += 2;
    }

    /* Request line content is limited to max_request_line bytes: scanning
     * the method, target and version stops at line_end. */
    line = p;
    avail = (size_t)(end - line);
    if (limits->max_request_line <= avail) {
        line_end = line + limits->max_request_line;
        line_capped = 1;
    } else {
        line_end = end;
        line_capped = 0;
    }

    /* method SP */
    p = scan_token(p, line_end);
    if (p == line_end)
        NEED_MORE_LINE();
    if (*p != ' ' || p == line)
        FAIL(400, *p == '\n' ? "bare LF" : "invalid method");
    req->method = (const char *)line;
    req->method_len = (size_t)(p - line);
    p++;

    /* request-target SP */
    target = p;
    p = scan_target(p, line_end);
    /* Set before the checks: on a 414 (or a 400 inside the target) the
     * caller can still name what was read, a valid prefix of the target. */
    req->target = (const char *)target;
    req->target_len = (size_t)(p - target);
    if (p == line_end)
        NEED_MORE_LINE();
    if (*p != ' ' || p == target)
        FAIL(400, *p == '\n' ? "bare LF" : "invalid request-target");
    p++;

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF */
    avail = (size_t)(line_end - p);
    if (avail >= 8 && memcmp(p, "HTTP/1.1", 8) == 0) {
        minor = 1;
        p += 8;
    } else {
        static const char proto[] = "HTTP/";
        size_t k, n = avail < 8 ? avail : 8;
        for (k = 0; k < n; k++) {
            unsigned c = p[k];
            int ok = k < 5 ? c == (unsigned char)proto[k] : k == 6 ? c == '.' : c - '0' < 10u;
            if (!ok)
                FAIL(400, c == '\n' ? "bare LF" : "invalid HTTP version");
        }
        if (n < 8)
            NEED_MORE_LINE();
        minor = p[7] - '0';
        if (p[5] != '1' || minor > 1)
            minor = -1; /* well-formed, unsupported: 505 once CR confirms the end */
        p += 8;
    }
    if (p == end)
        NEED_MORE();
    if (*p != '\r')
        FAIL(400, *p == '\n' ? "bare LF" : "invalid HTTP version");
    if (minor < 0)
        FAIL(505, "HTTP version not supported");
    if (end - p < 2)
        NEED_MORE();
    if (p[1] != '\n')
        FAIL(400, "bare CR");
    p += 2;
    req->minor_version = minor;

    /* header fields */
    for (;;) {
        const unsigned char *name, *value, *q, *vend;
        size_t name_len;
        int kind;
        unsigned c;

        if (p == end)
            NEED_MORE();
        c = *p;
        if (c == '\r') {
            if (end - p < 2)
                NEED_MORE();
            if (p[1] != '\n')
                FAIL(400, "bare CR");
            p += 2;
            break;
        }
        if (c == '\n')
            FAIL(400, "bare LF");
        if (IS_OWS(c))
            FAIL(400, nh ? "obsolete line folding" : "whitespace before first header");
        if (nh >= limits->max_headers)
            FAIL(431, "too many headers");

        /* field-name ":" */
        name = p;
        p = scan_token(p, end);
        if (p == end)
            NEED_MORE();
        if (*p != ':') {
            if (IS_OWS(*p))
                FAIL(400, "whitespace before colon");
            FAIL(400, *p == '\n' ? "bare LF" : "invalid header name");
        }
        if (p == name)
            FAIL(400, "empty header name");
        name_len = (size_t)(p - name);
        p++;

        /* checks the name alone decides */
        kind = classify(name, name_len);
        switch (kind) {
        case H_HOST:
            if (host_count)
                FAIL(400, "duplicate host");
            host_count++;
            break;
        case H_CONTENT_LENGTH:
            /* Policy: any repetition, even of an identical value, is a 400
             * (RFC 9112 §6.3 allows it; a single CL is unambiguous). */
            if (have_cl)
                FAIL(400, "duplicate content-length");
            if (have_te)
                FAIL(400, "content-length with transfer-encoding");
            have_cl = 1;
            break;
        case H_TRANSFER_ENCODING:
            if (minor == 0)
                FAIL(400, "transfer-encoding on HTTP/1.0");
            if (have_te)
                FAIL(400, "duplicate transfer-encoding");
            if (have_cl)
                FAIL(400, "content-length with transfer-encoding");
            have_te = 1;
            break;
        default:
            break;
        }

        /* OWS field-value OWS CRLF */
        while (p < end && IS_OWS(*p))
            p++;
        value = p;
        q = scan_value(p, end);
        if (kind != H_OTHER && kind != H_EXPECT) {
            const char *why = check_value(kind, value, (size_t)(q - value),
                                          q < end && *q == '\r', &content_length, &flags);
            if (why)
                FAIL(400, why);
        }
        if (q == end)
            NEED_MORE();
        if (*q != '\r')
            FAIL(400, *q == '\n' ? "bare LF" : "invalid header value");
        if (end - q < 2)
            NEED_MORE();
        if (q[1] != '\n')
            FAIL(400, "bare CR");

        vend = q;
        while (vend > value && IS_OWS(vend[-1]))
            vend--;
        if (kind == H_EXPECT && vend - value == 12 && cz_ieq(value, "100-continue", 12))
            flags |= CZ_F_EXPECT_CONTINUE;

        req->headers[nh].name = (const char *)name;
        req->headers[nh].name_len = name_len;
        req->headers[nh].value = (const char *)value;
        req->headers[nh].value_len = (size_t)(vend - value);
        nh++;
        req->num_headers = nh;
        p = q + 2;
    }

    if (minor == 1 && host_count == 0)
        FAIL(400, "missing host");
    if (host_count)
        flags |= CZ_F_HAS_HOST;
    if (have_te)
        flags |= CZ_F_CHUNKED;
    req->content_length = have_cl ? content_length : -1;
    req->flags = flags;
    return (int)(p - start);
}

#undef NEED_MORE_LINE
#undef NEED_MORE
#undef FAIL

/* ------------------------------------------------------------------------ */
/* Chunked transfer coding (RFC 9112 §7.1)
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *   ext-val      = token / quoted-string
 */

enum {
    /* chunk-size line; d->scratch counts its bytes */
    CH_SIZE_FIRST,     /* first hex digit */
    CH_SIZE,           /* more hex digits */
    CH_SIZE_BWS,       /* BWS after the size: ';' must follow */
    CH_EXT_NAME_START, /* after ';' (BWS) */
    CH_EXT_NAME,
    CH_EXT_NAME_BWS,   /* BWS after a name: '=' or ';' must follow */
    CH_EXT_VAL_START,  /* after '=' (BWS) */
    CH_EXT_TOKEN,
    CH_EXT_QSTR,
    CH_EXT_QPAIR,      /* after '\' in a quoted-string */
    CH_EXT_QEND,       /* after the closing quote */
    CH_EXT_VAL_BWS,    /* BWS after a value: ';' must follow */
    CH_SIZE_LF,        /* CR seen */
    /* data */
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    /* trailer section; d->trailer_bytes counts field-line bytes */
    CH_TRAILER_START,  /* start of a field line or of the final CRLF */
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,
    CH_END_LF,         /* CR of the final CRLF seen */
    CH_DONE,
    CH_ERROR
};

void cz_chunked_init(cz_chunked *d, size_t max_trailer_bytes)
{
    d->remaining = 0;
    d->trailer_bytes = 0;
    d->max_trailer_bytes = max_trailer_bytes;
    d->scratch = 0;
    d->state = CH_SIZE_FIRST;
}

static int hex_value(unsigned c)
{
    if (c - '0' < 10u)
        return (int)(c - '0');
    c |= 0x20u; /* 'A'-'F' -> 'a'-'f'; maps nothing else into 'a'-'f' */
    if (c - 'a' < 6u)
        return (int)(c - 'a' + 10);
    return -1;
}

int cz_chunked_decode(cz_chunked *d, const char *src, size_t len, char *dst,
                      size_t *consumed, size_t *produced)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, out = 0;
    int st = d->state;

    *consumed = 0;
    *produced = 0;
    if (st == CH_ERROR)
        return CZ_ERROR;
    if (st == CH_DONE)
        return 1;

    while (i < len) {
        unsigned c;
        int h;

        if (st == CH_DATA) {
            size_t n = len - i;
            if (d->remaining < (uint64_t)n)
                n = (size_t)d->remaining;
            if (dst + out != src + i)
                memmove(dst + out, src + i, n);
            out += n;
            i += n;
            d->remaining -= n;
            if (d->remaining == 0)
                st = CH_DATA_CR;
            continue;
        }

        c = s[i++];
        if (st <= CH_SIZE_LF && ++d->scratch > CZ_CHUNK_LINE_MAX)
            goto fail;
        if (st >= CH_TRAILER_START && st <= CH_TRAILER_LF && !(st == CH_TRAILER_START && c == '\r')) {
            if (d->trailer_bytes >= d->max_trailer_bytes)
                goto fail;
            d->trailer_bytes++;
        }

        switch (st) {
        case CH_SIZE_FIRST:
            if ((h = hex_value(c)) < 0)
                goto fail;
            d->remaining = (uint64_t)h;
            st = CH_SIZE;
            break;
        case CH_SIZE:
            if ((h = hex_value(c)) >= 0) {
                if (d->scratch > 16) /* all bytes so far are digits */
                    goto fail;
                d->remaining = (d->remaining << 4) | (uint64_t)h;
            } else if (c == '\r') {
                st = CH_SIZE_LF;
            } else if (c == ';') {
                st = CH_EXT_NAME_START;
            } else if (IS_OWS(c)) {
                st = CH_SIZE_BWS;
            } else {
                goto fail;
            }
            break;
        case CH_SIZE_BWS:
            if (c == ';')
                st = CH_EXT_NAME_START;
            else if (!IS_OWS(c))
                goto fail;
            break;
        case CH_EXT_NAME_START:
            if (IS(c, C_TCHAR))
                st = CH_EXT_NAME;
            else if (!IS_OWS(c))
                goto fail;
            break;
        case CH_EXT_NAME:
            if (IS(c, C_TCHAR))
                break;
            if (c == '\r')
                st = CH_SIZE_LF;
            else if (c == ';')
                st = CH_EXT_NAME_START;
            else if (c == '=')
                st = CH_EXT_VAL_START;
            else if (IS_OWS(c))
                st = CH_EXT_NAME_BWS;
            else
                goto fail;
            break;
        case CH_EXT_NAME_BWS:
            if (c == ';')
                st = CH_EXT_NAME_START;
            else if (c == '=')
                st = CH_EXT_VAL_START;
            else if (!IS_OWS(c))
                goto fail;
            break;
        case CH_EXT_VAL_START:
            if (c == '"')
                st = CH_EXT_QSTR;
            else if (IS(c, C_TCHAR))
                st = CH_EXT_TOKEN;
            else if (!IS_OWS(c))
                goto fail;
            break;
        case CH_EXT_TOKEN:
            if (IS(c, C_TCHAR))
                break;
            if (c == '\r')
                st = CH_SIZE_LF;
            else if (c == ';')
                st = CH_EXT_NAME_START;
            else if (IS_OWS(c))
                st = CH_EXT_VAL_BWS;
            else
                goto fail;
            break;
        case CH_EXT_QSTR:
            if (c == '"')
                st = CH_EXT_QEND;
            else if (c == '\\')
                st = CH_EXT_QPAIR;
            else if (!IS(c, C_QDTEXT))
                goto fail;
            break;
        case CH_EXT_QPAIR: /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
            if (!IS(c, C_VALUE))
                goto fail;
            st = CH_EXT_QSTR;
            break;
        case CH_EXT_QEND:
            if (c == '\r')
                st = CH_SIZE_LF;
            else if (c == ';')
                st = CH_EXT_NAME_START;
            else if (IS_OWS(c))
                st = CH_EXT_VAL_BWS;
            else
                goto fail;
            break;
        case CH_EXT_VAL_BWS:
            if (c == ';')
                st = CH_EXT_NAME_START;
            else if (!IS_OWS(c))
                goto fail;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                goto fail;
            d->scratch = 0;
            st = d->remaining ? CH_DATA : CH_TRAILER_START;
            break;
        case CH_DATA_CR:
            if (c != '\r')
                goto fail;
            st = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                goto fail;
            st = CH_SIZE_FIRST;
            break;
        case CH_TRAILER_START:
            if (c == '\r')
                st = CH_END_LF;
            else if (IS(c, C_TCHAR))
                st = CH_TRAILER_NAME;
            else /* LF, obs-fold, empty or invalid name */
                goto fail;
            break;
        case CH_TRAILER_NAME:
            if (c == ':')
                st = CH_TRAILER_VALUE;
            else if (!IS(c, C_TCHAR))
                goto fail;
            break;
        case CH_TRAILER_VALUE:
            if (c == '\r')
                st = CH_TRAILER_LF;
            else if (!IS(c, C_VALUE))
                goto fail;
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                goto fail;
            st = CH_TRAILER_START;
            break;
        case CH_END_LF:
            if (c != '\n')
                goto fail;
            d->state = CH_DONE;
            *consumed = i;
            *produced = out;
            return 1;
        default:
            goto fail;
        }
    }
    d->state = st;
    *consumed = i;
    *produced = out;
    return 0;

fail:
    d->state = CH_ERROR;
    *consumed = i;
    *produced = out;
    return CZ_ERROR;
}
