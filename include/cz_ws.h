/* Catzilla WebSocket framing (RFC 6455): plain C, no Python, no allocation.
 *
 *  - cz_ws_parse_header: incremental frame-header parser. Given the bytes
 *    received so far it answers INCOMPLETE until the whole header (2 to 14
 *    bytes) is there, then validates it: RSV bits against the negotiated
 *    mask (RSV1 only on the first frame of a data message), known opcodes,
 *    control frames FIN and <= 125 bytes, continuation only inside a
 *    fragmented message and a new data frame only outside one, the client
 *    mask bit, a 64-bit length with its top bit clear. Errors carry the
 *    close code to send: 1002 (protocol) or 1009 (payload over max_payload).
 *  - cz_ws_unmask: XOR with the masking key, word at a time, starting at
 *    any offset of the payload so pieces can be unmasked as they arrive.
 *  - cz_utf8_*: an incremental UTF-8 validator (a small state machine):
 *    invalid is reported at the first byte that cannot start or continue a
 *    well-formed sequence (overlongs, surrogates and > U+10FFFF included),
 *    and a message is valid only if the state is back at "complete".
 *  - cz_ws_check_close: a close frame's payload (code and UTF-8 reason).
 *  - cz_ws_write_header: a server frame header (never masked).
 */
#ifndef CZ_WS_H
#define CZ_WS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CZ_WS_ERROR      (-1)
#define CZ_WS_INCOMPLETE (-2)

#define CZ_WS_OP_CONT   0x0
#define CZ_WS_OP_TEXT   0x1
#define CZ_WS_OP_BINARY 0x2
#define CZ_WS_OP_CLOSE  0x8
#define CZ_WS_OP_PING   0x9
#define CZ_WS_OP_PONG   0xA

/* RSV bits as they sit in the first header byte */
#define CZ_WS_RSV1 0x40u
#define CZ_WS_RSV2 0x20u
#define CZ_WS_RSV3 0x10u

#define CZ_WS_MAX_HEADER 14   /* 2 + 8 (64-bit length) + 4 (mask) */
#define CZ_WS_MAX_CONTROL 125

typedef struct {
    int fin;
    unsigned rsv;             /* CZ_WS_RSV* bits set in the frame */
    int opcode;
    int masked;
    unsigned char mask[4];
    uint64_t length;          /* payload length */
    size_t header_len;
    int error_code;           /* on CZ_WS_ERROR: 1002 or 1009 */
    const char *error_reason; /* on CZ_WS_ERROR: static text */
} cz_ws_frame;

/* Parse a frame header from p[0, n).
 *   rsv_allowed: RSV bits the negotiated extensions allow (0 or CZ_WS_RSV1)
 *   in_message:  nonzero while a fragmented data message is open
 *   require_mask: nonzero on a server (client frames must be masked)
 *   max_payload: largest data-frame payload acceptable now (e.g. the message
 *                size limit minus what the message already holds)
 * Returns the header length (> 0) when complete and valid, CZ_WS_INCOMPLETE
 * when more bytes are needed (nothing read beyond n), or CZ_WS_ERROR with
 * f->error_code set. Errors are reported as soon as the bytes seen prove
 * them (e.g. a bad opcode in the first byte). */
int cz_ws_parse_header(const unsigned char *p, size_t n, unsigned rsv_allowed, int in_message,
                       int require_mask, uint64_t max_payload, cz_ws_frame *f);

/* XOR p[0, n) with the masking key, p[0] being payload byte number `offset`
 * of the frame (so the key is used from index offset % 4). Applying it twice
 * restores the input. */
void cz_ws_unmask(unsigned char *p, size_t n, const unsigned char mask[4], uint64_t offset);

/* Incremental UTF-8 validation. state starts at CZ_UTF8_ACCEPT. */
#define CZ_UTF8_ACCEPT 0u
#define CZ_UTF8_REJECT 1u
/* Feed p[0, n): returns 0 while the input is a valid prefix, -1 as soon as
 * it cannot be (the state then stays CZ_UTF8_REJECT). */
int cz_utf8_feed(uint32_t *state, const unsigned char *p, size_t n);
/* Nonzero when the text fed so far ends on a whole character. */
static inline int cz_utf8_complete(uint32_t state) { return state == CZ_UTF8_ACCEPT; }
/* One-shot: nonzero when p[0, n) is valid UTF-8. */
int cz_utf8_valid(const unsigned char *p, size_t n);

/* A close frame's payload p[0, n): 0 when valid (*code gets the status code,
 * 1005 for an empty payload), 1002 when not (a 1-byte payload, a code that
 * may not be sent on the wire, or a reason that is not UTF-8). */
int cz_ws_check_close(const unsigned char *p, size_t n, int *code);

/* Nonzero for a status code an endpoint may send in a close frame. */
int cz_ws_close_code_valid(int code);

/* Write a server frame header (unmasked) for a payload of `length` bytes into
 * out (at least CZ_WS_MAX_HEADER bytes). rsv: CZ_WS_RSV* bits. Returns its
 * length (2, 4 or 10). */
size_t cz_ws_write_header(unsigned char *out, int fin, unsigned rsv, int opcode, uint64_t length);

#ifdef __cplusplus
}
#endif
#endif
