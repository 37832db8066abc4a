/* Incremental multipart/form-data parser; see cz_multipart.h for the API and policy.
 *
 * Delimiter search: a delimiter is "\r\n--" boundary + tail. Boundaries are made
 * of bchars, which exclude CR, so a CR can only start a delimiter at its first
 * byte: a failed partial match never hides another candidate inside it, and no
 * KMP table is needed. memchr finds candidate CRs; a candidate cut by the end of
 * the input is "held": its bytes are consumed, and since they are the known
 * delimiter prefix plus tail bytes copied to lb, the look-behind needs no copy
 * of the caller's data beyond those few tail bytes.
 */
#include "cz_multipart.h"

#include <string.h>

enum { PH_PREAMBLE = 1, PH_HEADERS, PH_DATA, PH_EPILOGUE };

/* where the current candidate is after its "\r\n--" boundary bytes */
enum { T_PAD = 0,   /* nothing or SP/HTAB so far: '-', SP/HTAB or CR may follow */
       T_DASH,      /* one '-' seen: the second one closes */
       T_CR };      /* CR seen: LF ends the delimiter line */

/* match_byte results */
enum { MR_MORE, MR_FAIL, MR_PART, MR_CLOSE, MR_PADDING };

static int is_bchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        return 1;
    return c != 0 && strchr("'()+_,-./:=? ", c) != NULL;
}

static void reset_match(cz_mp *mp)
{
    mp->m = 0;
    mp->tl = 0;
    mp->tail = T_PAD;
}

int cz_mp_init(cz_mp *mp, const char *boundary, size_t boundary_len,
               char *hdr, size_t max_header)
{
    size_t i;
    if (mp == NULL)
        return CZ_MP_E_BOUNDARY;
    memset(mp, 0, sizeof(*mp));
    mp->error = CZ_MP_E_BOUNDARY;          /* until fully initialised */
    if (boundary == NULL || boundary_len == 0 || boundary_len > CZ_MP_MAX_BOUNDARY
            || hdr == NULL || max_header > (size_t)-1 - 4)
        return CZ_MP_E_BOUNDARY;
    for (i = 0; i < boundary_len; i++)
        if (!is_bchar((unsigned char)boundary[i]))
            return CZ_MP_E_BOUNDARY;
    if (boundary[boundary_len - 1] == ' ')
        return CZ_MP_E_BOUNDARY;
    memcpy(mp->lb, "\r\n--", 4);
    memcpy(mp->lb + 4, boundary, boundary_len);
    mp->dlen = 4 + boundary_len;
    mp->hdr = hdr;
    mp->hdr_max = max_header;
    mp->phase = PH_PREAMBLE;
    reset_match(mp);
    mp->m = 2;            /* the body may open with "--boundary": a virtual CRLF */
    mp->error = 0;
    return 0;
}

/* One byte of a delimiter candidate (mp->m > 0, i.e. its CR was matched). */
static int match_byte(cz_mp *mp, unsigned char c)
{
    if (mp->m < mp->dlen) {
        if (c != (unsigned char)mp->lb[mp->m])
            return MR_FAIL;
        mp->m++;
        return MR_MORE;
    }
    switch (mp->tail) {
    case T_PAD:
        if (c == '-' && mp->tl == 0) {
            mp->lb[mp->dlen + mp->tl++] = (char)c;
            mp->tail = T_DASH;
            return MR_MORE;
        }
        if (c == ' ' || c == '\t') {
            if (mp->tl >= CZ_MP_MAX_PADDING)
                return MR_PADDING;
            mp->lb[mp->dlen + mp->tl++] = (char)c;
            return MR_MORE;
        }
        if (c == '\r') {
            mp->lb[mp->dlen + mp->tl++] = (char)c;
            mp->tail = T_CR;
            return MR_MORE;
        }
        return MR_FAIL;
    case T_DASH:
        return c == '-' ? MR_CLOSE : MR_FAIL;
    default:              /* T_CR */
        return c == '\n' ? MR_PART : MR_FAIL;
    }
}

static int fail(cz_mp *mp, int code, size_t *consumed, size_t used)
{
    mp->error = code;
    *consumed = used;
    return code;
}

/* A whole delimiter (result r) ended just before data[used]. */
static int delimiter_done(cz_mp *mp, int r, size_t used, size_t *consumed)
{
    int from_data = mp->phase == PH_DATA;
    reset_match(mp);
    *consumed = used;
    if (r == MR_PART) {
        mp->phase = PH_HEADERS;
        mp->hdr_len = 0;
        mp->hdr_match = 2;  /* the delimiter's CRLF: a CRLF now is an empty block */
        if (!from_data)
            return CZ_MP_PART_BEGIN;
        mp->pending = CZ_MP_PART_BEGIN;
    } else {
        mp->phase = PH_EPILOGUE;
        if (!from_data)
            return CZ_MP_END;
        mp->pending = CZ_MP_END;
    }
    return CZ_MP_PART_END;
}

/* PH_PREAMBLE (content discarded) and PH_DATA (content reported). */
static int scan(cz_mp *mp, const unsigned char *p, size_t len, size_t *consumed,
                cz_mp_span *span)
{
    const int emit = mp->phase == PH_DATA;
    size_t i = 0, start, c, j;
    int r = MR_MORE;

    if (mp->m > 0) {                   /* a candidate held from earlier input */
        for (; i < len; i++) {
            r = match_byte(mp, p[i]);
            if (r != MR_MORE)
                break;
        }
        if (i == len) {
            *consumed = len;
            return CZ_MP_NEED_MORE;
        }
        if (r == MR_PADDING)
            return fail(mp, CZ_MP_E_PADDING, consumed, i);
        if (r != MR_FAIL)
            return delimiter_done(mp, r, i + 1, consumed);
        /* content after all: report the held bytes, then rescan from p[i] */
        j = mp->m + mp->tl;
        reset_match(mp);
        if (emit) {
            span->at = mp->lb;
            span->len = j;
            *consumed = i;
            return CZ_MP_DATA;
        }
    }

    start = i;
    while (i < len) {
        const unsigned char *q = memchr(p + i, '\r', len - i);
        if (q == NULL)
            break;
        c = (size_t)(q - p);
        mp->m = 1;
        for (j = c + 1; j < len; j++) {
            r = match_byte(mp, p[j]);
            if (r != MR_MORE)
                break;
        }
        if (j == len) {                /* cut by the end of the input: hold it */
            *consumed = len;
            if (emit && c > start) {
                span->at = (const char *)p + start;
                span->len = c - start;
                return CZ_MP_DATA;
            }
            return CZ_MP_NEED_MORE;
        }
        if (r == MR_FAIL) {
            /* nothing in p[c+1..j) can start a delimiter (no CR there but a
             * tail CR, which p[j] != LF just disproved): resume at p[j] */
            reset_match(mp);
            i = j;
            continue;
        }
        if (emit && c > start) {       /* report the content first, rematch later */
            reset_match(mp);
            span->at = (const char *)p + start;
            span->len = c - start;
            *consumed = c;
            return CZ_MP_DATA;
        }
        if (r == MR_PADDING)
            return fail(mp, CZ_MP_E_PADDING, consumed, j);
        return delimiter_done(mp, r, j + 1, consumed);
    }
    *consumed = len;
    if (emit && len > start) {
        span->at = (const char *)p + start;
        span->len = len - start;
        return CZ_MP_DATA;
    }
    return CZ_MP_NEED_MORE;
}

static int headers(cz_mp *mp, const unsigned char *p, size_t len, size_t *consumed,
                   cz_mp_span *span)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (mp->hdr_len >= mp->hdr_max + 4)            /* cannot happen: checked below */
            return fail(mp, CZ_MP_E_HEADER_TOO_LARGE, consumed, i);
        mp->hdr[mp->hdr_len++] = (char)c;
        /* CR LF CR LF: an LF is expected at odd progress, a CR at even */
        if (c == ((mp->hdr_match & 1) ? '\n' : '\r'))
            mp->hdr_match++;
        else
            mp->hdr_match = c == '\r' ? 1 : 0;
        if (mp->hdr_match == 4) {
            mp->phase = PH_DATA;
            reset_match(mp);
            span->at = mp->hdr;
            span->len = mp->hdr_len >= 4 ? mp->hdr_len - 4 : 0;
            *consumed = i + 1;
            return CZ_MP_HEADERS;
        }
        if (mp->hdr_len == mp->hdr_max + 4)
            return fail(mp, CZ_MP_E_HEADER_TOO_LARGE, consumed, i + 1);
    }
    *consumed = len;
    return CZ_MP_NEED_MORE;
}

int cz_mp_feed(cz_mp *mp, const char *data, size_t len, size_t *consumed,
               cz_mp_span *span)
{
    int ev;
    *consumed = 0;
    span->at = NULL;
    span->len = 0;
    if (mp->error)
        return mp->error;
    if (mp->pending) {
        ev = mp->pending;
        mp->pending = 0;
        return ev;
    }
    if (len == 0)
        return CZ_MP_NEED_MORE;
    if (data == NULL)
        return fail(mp, CZ_MP_E_STATE, consumed, 0);
    switch (mp->phase) {
    case PH_PREAMBLE:
    case PH_DATA:
        return scan(mp, (const unsigned char *)data, len, consumed, span);
    case PH_HEADERS:
        return headers(mp, (const unsigned char *)data, len, consumed, span);
    case PH_EPILOGUE:
        *consumed = len;
        return CZ_MP_NEED_MORE;
    default:
        return fail(mp, CZ_MP_E_STATE, consumed, 0);
    }
}

int cz_mp_finish(const cz_mp *mp)
{
    if (mp->error)
        return mp->error;
    if (mp->pending)
        return CZ_MP_E_STATE;
    switch (mp->phase) {
    case PH_EPILOGUE:
        return 0;
    case PH_PREAMBLE:
        return CZ_MP_E_NO_OPENING;
    case PH_HEADERS:
        return CZ_MP_E_HEADERS_UNTERMINATED;
    case PH_DATA:
        return CZ_MP_E_NO_CLOSING;
    default:
        return CZ_MP_E_STATE;
    }
}

const char *cz_mp_strerror(int code)
{
    switch (code) {
    case 0: return "no error";
    case CZ_MP_E_BOUNDARY: return "invalid multipart boundary";
    case CZ_MP_E_HEADER_TOO_LARGE: return "multipart part headers are too large";
    case CZ_MP_E_PADDING: return "too much transport padding after a multipart boundary";
    case CZ_MP_E_NO_OPENING: return "multipart body has no opening boundary";
    case CZ_MP_E_HEADERS_UNTERMINATED:
        return "multipart part headers are not terminated by an empty line";
    case CZ_MP_E_NO_CLOSING: return "multipart body is missing its closing boundary";
    case CZ_MP_E_STATE: return "multipart parser misused";
    default: return "unknown multipart error";
    }
}
