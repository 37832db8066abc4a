/* Catzilla string patterns: a subset of Python's `re` syntax compiled to a
 * small NFA program and run over a str's code points with exactly the
 * answer `re.search(pattern, s) is not None` gives. Plain C, no Python.
 *
 * The subset (anything else is refused by cz_pattern_compile, and the caller
 * keeps Python's `re`): literals (escaped punctuation, \n \t \r \f \v \a,
 * \xhh \uhhhh \Uhhhhhhhh); `.` (any code point but "\n"); classes `[...]` and
 * `[^...]` with ranges and the escapes below; \d \w \s \D \W \S; anchors `^`
 * and `\A` (start), `$` (end, or before a final "\n"), `\Z` (end); the
 * quantifiers * + ? {m} {m,} {,n} {m,n}, greedy or lazy (`?` after them: the
 * same answer for a yes/no search). No groups, alternation, backreferences,
 * lookaround, word boundaries, flags or possessive quantifiers.
 *
 * \d \w \s mean Unicode categories in Python; they are decided here for
 * code points < 128 only: a class test that would need the Unicode meaning
 * answers CZ_PATTERN_UNDECIDED, and the caller asks `re`.
 *
 * Matching is a Thompson NFA simulation (Pike VM without captures): time
 * O(len(subject) * len(program)), memory O(len(program)), no recursion.
 */
#ifndef CZ_PATTERN_H
#define CZ_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CZ_PATTERN_NOMATCH     0
#define CZ_PATTERN_MATCH       1
#define CZ_PATTERN_UNDECIDED (-1)   /* a Unicode class met a code point >= 128: ask re */
#define CZ_PATTERN_NOMEM     (-2)   /* a large program's work space could not be allocated */

/* compile errors */
#define CZ_PATTERN_UNSUPPORTED (-1) /* outside the subset (or not valid re syntax) */
#define CZ_PATTERN_TOO_BIG     (-2) /* the program would exceed CZ_PATTERN_MAX_PROG */

#define CZ_PATTERN_MAX_PROG 4096    /* instructions; a{0,1000} is 2001 */

typedef struct cz_pattern cz_pattern;

/* Compile `n` code points. On success *out is a new pattern (cz_pattern_free
 * it) and 0 is returned; otherwise a negative error and *out is NULL. */
int cz_pattern_compile(const uint32_t *pattern, size_t n, cz_pattern **out);
void cz_pattern_free(cz_pattern *p);

/* Search `len` code units of `kind` bytes each (1, 2 or 4: a PEP 393 str's
 * storage) for a match anywhere, as re.search does. */
int cz_pattern_search(const cz_pattern *p, int kind, const void *data, size_t len);

/* The number of instructions (for tests and diagnostics). */
size_t cz_pattern_size(const cz_pattern *p);

#ifdef __cplusplus
}
#endif

#endif
