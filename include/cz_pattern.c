/* Catzilla string patterns: see cz_pattern.h. */
#include "cz_pattern.h"

#include <stdlib.h>
#include <string.h>

enum { OP_CHAR, OP_ANY, OP_CLASS, OP_SPLIT, OP_JMP, OP_BEGIN, OP_DOLLAR, OP_END, OP_MATCH };

typedef struct {
    uint8_t op;
    uint32_t a;   /* CHAR: code point; CLASS: class index; SPLIT/JMP: target */
    uint32_t b;   /* SPLIT: second target */
} inst;

typedef struct {
    uint64_t ascii[2];   /* which code points < 128 the items match (before negation) */
    uint32_t first, n;   /* its ranges in the pattern's range array (any code point) */
    uint8_t negate;
    uint8_t unicode;     /* has \d \w \s \D \W \S: no answer for code points >= 128 outside the ranges */
} cls;

/* Small programs (the usual case) also run bit-parallel: the NFA's consuming
 * instructions are the bits of a uint64_t, and the zero-width steps after each
 * are precomputed for every combination of the three position facts the
 * anchors test (start; end; end or before a final "\n"). */
#define BIT_STATES 64
#define BIT_PROG 256

typedef struct {
    uint32_t pc[BIT_STATES];             /* state -> its instruction */
    uint64_t accept[128];                /* code point < 128 -> the states that consume it */
    uint64_t follow[8][BIT_STATES];      /* [position facts][state]: states reached after consuming */
    uint64_t done[8];                    /* [facts]: states from which consuming reaches MATCH */
    uint64_t start[8];                   /* [facts]: states reached from the program's start */
    uint8_t start_match[8];              /* [facts]: MATCH reached from the start (an empty match) */
} bits;

struct cz_pattern {
    size_t nprog, ncls, nrange;
    inst *prog;
    cls *cls;
    uint32_t *range;     /* pairs lo, hi */
    bits *bits;          /* NULL: too big for the bit-parallel run; the Pike VM runs it */
};

/* ---------------------------------------------------------------- compiling */

typedef struct {
    const uint32_t *p;
    size_t n, i;
    inst *prog;          /* CZ_PATTERN_MAX_PROG + 1 */
    size_t nprog;
    cls *cls;
    size_t ncls, capcls;
    uint32_t *range;
    size_t nrange, caprange;
    int err;
} compiler;

#define INF UINT32_MAX
#define MAX_COUNT 100000u      /* a larger {m,n} bound makes a program over the limit anyway */

static int is_ascii_letter(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

static void set_bit(cls *k, uint32_t c) { k->ascii[c >> 6] |= (uint64_t)1 << (c & 63); }

/* \d \w \s (upper case: negated) for code points < 128, as Python's str patterns read them */
static void add_escape_class(cls *k, uint32_t e) {
    uint32_t c;
    int neg = e == 'D' || e == 'W' || e == 'S';
    uint32_t base = neg ? e + 32 : e;
    for (c = 0; c < 128; c++) {
        int in;
        if (base == 'd')
            in = is_digit(c);
        else if (base == 'w')
            in = is_digit(c) || is_ascii_letter(c) || c == '_';
        else   /* str.isspace() for ASCII: \t \n \v \f \r, \x1c-\x1f, space */
            in = (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f) || c == ' ';
        if (in != neg)
            set_bit(k, c);
    }
    k->unicode = 1;
}

static int add_range(compiler *cp, cls *k, uint32_t lo, uint32_t hi) {
    uint32_t c;
    if (cp->nrange + 1 > cp->caprange) {
        size_t cap = cp->caprange ? cp->caprange * 2 : 8;
        uint32_t *r = realloc(cp->range, cap * 2 * sizeof(uint32_t));
        if (!r)
            return -1;
        cp->range = r;
        cp->caprange = cap;
    }
    cp->range[2 * cp->nrange] = lo;
    cp->range[2 * cp->nrange + 1] = hi;
    cp->nrange++;
    k->n++;
    for (c = lo; c <= hi && c < 128; c++)
        set_bit(k, c);
    return 0;
}

static cls *new_class(compiler *cp) {
    cls *k;
    if (cp->ncls == cp->capcls) {
        size_t cap = cp->capcls ? cp->capcls * 2 : 4;
        cls *m = realloc(cp->cls, cap * sizeof(cls));
        if (!m)
            return NULL;
        cp->cls = m;
        cp->capcls = cap;
    }
    k = &cp->cls[cp->ncls++];
    memset(k, 0, sizeof *k);
    k->first = (uint32_t)cp->nrange;
    return k;
}

/* n hex digits at cp->i into *out */
static int hex(compiler *cp, int n, uint32_t *out) {
    uint32_t v = 0;
    int j;
    if (cp->n - cp->i < (size_t)n)
        return -1;
    for (j = 0; j < n; j++) {
        uint32_t c = cp->p[cp->i++], d;
        if (is_digit(c))
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    if (v > 0x10FFFF)
        return -1;
    *out = v;
    return 0;
}

/* An escape's meaning after the backslash (cp->i at the escaped character).
 * Returns 'c' with *out the literal code point, 'k' with *out the class letter
 * (d w s D W S), 'a' with *out the anchor letter (A Z, outside classes), or 0:
 * unsupported. */
static int escape(compiler *cp, int in_class, uint32_t *out) {
    uint32_t e;
    if (cp->i >= cp->n)
        return 0;
    e = cp->p[cp->i++];
    switch (e) {
    case 'd': case 'w': case 's': case 'D': case 'W': case 'S':
        *out = e;
        return 'k';
    case 'A': case 'Z':
        if (in_class)
            return 0;
        *out = e;
        return 'a';
    case 'n': *out = '\n'; return 'c';
    case 't': *out = '\t'; return 'c';
    case 'r': *out = '\r'; return 'c';
    case 'f': *out = '\f'; return 'c';
    case 'v': *out = '\v'; return 'c';
    case 'a': *out = 7; return 'c';
    case 'b':
        if (!in_class)      /* a word boundary outside a class */
            return 0;
        *out = 8;
        return 'c';
    case 'x': return hex(cp, 2, out) ? 0 : 'c';
    case 'u': return hex(cp, 4, out) ? 0 : 'c';
    case 'U': return hex(cp, 8, out) ? 0 : 'c';
    default:
        if (is_ascii_letter(e) || is_digit(e))   /* bad escapes, backreferences, octal */
            return 0;
        *out = e;           /* escaped punctuation or a non-ASCII character: itself */
        return 'c';
    }
}

/* a class from "[" (cp->i after it); the class index, or -1 */
static int parse_class(compiler *cp) {
    cls *k = new_class(cp);
    size_t start;
    if (!k)
        return -1;
    if (cp->i < cp->n && cp->p[cp->i] == '^') {
        k->negate = 1;
        cp->i++;
    }
    start = cp->i;
    for (;;) {
        uint32_t lo, hi, c;
        int t;
        if (cp->i >= cp->n)
            return -1;                       /* unterminated */
        c = cp->p[cp->i++];
        if (c == ']' && cp->i - 1 != start)
            break;
        /* "[" inside (nested-set warning) and the doubled set operators re warns about */
        if (c == '[')
            return -1;
        if ((c == '-' || c == '&' || c == '~' || c == '|') && cp->i < cp->n && cp->p[cp->i] == c)
            return -1;
        if (c == '\\') {
            t = escape(cp, 1, &lo);
            if (!t)
                return -1;
            if (t == 'k') {
                k = &cp->cls[cp->ncls - 1];
                add_escape_class(k, lo);
                if (cp->i + 1 < cp->n && cp->p[cp->i] == '-' && cp->p[cp->i + 1] != ']')
                    return -1;               /* a range from a class: re's "bad character range" */
                continue;
            }
        } else {
            lo = c;
        }
        hi = lo;
        if (cp->i + 1 < cp->n && cp->p[cp->i] == '-' && cp->p[cp->i + 1] != ']') {
            cp->i++;
            c = cp->p[cp->i++];
            if (c == '\\') {
                t = escape(cp, 1, &hi);
                if (t != 'c')
                    return -1;
            } else if (c == '[') {
                return -1;
            } else {
                hi = c;
            }
            if (hi < lo)
                return -1;
        }
        k = &cp->cls[cp->ncls - 1];
        if (add_range(cp, k, lo, hi))
            return -1;
    }
    return (int)(cp->ncls - 1);
}

/* digits at cp->i: the number, or -1 if none; MAX_COUNT + 1 when larger */
static long number(compiler *cp) {
    long v = -1;
    while (cp->i < cp->n && is_digit(cp->p[cp->i])) {
        uint32_t d = cp->p[cp->i++] - '0';
        v = v < 0 ? (long)d : v * 10 + (long)d;
        if (v > (long)MAX_COUNT)
            v = (long)MAX_COUNT + 1;
    }
    return v;
}

static int emit(compiler *cp, uint8_t op, uint32_t a, uint32_t b) {
    if (cp->nprog >= CZ_PATTERN_MAX_PROG) {
        cp->err = CZ_PATTERN_TOO_BIG;
        return -1;
    }
    cp->prog[cp->nprog].op = op;
    cp->prog[cp->nprog].a = a;
    cp->prog[cp->nprog].b = b;
    cp->nprog++;
    return 0;
}

static int compile(compiler *cp) {
    while (cp->i < cp->n) {
        uint32_t c = cp->p[cp->i++], v = 0;
        uint8_t op;
        uint32_t arg = 0, lo = 1, hi = 1, j;
        int t;
        switch (c) {
        case '(': case ')': case '|':
        case '*': case '+': case '?': case '{':   /* nothing to repeat (or a literal "{": refused) */
            return -1;
        case '^':
            if (emit(cp, OP_BEGIN, 0, 0)) return -1;
            goto anchor;
        case '$':
            if (emit(cp, OP_DOLLAR, 0, 0)) return -1;
            goto anchor;
        case '.':
            op = OP_ANY;
            break;
        case '[':
            t = parse_class(cp);
            if (t < 0)
                return -1;
            op = OP_CLASS;
            arg = (uint32_t)t;
            break;
        case '\\':
            t = escape(cp, 0, &v);
            if (t == 'c') {
                op = OP_CHAR;
                arg = v;
            } else if (t == 'k') {
                cls *k = new_class(cp);
                if (!k)
                    return -1;
                add_escape_class(k, v);
                op = OP_CLASS;
                arg = (uint32_t)(cp->ncls - 1);
            } else if (t == 'a') {
                if (emit(cp, v == 'A' ? OP_BEGIN : OP_END, 0, 0)) return -1;
                goto anchor;
            } else {
                return -1;
            }
            break;
        default:
            op = OP_CHAR;
            arg = c;
        }
        /* a quantifier? */
        if (cp->i < cp->n) {
            c = cp->p[cp->i];
            if (c == '*' || c == '+' || c == '?') {
                cp->i++;
                lo = c == '+' ? 1 : 0;
                hi = c == '?' ? 1 : INF;
            } else if (c == '{') {
                long m, x;
                cp->i++;
                m = number(cp);
                if (cp->i < cp->n && cp->p[cp->i] == ',') {
                    cp->i++;
                    x = number(cp);
                    if (m < 0 && x < 0)
                        return -1;           /* "{,}" */
                } else {
                    if (m < 0)
                        return -1;
                    x = m;
                }
                if (cp->i >= cp->n || cp->p[cp->i] != '}')
                    return -1;               /* re reads it as a literal "{": refused */
                cp->i++;
                if (m > (long)MAX_COUNT || x > (long)MAX_COUNT) {
                    cp->err = CZ_PATTERN_TOO_BIG;
                    return -1;
                }
                lo = m < 0 ? 0 : (uint32_t)m;
                hi = x < 0 ? INF : (uint32_t)x;
                if (hi < lo)
                    return -1;
            }
            if (lo != 1 || hi != 1 || c == '{') {
                if (cp->i < cp->n && cp->p[cp->i] == '?')
                    cp->i++;                 /* lazy: the same yes/no answer */
                if (cp->i < cp->n) {
                    c = cp->p[cp->i];
                    if (c == '*' || c == '+' || c == '?' || c == '{')
                        return -1;           /* multiple repeat, or possessive */
                }
            }
        }
        for (j = 0; j < lo; j++)
            if (emit(cp, op, arg, 0)) return -1;
        if (hi == INF) {
            uint32_t top = (uint32_t)cp->nprog;
            if (emit(cp, OP_SPLIT, top + 1, top + 3) || emit(cp, op, arg, 0) || emit(cp, OP_JMP, top, 0))
                return -1;
        } else if (hi > lo) {
            size_t end = cp->nprog + 2 * (size_t)(hi - lo);
            if (end > CZ_PATTERN_MAX_PROG) {
                cp->err = CZ_PATTERN_TOO_BIG;
                return -1;
            }
            for (j = lo; j < hi; j++)
                if (emit(cp, OP_SPLIT, (uint32_t)cp->nprog + 1, (uint32_t)end) || emit(cp, op, arg, 0))
                    return -1;
        }
        continue;
    anchor:
        if (cp->i < cp->n) {
            c = cp->p[cp->i];
            if (c == '*' || c == '+' || c == '?' || c == '{')
                return -1;                   /* re: nothing to repeat */
        }
    }
    return emit(cp, OP_MATCH, 0, 0);
}

static int class_test(const cz_pattern *p, const cls *k, uint32_t c);

#define F_BEGIN 1    /* position facts: at the start */
#define F_END 2      /* at the end */
#define F_DOLLAR 4   /* at the end or before a final "\n" */

/* The consuming states (as bits) and whether MATCH is reached, following the
 * zero-width instructions from `start` where the position facts are `facts`. */
static int closure(const cz_pattern *p, const int *state_of, uint32_t start, int facts, uint64_t *out) {
    uint8_t seen[BIT_PROG];
    uint32_t stack[BIT_PROG];
    size_t top = 0;
    int match = 0;
    memset(seen, 0, p->nprog);
    seen[start] = 1;
    stack[top++] = start;
    while (top) {
        uint32_t pc = stack[--top], next[2];
        int k, nnext = 0;
        const inst *in = &p->prog[pc];
        switch (in->op) {
        case OP_MATCH: match = 1; break;
        case OP_CHAR: case OP_ANY: case OP_CLASS: *out |= (uint64_t)1 << state_of[pc]; break;
        case OP_JMP: next[nnext++] = in->a; break;
        case OP_SPLIT: next[nnext++] = in->a; next[nnext++] = in->b; break;
        case OP_BEGIN: if (facts & F_BEGIN) next[nnext++] = pc + 1; break;
        case OP_END: if (facts & F_END) next[nnext++] = pc + 1; break;
        case OP_DOLLAR: if (facts & F_DOLLAR) next[nnext++] = pc + 1; break;
        }
        for (k = 0; k < nnext; k++)
            if (!seen[next[k]]) {
                seen[next[k]] = 1;
                stack[top++] = next[k];
            }
    }
    return match;
}

static int make_bits(cz_pattern *p) {
    int state_of[BIT_PROG];
    size_t pc, n = 0;
    int facts, k;
    uint32_t c;
    bits *b;
    if (p->nprog > BIT_PROG)
        return 0;
    for (pc = 0; pc < p->nprog; pc++) {
        uint8_t op = p->prog[pc].op;
        state_of[pc] = -1;
        if (op == OP_CHAR || op == OP_ANY || op == OP_CLASS) {
            if (n == BIT_STATES)
                return 0;
            state_of[pc] = (int)n++;
        }
    }
    b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    for (pc = 0; pc < p->nprog; pc++) {
        const inst *in = &p->prog[pc];
        if (state_of[pc] < 0)
            continue;
        k = state_of[pc];
        b->pc[k] = (uint32_t)pc;
        for (c = 0; c < 128; c++) {
            int ok = in->op == OP_CHAR ? c == in->a : in->op == OP_ANY ? c != '\n'
                                                     : class_test(p, &p->cls[in->a], c);
            if (ok)
                b->accept[c] |= (uint64_t)1 << k;
        }
        for (facts = 0; facts < 8; facts++)
            if (closure(p, state_of, (uint32_t)pc + 1, facts, &b->follow[facts][k]))
                b->done[facts] |= (uint64_t)1 << k;
    }
    for (facts = 0; facts < 8; facts++)
        b->start_match[facts] = (uint8_t)closure(p, state_of, 0, facts, &b->start[facts]);
    p->bits = b;
    return 0;
}

int cz_pattern_compile(const uint32_t *pattern, size_t n, cz_pattern **out) {
    compiler cp;
    cz_pattern *p = NULL;
    int rc = CZ_PATTERN_UNSUPPORTED;
    *out = NULL;
    memset(&cp, 0, sizeof cp);
    cp.p = pattern;
    cp.n = n;
    cp.err = CZ_PATTERN_UNSUPPORTED;
    cp.prog = malloc((CZ_PATTERN_MAX_PROG + 1) * sizeof(inst));
    if (!cp.prog)
        goto done;
    if (compile(&cp)) {
        rc = cp.err;
        goto done;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        goto done;
    p->nprog = cp.nprog;
    p->ncls = cp.ncls;
    p->nrange = cp.nrange;
    p->prog = malloc(cp.nprog * sizeof(inst));
    p->cls = malloc((cp.ncls ? cp.ncls : 1) * sizeof(cls));
    p->range = malloc((cp.nrange ? cp.nrange : 1) * 2 * sizeof(uint32_t));
    if (!p->prog || !p->cls || !p->range) {
        cz_pattern_free(p);
        p = NULL;
        goto done;
    }
    memcpy(p->prog, cp.prog, cp.nprog * sizeof(inst));
    if (cp.ncls)
        memcpy(p->cls, cp.cls, cp.ncls * sizeof(cls));
    if (cp.nrange)
        memcpy(p->range, cp.range, cp.nrange * 2 * sizeof(uint32_t));
    if (make_bits(p)) {
        cz_pattern_free(p);
        p = NULL;
        goto done;
    }
    *out = p;
    rc = 0;
done:
    free(cp.prog);
    free(cp.cls);
    free(cp.range);
    return rc;
}

void cz_pattern_free(cz_pattern *p) {
    if (!p)
        return;
    free(p->bits);
    free(p->prog);
    free(p->cls);
    free(p->range);
    free(p);
}

size_t cz_pattern_size(const cz_pattern *p) { return p->nprog; }

/* ---------------------------------------------------------------- matching */

/* 1 / 0, or CZ_PATTERN_UNDECIDED */
static int class_test(const cz_pattern *p, const cls *k, uint32_t c) {
    int hit;
    if (c < 128) {
        hit = (int)((k->ascii[c >> 6] >> (c & 63)) & 1);
    } else {
        const uint32_t *r = p->range + 2 * (size_t)k->first;
        uint32_t j;
        hit = 0;
        for (j = 0; j < k->n; j++)
            if (c >= r[2 * j] && c <= r[2 * j + 1]) {
                hit = 1;
                break;
            }
        if (!hit && k->unicode)
            return CZ_PATTERN_UNDECIDED;
    }
    return hit != k->negate;
}

/* A thread list: the consuming instructions reached at one position. `mark`
 * (shared by both lists) holds, per instruction, 1 + the position whose list
 * it was last added to, so membership needs no clearing between steps. */
typedef struct {
    uint32_t *pc;
    size_t n;
} tlist;

#define SEARCH(NAME, T)                                                                         \
static int NAME(const cz_pattern *p, const T *s, size_t len, size_t *mark, uint32_t *stack,     \
                uint32_t *l0, uint32_t *l1) {                                                   \
    tlist cur = {l0, 0}, nxt = {l1, 0}, tmp;                                                     \
    const inst *prog = p->prog;                                                                  \
    int anchored = prog[0].op == OP_BEGIN;                                                       \
    size_t i, j;                                                                                 \
    for (i = 0;; i++) {                                                                          \
        if (!anchored || i == 0) {                                                               \
            if (ADD(&cur, 0, i))                                                                 \
                return CZ_PATTERN_MATCH;                                                         \
        }                                                                                        \
        if (cur.n == 0 && anchored)                                                              \
            return CZ_PATTERN_NOMATCH;                                                           \
        if (i == len)                                                                            \
            return CZ_PATTERN_NOMATCH;                                                           \
        {                                                                                        \
            uint32_t c = (uint32_t)s[i];                                                         \
            nxt.n = 0;                                                                           \
            for (j = 0; j < cur.n; j++) {                                                        \
                const inst *in = &prog[cur.pc[j]];                                               \
                int ok;                                                                          \
                if (in->op == OP_CHAR)                                                           \
                    ok = c == in->a;                                                             \
                else if (in->op == OP_ANY)                                                       \
                    ok = c != '\n';                                                              \
                else {                                                                           \
                    ok = class_test(p, &p->cls[in->a], c);                                       \
                    if (ok < 0)                                                                  \
                        return CZ_PATTERN_UNDECIDED;                                             \
                }                                                                                \
                if (ok && ADD(&nxt, cur.pc[j] + 1, i + 1))                                       \
                    return CZ_PATTERN_MATCH;                                                     \
            }                                                                                    \
        }                                                                                        \
        tmp = cur; cur = nxt; nxt = tmp;                                                         \
    }                                                                                            \
}

/* Follow the zero-width instructions from `start` at position `pos` (an
 * explicit stack: each instruction is pushed at most once per position);
 * 1 if MATCH is reached. */

#define ADDER(T_NAME_, T)                                                                        \
static int add_##T_NAME_(const cz_pattern *p, const T *s, size_t len, size_t *mark,             \
                         uint32_t *stack, tlist *list, uint32_t start, size_t pos) {            \
    size_t top = 0;                                                                              \
    const inst *prog = p->prog;                                                                  \
    if (mark[start] == pos + 1)                                                                  \
        return 0;                                                                                \
    mark[start] = pos + 1;                                                                       \
    stack[top++] = start;                                                                        \
    while (top) {                                                                                \
        uint32_t pc = stack[--top], next[2];                                                     \
        int k, nnext = 0;                                                                        \
        switch (prog[pc].op) {                                                                   \
        case OP_MATCH:                                                                           \
            return 1;                                                                            \
        case OP_CHAR: case OP_ANY: case OP_CLASS:                                                \
            list->pc[list->n++] = pc;                                                            \
            break;                                                                               \
        case OP_JMP:                                                                             \
            next[nnext++] = prog[pc].a;                                                          \
            break;                                                                               \
        case OP_SPLIT:                                                                           \
            next[nnext++] = prog[pc].b;                                                          \
            next[nnext++] = prog[pc].a;                                                          \
            break;                                                                               \
        case OP_BEGIN:                                                                           \
            if (pos == 0) next[nnext++] = pc + 1;                                                \
            break;                                                                               \
        case OP_END:                                                                             \
            if (pos == len) next[nnext++] = pc + 1;                                              \
            break;                                                                               \
        case OP_DOLLAR:   /* the end, or just before a final "\n" */                             \
            if (pos == len || (pos + 1 == len && s[pos] == '\n')) next[nnext++] = pc + 1;        \
            break;                                                                               \
        }                                                                                        \
        for (k = 0; k < nnext; k++)                                                              \
            if (mark[next[k]] != pos + 1) {                                                      \
                mark[next[k]] = pos + 1;                                                         \
                stack[top++] = next[k];                                                          \
            }                                                                                    \
    }                                                                                            \
    return 0;                                                                                    \
}

ADDER(u8, uint8_t)
ADDER(u16, uint16_t)
ADDER(u32, uint32_t)

#undef ADD
#define ADD(list, start, pos) add_u8(p, s, len, mark, stack, (list), (start), (pos))
SEARCH(search_u8, uint8_t)
#undef ADD
#define ADD(list, start, pos) add_u16(p, s, len, mark, stack, (list), (start), (pos))
SEARCH(search_u16, uint16_t)
#undef ADD
#define ADD(list, start, pos) add_u32(p, s, len, mark, stack, (list), (start), (pos))
SEARCH(search_u32, uint32_t)
#undef ADD

#define BITSEARCH(NAME, T)                                                                      \
static int NAME(const cz_pattern *p, const T *s, size_t len) {                                  \
    const bits *b = p->bits;                                                                     \
    int anchored = p->prog[0].op == OP_BEGIN;                                                    \
    uint64_t cur = 0, t, next;                                                                   \
    size_t i;                                                                                    \
    int facts = FACTS(0);                                                                        \
    for (i = 0;; i++) {                                                                          \
        uint32_t c;                                                                              \
        int nfacts;                                                                              \
        if (!anchored || i == 0) {                                                               \
            if (b->start_match[facts])                                                           \
                return CZ_PATTERN_MATCH;                                                         \
            cur |= b->start[facts];                                                              \
        }                                                                                        \
        if (cur == 0 && anchored)                                                                \
            return CZ_PATTERN_NOMATCH;                                                           \
        if (i == len)                                                                            \
            return CZ_PATTERN_NOMATCH;                                                           \
        c = (uint32_t)s[i];                                                                      \
        if (c < 128) {                                                                           \
            t = cur & b->accept[c];                                                              \
        } else {                                                                                 \
            uint64_t left = cur;                                                                 \
            t = 0;                                                                               \
            while (left) {                                                                       \
                int k = __builtin_ctzll(left), ok;                                               \
                const inst *in = &p->prog[b->pc[k]];                                             \
                left &= left - 1;                                                                \
                if (in->op == OP_CHAR)                                                           \
                    ok = c == in->a;                                                             \
                else if (in->op == OP_ANY)                                                       \
                    ok = 1;                                                                      \
                else if ((ok = class_test(p, &p->cls[in->a], c)) < 0)                            \
                    return CZ_PATTERN_UNDECIDED;                                                 \
                if (ok)                                                                          \
                    t |= (uint64_t)1 << k;                                                       \
            }                                                                                    \
        }                                                                                        \
        nfacts = FACTS(i + 1);                                                                   \
        if (t & b->done[nfacts])                                                                 \
            return CZ_PATTERN_MATCH;                                                             \
        next = 0;                                                                                \
        while (t) {                                                                              \
            next |= b->follow[nfacts][__builtin_ctzll(t)];                                       \
            t &= t - 1;                                                                          \
        }                                                                                        \
        cur = next;                                                                              \
        facts = nfacts;                                                                          \
    }                                                                                            \
}

/* the position facts of position `i` */
#define FACTS(i) (((i) == 0 ? F_BEGIN : 0) | ((i) == len ? F_END | F_DOLLAR : 0)                 \
                  | ((i) + 1 == len && s[(i)] == '\n' ? F_DOLLAR : 0))
BITSEARCH(bits_u8, uint8_t)
BITSEARCH(bits_u16, uint16_t)
BITSEARCH(bits_u32, uint32_t)
#undef FACTS

#define SMALL 64   /* programs up to this size search with stack memory */

int cz_pattern_search(const cz_pattern *p, int kind, const void *data, size_t len) {
    size_t small_mark[SMALL];
    uint32_t small_u32[3 * SMALL];
    size_t *mark = small_mark;
    uint32_t *u32 = small_u32;
    size_t n = p->nprog;
    int rc;
    if (p->bits) {
        if (kind == 1)
            return bits_u8(p, data, len);
        if (kind == 2)
            return bits_u16(p, data, len);
        return bits_u32(p, data, len);
    }
    if (n > SMALL) {
        mark = malloc(n * sizeof(size_t));
        u32 = malloc(3 * n * sizeof(uint32_t));
        if (!mark || !u32) {
            free(mark);
            free(u32);
            return CZ_PATTERN_NOMEM;
        }
    }
    memset(mark, 0, n * sizeof(size_t));
    if (kind == 1)
        rc = search_u8(p, data, len, mark, u32, u32 + n, u32 + 2 * n);
    else if (kind == 2)
        rc = search_u16(p, data, len, mark, u32, u32 + n, u32 + 2 * n);
    else
        rc = search_u32(p, data, len, mark, u32, u32 + n, u32 + 2 * n);
    if (n > SMALL) {
        free(mark);
        free(u32);
    }
    return rc;
}
