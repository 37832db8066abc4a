#include "cz_date.h"

#include <stdio.h>

static const char DAYS[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char MONTHS[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int cz_http_date(time_t t, char *out, size_t size)
{
    struct tm tm;
    if (size < CZ_DATE_LEN + 1 || gmtime_r(&t, &tm) == NULL) return -1;
    if (tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
        tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
        return -1;
    int n = snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", DAYS[tm.tm_wday],
                     tm.tm_mday, MONTHS[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    return n == CZ_DATE_LEN ? 0 : -1;
}
