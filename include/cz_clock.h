/* Monotonic seconds as a double, without a Python call (timeouts, access log). */
#ifndef CZ_CLOCK_H
#define CZ_CLOCK_H
#include <time.h>

static inline double cz_monotonic(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
#endif
