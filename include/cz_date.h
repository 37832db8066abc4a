/* HTTP-date (RFC 9110 §5.6.7, IMF-fixdate) formatting, independent of locale. */
#ifndef CZ_DATE_H
#define CZ_DATE_H
#include <stddef.h>
#include <time.h>

#define CZ_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes exactly CZ_DATE_LEN bytes plus a NUL into out (size >= 30). Returns 0, -1 on failure. */
int cz_http_date(time_t t, char *out, size_t size);

#endif
