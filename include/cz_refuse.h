/* Refusing a connection beyond the connection limit: a canned response, then a
 * close that does not reset it away.
 *
 * Closing a socket that holds unread bytes sends a TCP RST instead of a FIN, and
 * a client that has not read our answer yet loses it (Linux discards it and
 * reports ECONNRESET); a client still sending its request fails on send. So the
 * server discards what the client sent, sends the response, half-closes (FIN
 * after the response), and keeps discarding until the client closes too,
 * bounded in bytes and time by the caller. */
#ifndef CZ_REFUSE_H
#define CZ_REFUSE_H

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0      /* BSD/macOS: SO_NOSIGPIPE is set on accept (cz_accept.h) */
#endif

/* Reads and drops what the peer sent (non-blocking fd), at most `budget` bytes,
 * `cap` bytes per recv into `scratch`. Returns the bytes dropped when nothing
 * more is there for now, or -1 when the peer has closed (EOF) or the socket
 * failed: then the caller closes it. */
static inline long long cz_discard(int fd, char *scratch, size_t cap, long long budget)
{
    long long dropped = 0;
    while (dropped < budget) {
        ssize_t n = recv(fd, scratch, cap, 0);
        if (n > 0) {
            dropped += n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return dropped;
        return -1;
    }
    return dropped;
}

/* Sends the whole of `resp` (a few hundred bytes: it fits a fresh socket's send
 * buffer) and half-closes. 0, or -1 when it could not be sent whole. */
static inline int cz_refuse(int fd, const char *resp, size_t n)
{
    ssize_t sent;
    do {
        sent = send(fd, resp, n, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0 || (size_t)sent != n)
        return -1;
    if (shutdown(fd, SHUT_WR) < 0)
        return -1;
    return 0;
}

#endif
