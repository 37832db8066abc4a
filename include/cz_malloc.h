/* glibc's allocator knobs, with no-op fallbacks where they do not exist (musl, macOS). */
#ifndef CZ_MALLOC_H
#define CZ_MALLOC_H

#include <stdlib.h>     /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>

/* Return the free pages of every malloc arena to the OS (madvise); 1 if any were released. */
static inline int cz_malloc_trim(void) { return malloc_trim(0); }
#else
static inline int cz_malloc_trim(void) { return 0; }
#endif

#endif
