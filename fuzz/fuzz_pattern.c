/* libFuzzer target for include/cz_pattern.c (see fuzz/run.sh).
 *
 * Input: byte 0 is the pattern's length (mod the input size); the pattern and
 * then the subject follow, one code point per byte, bytes >= 0xF0 widened to
 * code points past U+00FF and U+FFFF (so every PEP 393 width is reached).
 *
 * Invariants checked (abort() on violation, which libFuzzer reports):
 *  - compiling answers 0 with a pattern, or UNSUPPORTED / TOO_BIG without one;
 *  - the program never exceeds CZ_PATTERN_MAX_PROG instructions;
 *  - a search answers MATCH, NOMATCH or UNDECIDED (never NOMEM here), the same
 *    over 1-, 2- and 4-byte storage of the same code points;
 *  - the bit-parallel run and the Pike VM (the same program with its bit
 *    tables dropped) give the same answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/cz_pattern.c"   /* the internals: to run a program both ways */

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static uint32_t widen(uint8_t b) {
    if (b >= 0xF8)
        return 0x1F600 + (b - 0xF8);   /* astral */
    if (b >= 0xF0)
        return 0x0660 + (b - 0xF0);    /* Arabic-Indic digits: \d for Python, undecided here */
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint32_t *pat, *u32;
    uint16_t *u16;
    uint8_t *u8;
    size_t plen, slen, i;
    int rc, r1 = 0, r2, r4, narrow = 1, wide16 = 1;
    cz_pattern *p;
    bits *b;
    if (size < 1)
        return 0;
    plen = data[0] % size;
    if (plen > size - 1)
        plen = size - 1;
    slen = size - 1 - plen;
    pat = malloc((plen + 1) * sizeof(uint32_t));
    u32 = malloc((slen + 1) * sizeof(uint32_t));
    u16 = malloc((slen + 1) * sizeof(uint16_t));
    u8 = malloc(slen + 1);
    CHECK(pat && u32 && u16 && u8);
    for (i = 0; i < plen; i++)
        pat[i] = widen(data[1 + i]);
    for (i = 0; i < slen; i++) {
        u32[i] = widen(data[1 + plen + i]);
        if (u32[i] > 0xFF)
            narrow = 0;
        if (u32[i] > 0xFFFF)
            wide16 = 0;
        u16[i] = (uint16_t)u32[i];
        u8[i] = (uint8_t)u32[i];
    }
    rc = cz_pattern_compile(pat, plen, &p);
    CHECK(rc == 0 || rc == CZ_PATTERN_UNSUPPORTED || rc == CZ_PATTERN_TOO_BIG);
    CHECK((rc == 0) == (p != NULL));
    if (p) {
        CHECK(cz_pattern_size(p) >= 1 && cz_pattern_size(p) <= CZ_PATTERN_MAX_PROG);
        r4 = cz_pattern_search(p, 4, u32, slen);
        CHECK(r4 == CZ_PATTERN_MATCH || r4 == CZ_PATTERN_NOMATCH || r4 == CZ_PATTERN_UNDECIDED);
        if (wide16) {
            r2 = cz_pattern_search(p, 2, u16, slen);
            CHECK(r2 == r4);
        }
        if (narrow) {
            r1 = cz_pattern_search(p, 1, u8, slen);
            CHECK(r1 == r4);
        }
        b = p->bits;
        if (b) {
            p->bits = NULL;            /* the same program through the Pike VM */
            r1 = cz_pattern_search(p, 4, u32, slen);
            p->bits = b;
            /* UNDECIDED depends on which threads reach a Unicode class first; a decided answer must agree */
            CHECK(r1 == r4 || r1 == CZ_PATTERN_UNDECIDED || r4 == CZ_PATTERN_UNDECIDED);
        }
        cz_pattern_free(p);
    }
    free(pat);
    free(u32);
    free(u16);
    free(u8);
    return 0;
}
