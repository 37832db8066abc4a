/* libFuzzer target for include/cz_http.c (see fuzz/run.sh).
 *
 * Input: byte 0 selects where the chunked decoder's input is split in two
 * pieces and which limits the head parser gets; bytes 1.. are parsed both as
 * a request head and as a chunked body.
 *
 * Invariants checked (abort() on violation, which libFuzzer reports):
 *  head parser
 *   - results are well formed: head length <= len, every pointer inside the
 *     head, names are tokens, values carry no CR/LF/CTL nor edge whitespace,
 *     num_headers <= max_headers, status in {400, 414, 431, 505};
 *   - incomplete input is never at or past max_head_bytes;
 *   - split consistency: every prefix (all of them for short inputs, a
 *     sample otherwise) gives CZ_INCOMPLETE or exactly the whole input's
 *     result, and a complete head's prefixes are all incomplete; prefixes are
 *     copied to exact-size heap buffers so ASan sees any over-read;
 *   - the SSE2 build and the portable build (cz_http_scalar.c) agree.
 *  chunked decoder
 *   - produced <= consumed <= len; a 0 return consumed everything;
 *   - separate dst, dst == src, dst before src, two pieces and (for short
 *     inputs) one byte at a time all give the same result and payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cz_http.h"

int cz_parse_request_scalar(const char *buf, size_t len, cz_request *req, const cz_limits *limits);
void cz_chunked_init_scalar(cz_chunked *d, size_t max_trailer_bytes);
int cz_chunked_decode_scalar(cz_chunked *d, const char *src, size_t len, char *dst,
                             size_t *consumed, size_t *produced);

#define MAX_HEADERS_CAP 64

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                             \
        }                                                                        \
    } while (0)

typedef struct {
    int rc;
    cz_request req;
    cz_header headers[MAX_HEADERS_CAP];
} parse_result;

static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void run_parse(int scalar, const char *buf, size_t len, const cz_limits *lim, parse_result *out)
{
    memset(out, 0xA5, sizeof *out); /* outputs must all be written by the parser */
    out->req.headers = out->headers;
    out->rc = scalar ? cz_parse_request_scalar(buf, len, &out->req, lim)
                     : cz_parse_request(buf, len, &out->req, lim);
}

/* Offsets of pointers/lengths relative to buf, so results from different
 * buffers holding the same bytes can be compared. */
static void same_result(const parse_result *a, const char *abuf, const parse_result *b, const char *bbuf)
{
    size_t i;
    CHECK(a->rc == b->rc);
    if (a->rc == CZ_ERROR) {
        CHECK(a->req.error_status == b->req.error_status);
        CHECK(strcmp(a->req.error_reason, b->req.error_reason) == 0);
        /* what was read of the request line, which the server names in its answer */
        CHECK((a->req.method == NULL) == (b->req.method == NULL));
        CHECK(a->req.method == NULL || a->req.method - abuf == b->req.method - bbuf);
        CHECK((a->req.target == NULL) == (b->req.target == NULL));
        CHECK(a->req.target == NULL || (a->req.target - abuf == b->req.target - bbuf &&
                                        a->req.target_len == b->req.target_len));
        return;
    }
    if (a->rc < 0)
        return;
    CHECK(a->req.method - abuf == b->req.method - bbuf);
    CHECK(a->req.method_len == b->req.method_len);
    CHECK(a->req.target - abuf == b->req.target - bbuf);
    CHECK(a->req.target_len == b->req.target_len);
    CHECK(a->req.minor_version == b->req.minor_version);
    CHECK(a->req.num_headers == b->req.num_headers);
    CHECK(a->req.content_length == b->req.content_length);
    CHECK(a->req.flags == b->req.flags);
    for (i = 0; i < a->req.num_headers; i++) {
        CHECK(a->headers[i].name - abuf == b->headers[i].name - bbuf);
        CHECK(a->headers[i].name_len == b->headers[i].name_len);
        CHECK(a->headers[i].value - abuf == b->headers[i].value - bbuf);
        CHECK(a->headers[i].value_len == b->headers[i].value_len);
    }
}

static void check_well_formed(const parse_result *r, const char *buf, size_t len, const cz_limits *lim)
{
    size_t i, j;
    const cz_request *q = &r->req;
    if (r->rc == CZ_INCOMPLETE) {
        CHECK(len < lim->max_head_bytes);
        return;
    }
    if (r->rc == CZ_ERROR) {
        CHECK(q->error_status == 400 || q->error_status == 414 || q->error_status == 431 ||
              q->error_status == 505);
        CHECK(q->error_reason != NULL && q->error_reason[0] != '\0');
        CHECK(q->error_status != 431 || len >= lim->max_head_bytes || q->num_headers == lim->max_headers);
        /* a method and target read before the error lie in buf, the target a valid prefix */
        if (q->method != NULL)
            CHECK(q->method >= buf && q->method_len > 0 && q->method + q->method_len <= buf + len);
        if (q->target != NULL) {
            CHECK(q->method != NULL && q->target == q->method + q->method_len + 1);
            CHECK(q->target + q->target_len <= buf + len);
            for (i = 0; i < q->target_len; i++)
                CHECK(q->target[i] > 0x20 && q->target[i] < 0x7f);
        }
        return;
    }
    CHECK(r->rc > 0);
    CHECK((size_t)r->rc <= len && (size_t)r->rc <= lim->max_head_bytes);
    CHECK(r->rc >= 4 && memcmp(buf + r->rc - 4, "\r\n\r\n", 4) == 0);
    CHECK(q->error_status == 0 && q->error_reason == NULL);
    CHECK(q->minor_version == 0 || q->minor_version == 1);
    CHECK(q->method >= buf && q->method_len > 0 && q->method + q->method_len <= buf + r->rc);
    CHECK(q->target > q->method && q->target_len > 0 && q->target + q->target_len <= buf + r->rc);
    CHECK(q->target == q->method + q->method_len + 1 && q->method[q->method_len] == ' ');
    CHECK(q->method_len + 1 + q->target_len + 1 + 8 <= lim->max_request_line);
    for (i = 0; i < q->method_len; i++)
        CHECK(is_tchar((unsigned char)q->method[i]));
    for (i = 0; i < q->target_len; i++)
        CHECK(q->target[i] > 0x20 && q->target[i] < 0x7f);
    CHECK(q->num_headers <= lim->max_headers);
    for (i = 0; i < q->num_headers; i++) {
        const cz_header *h = &r->headers[i];
        CHECK(h->name > q->target && h->name_len > 0 && h->name + h->name_len < buf + r->rc);
        CHECK(h->name[h->name_len] == ':');
        for (j = 0; j < h->name_len; j++)
            CHECK(is_tchar((unsigned char)h->name[j]));
        CHECK(h->value > h->name && h->value + h->value_len <= buf + r->rc);
        for (j = 0; j < h->value_len; j++) {
            unsigned char c = (unsigned char)h->value[j];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (h->value_len) {
            CHECK(h->value[0] != ' ' && h->value[0] != '\t');
            CHECK(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
        }
        if (i)
            CHECK(h->name > r->headers[i - 1].value);
    }
    if (q->flags & CZ_F_CHUNKED)
        CHECK(q->content_length == -1 && q->minor_version == 1);
    CHECK(q->content_length >= -1);
    if (q->minor_version == 1)
        CHECK(q->flags & CZ_F_HAS_HOST);
}

/* Parse buf[0, k) from an exact-size copy. */
static void parse_prefix(const char *data, size_t k, const cz_limits *lim, parse_result *out, char **copy)
{
    *copy = (char *)malloc(k ? k : 1);
    CHECK(*copy != NULL);
    if (k)
        memcpy(*copy, data, k);
    run_parse(0, *copy, k, lim, out);
}

/* The first k bytes alone: incomplete while short of the head, otherwise the
 * same answer as the whole input. */
static void check_prefix(const char *data, size_t k, const cz_limits *lim, const parse_result *whole)
{
    static parse_result pre;
    char *copy;
    parse_prefix(data, k, lim, &pre, &copy);
    check_well_formed(&pre, copy, k, lim);
    if (pre.rc != CZ_INCOMPLETE)
        same_result(&pre, copy, whole, data);
    if (whole->rc >= 0 && k < (size_t)whole->rc)
        CHECK(pre.rc == CZ_INCOMPLETE);
    free(copy);
}

static void fuzz_head(const char *data, size_t n, const cz_limits *lim, unsigned sel)
{
    static parse_result whole, scalar;
    size_t k, samples[40], ns = 0, s;

    run_parse(0, data, n, lim, &whole);
    check_well_formed(&whole, data, n, lim);
    run_parse(1, data, n, lim, &scalar);
    same_result(&whole, data, &scalar, data);

    if (n <= 160) { /* all prefixes of short inputs */
        for (k = 0; k < n; k++)
            check_prefix(data, k, lim, &whole);
        return;
    }
    samples[ns++] = n - 1;
    samples[ns++] = sel % n;
    if (whole.rc > 0) {
        samples[ns++] = (size_t)whole.rc - 1;
        samples[ns++] = (size_t)whole.rc;
    }
    for (s = 1; ns < 40; s++)
        samples[ns++] = (size_t)(((uint64_t)n * s * 2654435761u + sel) % n);
    for (s = 0; s < ns; s++)
        check_prefix(data, samples[s], lim, &whole);
}

typedef struct {
    int rc;
    size_t consumed, produced;
} chunk_result;

static void fuzz_chunked(const char *data, size_t n, unsigned sel)
{
    cz_chunked d;
    chunk_result whole, r;
    char *src = (char *)malloc(n + 1), *dst = (char *)malloc(n + 1), *big = (char *)malloc(n + 17);
    char *piece, *out;
    size_t split = (size_t)(((uint64_t)sel * (n + 1)) >> 8), max_trailer = (sel & 1) ? 64 : 8192;
    size_t i, total_out;

    CHECK(src && dst && big);
    memcpy(src, data, n);

    /* whole, separate dst */
    cz_chunked_init(&d, max_trailer);
    whole.rc = cz_chunked_decode(&d, src, n, dst, &whole.consumed, &whole.produced);
    CHECK(whole.rc == 1 || whole.rc == 0 || whole.rc == CZ_ERROR);
    CHECK(whole.produced <= whole.consumed && whole.consumed <= n);
    if (whole.rc == 0)
        CHECK(whole.consumed == n);
    CHECK(memcmp(src, data, n) == 0); /* src untouched when dst is separate */
    if (whole.rc == 1) { /* finished: further calls report done, consume nothing */
        size_t c2 = 1, p2 = 1;
        CHECK(cz_chunked_decode(&d, src, n, dst + whole.produced, &c2, &p2) == 1 && c2 == 0 && p2 == 0);
    }

    /* in place */
    cz_chunked_init(&d, max_trailer);
    r.rc = cz_chunked_decode(&d, src, n, src, &r.consumed, &r.produced);
    CHECK(r.rc == whole.rc && r.consumed == whole.consumed && r.produced == whole.produced);
    CHECK(memcmp(src, dst, r.produced) == 0);
    if (r.rc != CZ_ERROR)
        CHECK(memcmp(src + r.consumed, data + r.consumed, n - r.consumed) == 0); /* rest intact */

    /* dst 16 bytes before src, overlapping */
    memcpy(big + 16, data, n);
    cz_chunked_init(&d, max_trailer);
    r.rc = cz_chunked_decode(&d, big + 16, n, big, &r.consumed, &r.produced);
    CHECK(r.rc == whole.rc && r.consumed == whole.consumed && r.produced == whole.produced);
    CHECK(memcmp(big, dst, r.produced) == 0);

    /* two pieces, each in an exact-size buffer, decoded in place */
    out = (char *)malloc(n + 1);
    CHECK(out != NULL);
    cz_chunked_init(&d, max_trailer);
    piece = (char *)malloc(split ? split : 1);
    CHECK(piece != NULL);
    memcpy(piece, data, split);
    r.rc = cz_chunked_decode(&d, piece, split, piece, &r.consumed, &r.produced);
    CHECK(r.produced <= r.consumed && r.consumed <= split);
    memcpy(out, piece, r.produced);
    total_out = r.produced;
    free(piece);
    if (r.rc == CZ_ERROR) {
        CHECK(whole.rc == CZ_ERROR);
    } else if (r.rc == 1) {
        CHECK(whole.rc == 1 && r.consumed == whole.consumed && total_out == whole.produced);
        CHECK(memcmp(out, dst, total_out) == 0);
    } else {
        size_t rest = n - split;
        CHECK(r.consumed == split);
        piece = (char *)malloc(rest ? rest : 1);
        CHECK(piece != NULL);
        memcpy(piece, data + split, rest);
        r.rc = cz_chunked_decode(&d, piece, rest, piece, &r.consumed, &r.produced);
        CHECK(r.produced <= r.consumed && r.consumed <= rest);
        memcpy(out + total_out, piece, r.produced);
        total_out += r.produced;
        free(piece);
        CHECK(r.rc == whole.rc);
        if (r.rc != CZ_ERROR) {
            CHECK(split + r.consumed == whole.consumed && total_out == whole.produced);
            CHECK(memcmp(out, dst, total_out) == 0);
        }
    }

    /* one byte at a time */
    if (n <= 512) {
        int rc = 0;
        cz_chunked_init(&d, max_trailer);
        total_out = 0;
        for (i = 0; i < n; i++) {
            char byte = data[i];
            size_t c, p;
            rc = cz_chunked_decode(&d, &byte, 1, out + total_out, &c, &p);
            CHECK(p <= c && c <= 1);
            total_out += p;
            if (rc != 0)
                break;
            CHECK(c == 1);
        }
        CHECK(rc == whole.rc);
        if (rc == 1)
            CHECK(i + 1 == whole.consumed);
        if (rc != CZ_ERROR)
            CHECK(total_out == whole.produced && memcmp(out, dst, total_out) == 0);
    }

    /* the portable build decodes identically */
    cz_chunked_init_scalar(&d, max_trailer);
    r.rc = cz_chunked_decode_scalar(&d, data, n, out, &r.consumed, &r.produced);
    CHECK(r.rc == whole.rc && r.consumed == whole.consumed && r.produced == whole.produced);
    CHECK(memcmp(out, dst, r.produced) == 0);

    free(out);
    free(src);
    free(dst);
    free(big);
}

/* The encoder's chunk-size line is printf's "%x\r\n", and the data framed in
 * chunks of a selector-picked size with it decodes back to itself. */
static void fuzz_chunk_encode(const char *data, size_t n, unsigned sel)
{
    char head[CZ_CHUNK_HEAD_MAX], ref[32];
    uint64_t v = 0;
    size_t k, off, len = 0, step = sel % 37 + 1, count = (n + step - 1) / step, consumed, produced;
    char *wire, *out;
    cz_chunked d;

    memcpy(&v, data, n < 8 ? n : 8);
    k = cz_chunk_head(head, v);
    CHECK(k <= CZ_CHUNK_HEAD_MAX);
    CHECK(snprintf(ref, sizeof ref, "%llx\r\n", (unsigned long long)v) == (int)k);
    CHECK(memcmp(ref, head, k) == 0);

    wire = (char *)malloc(n + count * (CZ_CHUNK_HEAD_MAX + 2) + 5);
    out = (char *)malloc(n + 1);
    CHECK(wire && out);
    for (off = 0; off < n; off += step) {
        size_t piece = n - off < step ? n - off : step;
        len += cz_chunk_head(wire + len, piece);
        memcpy(wire + len, data + off, piece);
        len += piece;
        memcpy(wire + len, "\r\n", 2);
        len += 2;
    }
    memcpy(wire + len, "0\r\n\r\n", 5);
    len += 5;
    cz_chunked_init(&d, 64);
    CHECK(cz_chunked_decode(&d, wire, len, out, &consumed, &produced) == 1);
    CHECK(consumed == len && produced == n && memcmp(out, data, n) == 0);
    free(wire);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    static const size_t line_limits[4] = {0, 16, 48, 8192};
    static const size_t head_limits[4] = {24, 128, 512, 4096};
    static const size_t count_limits[4] = {0, 2, 8, MAX_HEADERS_CAP};
    const char *data;
    size_t n;
    unsigned sel;
    cz_limits lim;

    if (size < 1)
        return 0;
    sel = input[0];
    data = (const char *)input + 1;
    n = size - 1;

    /* generous limits, then limits picked by the selector byte */
    lim.max_request_line = 8192;
    lim.max_head_bytes = 65536;
    lim.max_headers = MAX_HEADERS_CAP;
    fuzz_head(data, n, &lim, sel);
    lim.max_request_line = line_limits[sel & 3];
    lim.max_head_bytes = head_limits[(sel >> 2) & 3];
    lim.max_headers = count_limits[(sel >> 4) & 3];
    fuzz_head(data, n, &lim, sel);

    fuzz_chunked(data, n, sel);
    fuzz_chunk_encode(data, n, sel);
    return 0;
}
