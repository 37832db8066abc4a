# Declarations of the WebSocket framing code (include/cz_ws.h).
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "cz_ws.h" nogil:
    int CZ_WS_ERROR
    int CZ_WS_INCOMPLETE
    int CZ_WS_OP_CONT
    int CZ_WS_OP_TEXT
    int CZ_WS_OP_BINARY
    int CZ_WS_OP_CLOSE
    int CZ_WS_OP_PING
    int CZ_WS_OP_PONG
    unsigned CZ_WS_RSV1
    int CZ_WS_MAX_HEADER
    int CZ_WS_MAX_CONTROL
    uint32_t CZ_UTF8_ACCEPT
    uint32_t CZ_UTF8_REJECT

    ctypedef struct cz_ws_frame:
        int fin
        unsigned rsv
        int opcode
        int masked
        unsigned char mask[4]
        uint64_t length
        size_t header_len
        int error_code
        const char *error_reason

    int cz_ws_parse_header(const unsigned char *p, size_t n, unsigned rsv_allowed, int in_message,
                           int require_mask, uint64_t max_payload, cz_ws_frame *f)
    void cz_ws_unmask(unsigned char *p, size_t n, const unsigned char *mask, uint64_t offset)
    int cz_utf8_feed(uint32_t *state, const unsigned char *p, size_t n)
    int cz_utf8_complete(uint32_t state)
    int cz_utf8_valid(const unsigned char *p, size_t n)
    int cz_ws_check_close(const unsigned char *p, size_t n, int *code)
    int cz_ws_close_code_valid(int code)
    size_t cz_ws_write_header(unsigned char *out, int fin, unsigned rsv, int opcode, uint64_t length)
