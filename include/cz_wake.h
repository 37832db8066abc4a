/* A self-pipe to wake the poller from another thread: eventfd on Linux, a
 * non-blocking pipe elsewhere (the read end is what gets polled). */
#ifndef CZ_WAKE_H
#define CZ_WAKE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/eventfd.h>
static inline int cz_wake_open(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
static inline int cz_wake_signal(int fd)
{
    uint64_t one = 1;
    ssize_t n;
    do { n = write(fd, &one, sizeof one); } while (n < 0 && errno == EINTR);
    return (n == (ssize_t)sizeof one || errno == EAGAIN) ? 0 : -1; /* EAGAIN: already signalled */
}
static inline int cz_wake_drain(int fd)
{
    uint64_t v;
    ssize_t n;
    do { n = read(fd, &v, sizeof v); } while (n < 0 && errno == EINTR);
    return 0;
}
static inline void cz_wake_close(int fd) { close(fd); }
#else
/* The write end of each pipe is kept in a small table keyed by the read end. */
#define CZ_WAKE_MAX 1024
static int cz_wake_wfd[CZ_WAKE_MAX];
static inline int cz_wake_open(void)
{
    int p[2];
    if (pipe(p) < 0) return -1;
    if (p[0] >= CZ_WAKE_MAX) { close(p[0]); close(p[1]); errno = EMFILE; return -1; }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(p[i], F_GETFL);
        if (fl < 0 || fcntl(p[i], F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(p[i], F_SETFD, FD_CLOEXEC) < 0) {
            close(p[0]); close(p[1]);
            return -1;
        }
    }
    cz_wake_wfd[p[0]] = p[1];
    return p[0];
}
static inline int cz_wake_signal(int fd)
{
    char c = 1;
    if (fd < 0 || fd >= CZ_WAKE_MAX) return -1;
    ssize_t n;
    do { n = write(cz_wake_wfd[fd], &c, 1); } while (n < 0 && errno == EINTR);
    return (n == 1 || errno == EAGAIN) ? 0 : -1;
}
static inline int cz_wake_drain(int fd)
{
    char b[64];
    while (read(fd, b, sizeof b) > 0) {}
    return 0;
}
static inline void cz_wake_close(int fd)
{
    if (fd >= 0 && fd < CZ_WAKE_MAX) close(cz_wake_wfd[fd]);
    close(fd);
}
#endif
#endif
