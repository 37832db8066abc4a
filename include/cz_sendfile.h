/* sendfile(2) behind one signature: Linux and macOS/BSD differ. Returns bytes
 * sent (> 0), 0 at end of file, or -1 with errno (EAGAIN when the socket is full). */
#ifndef CZ_SENDFILE_H
#define CZ_SENDFILE_H

#include <errno.h>
#include <sys/types.h>

#if defined(__linux__)
#include <sys/sendfile.h>
static inline long long cz_sendfile(int out_fd, int in_fd, long long offset, long long count)
{
    off_t off = (off_t)offset;
    if (count > 0x7ffff000LL) count = 0x7ffff000LL; /* Linux caps one call there */
    ssize_t n = sendfile(out_fd, in_fd, &off, (size_t)count);
    return (long long)n;
}
#elif defined(__APPLE__) || defined(__FreeBSD__)
#include <sys/socket.h>
#include <sys/uio.h>
static inline long long cz_sendfile(int out_fd, int in_fd, long long offset, long long count)
{
#if defined(__APPLE__)
    off_t len = (off_t)count;
    int r = sendfile(in_fd, out_fd, (off_t)offset, &len, NULL, 0);
#else
    off_t len = 0;
    int r = sendfile(in_fd, out_fd, (off_t)offset, (size_t)count, NULL, &len, 0);
#endif
    if (r < 0 && len > 0 && (errno == EAGAIN || errno == EINTR)) return (long long)len;
    if (r < 0) return -1;
    return (long long)len;
}
#else
#error "no sendfile on this platform"
#endif
#endif
