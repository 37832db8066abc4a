/* libFuzzer target for include/cz_pmd.c (see fuzz/run.sh).
 *
 * Input: byte 0 picks the window bits (8..15) and context takeover, byte 1
 * the output limit (0..16320 bytes); the rest is a sequence of frames, each
 * a length byte (low 7 bits: payload length; bit 7: last frame of its message)
 * and its payload, inflated as permessage-deflate messages.
 *
 * Invariants checked (abort() on violation, which libFuzzer reports):
 *  - every result is one of CZ_PMD_OK / TOO_BIG / INVALID; errors are sticky
 *    until the next message;
 *  - the output buffer never exceeds the limit (len <= cap <= max);
 *  - round trip: the deflater's output for the whole input (with the same
 *    parameters), inflated in frames cut at input-chosen points, gives the
 *    input back, twice in a row (context carried over or reset).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cz_pmd.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void check_bounds(const cz_inflater *f) {
    CHECK(f->len <= f->cap);
    CHECK(f->cap <= f->max);
}

static void arbitrary_messages(int bits, int no_context, size_t max, const uint8_t *p, size_t n) {
    cz_inflater f;
    size_t i = 0, len;
    int rc = CZ_PMD_OK, end;
    if (cz_inflater_init(&f, bits, no_context, max) != CZ_PMD_OK)
        abort();   /* only allocation can fail here: not expected in the fuzzer */
    while (i < n) {
        len = p[i] & 0x7f;
        end = p[i] & 0x80;
        i++;
        if (len > n - i)
            len = n - i;
        if (rc == CZ_PMD_OK) {
            rc = cz_inflater_feed(&f, p + i, len);
        } else {
            CHECK(cz_inflater_feed(&f, p + i, len) == rc);   /* sticky */
        }
        CHECK(rc == CZ_PMD_OK || rc == CZ_PMD_TOO_BIG || rc == CZ_PMD_INVALID);
        check_bounds(&f);
        i += len;
        if (end || i >= n) {
            if (rc == CZ_PMD_OK)
                rc = cz_inflater_finish(&f);
            CHECK(rc == CZ_PMD_OK || rc == CZ_PMD_TOO_BIG || rc == CZ_PMD_INVALID);
            check_bounds(&f);
            CHECK(cz_inflater_next(&f) == CZ_PMD_OK);
            CHECK(f.len == 0 && f.failed == 0);
            rc = CZ_PMD_OK;
        }
    }
    cz_inflater_free(&f);
}

static void round_trip(int bits, int no_context, const uint8_t *p, size_t n, uint8_t cut) {
    cz_deflater d;
    cz_inflater f;
    unsigned char *z;
    size_t zlen, step, i;
    int round;
    if (cz_deflater_init(&d, bits, no_context, cut % 10) != CZ_PMD_OK)
        abort();
    if (cz_inflater_init(&f, bits, no_context, n) != CZ_PMD_OK)
        abort();
    for (round = 0; round < 2; round++) {
        CHECK(cz_deflater_compress(&d, p, n, &z, &zlen) == CZ_PMD_OK);
        CHECK(zlen > 0);
        step = (size_t)cut + 1;
        for (i = 0; i < zlen; i += step)
            CHECK(cz_inflater_feed(&f, z + i, zlen - i < step ? zlen - i : step) == CZ_PMD_OK);
        CHECK(cz_inflater_finish(&f) == CZ_PMD_OK);
        CHECK(f.len == n && (n == 0 || memcmp(f.out, p, n) == 0));
        CHECK(cz_inflater_next(&f) == CZ_PMD_OK);
        free(z);
    }
    cz_inflater_free(&f);
    cz_deflater_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int bits, no_context;
    size_t max;
    if (size < 2)
        return 0;
    bits = 8 + (data[0] & 7);
    no_context = (data[0] >> 3) & 1;
    max = (size_t)data[1] * 64;
    arbitrary_messages(bits, no_context, max, data + 2, size - 2);
    round_trip(bits, no_context, data + 2, size - 2, data[1]);
    return 0;
}
