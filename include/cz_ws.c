/* Catzilla WebSocket framing (RFC 6455). See cz_ws.h. */
#include "cz_ws.h"

#include <string.h>

static int fail(cz_ws_frame *f, int code, const char *reason)
{
    f->error_code = code;
    f->error_reason = reason;
    return CZ_WS_ERROR;
}

int cz_ws_parse_header(const unsigned char *p, size_t n, unsigned rsv_allowed, int in_message,
                       int require_mask, uint64_t max_payload, cz_ws_frame *f)
{
    size_t need, i;
    unsigned len7;
    int control;

    f->error_code = 0;
    f->error_reason = NULL;
    if (n < 1)
        return CZ_WS_INCOMPLETE;
    f->fin = (p[0] & 0x80u) != 0;
    f->rsv = p[0] & 0x70u;
    f->opcode = p[0] & 0x0F;
    switch (f->opcode) {
    case CZ_WS_OP_CONT: case CZ_WS_OP_TEXT: case CZ_WS_OP_BINARY:
    case CZ_WS_OP_CLOSE: case CZ_WS_OP_PING: case CZ_WS_OP_PONG:
        break;
    default:
        return fail(f, 1002, "reserved opcode");
    }
    control = (f->opcode & 0x8) != 0;
    if (control) {
        if (!f->fin)
            return fail(f, 1002, "fragmented control frame");
        if (f->rsv)
            return fail(f, 1002, "RSV bit on a control frame");
    } else {
        if (f->rsv & ~rsv_allowed)
            return fail(f, 1002, "RSV bit not negotiated");
        if (f->opcode == CZ_WS_OP_CONT) {
            if (!in_message)
                return fail(f, 1002, "continuation frame outside a message");
            if (f->rsv)
                return fail(f, 1002, "RSV bit on a continuation frame");
        } else if (in_message) {
            return fail(f, 1002, "data frame inside a fragmented message");
        }
    }
    if (n < 2)
        return CZ_WS_INCOMPLETE;
    f->masked = (p[1] & 0x80u) != 0;
    if (require_mask && !f->masked)
        return fail(f, 1002, "unmasked client frame");
    len7 = p[1] & 0x7Fu;
    if (control && len7 > CZ_WS_MAX_CONTROL)
        return fail(f, 1002, "control frame payload over 125 bytes");
    need = 2;
    if (len7 == 126) {
        need = 4;
        if (n < need)
            return CZ_WS_INCOMPLETE;
        f->length = ((uint64_t)p[2] << 8) | p[3];
    } else if (len7 == 127) {
        need = 10;
        if (n < need)
            return CZ_WS_INCOMPLETE;
        if (p[2] & 0x80u)
            return fail(f, 1002, "64-bit length with the top bit set");
        f->length = 0;
        for (i = 2; i < 10; i++)
            f->length = (f->length << 8) | p[i];
    } else {
        f->length = len7;
    }
    if (!control && f->length > max_payload)
        return fail(f, 1009, "message too big");
    if (f->masked) {
        if (n < need + 4)
            return CZ_WS_INCOMPLETE;
        memcpy(f->mask, p + need, 4);
        need += 4;
    } else {
        memset(f->mask, 0, 4);
    }
    f->header_len = need;
    return (int)need;
}

void cz_ws_unmask(unsigned char *p, size_t n, const unsigned char mask[4], uint64_t offset)
{
    unsigned k = (unsigned)(offset & 3u);
    unsigned char m8[8];
    uint64_t w, v;
    unsigned i;

    /* bytes up to an 8-byte boundary, then words, then the rest; the key
     * position is the same after each whole word (8 is a multiple of 4) */
    while (n > 0 && ((uintptr_t)p & 7u) != 0) {
        *p++ ^= mask[k];
        k = (k + 1) & 3u;
        n--;
    }
    if (n >= 8) {
        for (i = 0; i < 8; i++)
            m8[i] = mask[(k + i) & 3u];
        memcpy(&w, m8, 8);
        while (n >= 8) {
            memcpy(&v, p, 8);
            v ^= w;
            memcpy(p, &v, 8);
            p += 8;
            n -= 8;
        }
    }
    while (n > 0) {
        *p++ ^= mask[k];
        k = (k + 1) & 3u;
        n--;
    }
}

/* UTF-8 states (RFC 3629 §4 grammar): besides ACCEPT and REJECT, how many
 * continuation bytes are still due and which range the next one must be in. */
enum {
    U_CONT1 = 2,     /* one more 80..BF */
    U_CONT2 = 3,     /* two more */
    U_CONT3 = 4,     /* three more */
    U_E0 = 5,        /* after E0: A0..BF (no overlong), then one more */
    U_ED = 6,        /* after ED: 80..9F (no surrogate), then one more */
    U_F0 = 7,        /* after F0: 90..BF (no overlong), then two more */
    U_F4 = 8         /* after F4: 80..8F (<= U+10FFFF), then two more */
};

static inline uint32_t utf8_step(uint32_t s, unsigned b)
{
    switch (s) {
    case CZ_UTF8_ACCEPT:
        if (b < 0x80) return CZ_UTF8_ACCEPT;
        if (b < 0xC2) return CZ_UTF8_REJECT;      /* continuation byte, or overlong C0/C1 */
        if (b < 0xE0) return U_CONT1;
        if (b == 0xE0) return U_E0;
        if (b == 0xED) return U_ED;
        if (b < 0xF0) return U_CONT2;
        if (b == 0xF0) return U_F0;
        if (b < 0xF4) return U_CONT3;
        if (b == 0xF4) return U_F4;
        return CZ_UTF8_REJECT;                    /* F5..FF */
    case U_CONT1: return (b & 0xC0u) == 0x80u ? CZ_UTF8_ACCEPT : CZ_UTF8_REJECT;
    case U_CONT2: return (b & 0xC0u) == 0x80u ? U_CONT1 : CZ_UTF8_REJECT;
    case U_CONT3: return (b & 0xC0u) == 0x80u ? U_CONT2 : CZ_UTF8_REJECT;
    case U_E0: return b >= 0xA0 && b <= 0xBF ? U_CONT1 : CZ_UTF8_REJECT;
    case U_ED: return b >= 0x80 && b <= 0x9F ? U_CONT1 : CZ_UTF8_REJECT;
    case U_F0: return b >= 0x90 && b <= 0xBF ? U_CONT2 : CZ_UTF8_REJECT;
    case U_F4: return b >= 0x80 && b <= 0x8F ? U_CONT2 : CZ_UTF8_REJECT;
    default: return CZ_UTF8_REJECT;
    }
}

int cz_utf8_feed(uint32_t *state, const unsigned char *p, size_t n)
{
    uint32_t s = *state;
    size_t i = 0;
    uint64_t v;

    if (s == CZ_UTF8_REJECT)
        return -1;
    while (i < n) {
        if (s == CZ_UTF8_ACCEPT) {
            /* ASCII runs, 8 bytes at a time */
            while (n - i >= 8) {
                memcpy(&v, p + i, 8);
                if (v & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            if (i >= n)
                break;
        }
        s = utf8_step(s, p[i]);
        i++;
        if (s == CZ_UTF8_REJECT) {
            *state = s;
            return -1;
        }
    }
    *state = s;
    return 0;
}

int cz_utf8_valid(const unsigned char *p, size_t n)
{
    uint32_t s = CZ_UTF8_ACCEPT;
    return cz_utf8_feed(&s, p, n) == 0 && cz_utf8_complete(s);
}

int cz_ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
        || (code >= 3000 && code <= 4999);
}

int cz_ws_check_close(const unsigned char *p, size_t n, int *code)
{
    int c;
    if (n == 0) {
        *code = 1005;   /* no status code present */
        return 0;
    }
    if (n == 1)
        return 1002;
    c = (p[0] << 8) | p[1];
    if (!cz_ws_close_code_valid(c))
        return 1002;
    if (!cz_utf8_valid(p + 2, n - 2))
        return 1002;
    *code = c;
    return 0;
}

size_t cz_ws_write_header(unsigned char *out, int fin, unsigned rsv, int opcode, uint64_t length)
{
    int i;
    out[0] = (unsigned char)((fin ? 0x80u : 0u) | (rsv & 0x70u) | ((unsigned)opcode & 0x0Fu));
    if (length < 126) {
        out[1] = (unsigned char)length;
        return 2;
    }
    if (length <= 0xFFFFu) {
        out[1] = 126;
        out[2] = (unsigned char)(length >> 8);
        out[3] = (unsigned char)length;
        return 4;
    }
    out[1] = 127;
    for (i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(length >> (56 - 8 * i));
    return 10;
}
