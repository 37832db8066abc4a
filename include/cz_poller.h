/* One tiny readiness interface over epoll (Linux) and kqueue (macOS/BSD),
 * chosen at compile time. Level-triggered. The poller's own fd is itself
 * pollable, which is how the Python side hands it to asyncio's add_reader. */
#ifndef CZ_POLLER_H
#define CZ_POLLER_H

#define CZ_READ  0x1u
#define CZ_WRITE 0x2u
#define CZ_HUP   0x4u  /* peer closed or error: the fd is done */

typedef struct {
    int fd;
    unsigned events;
} cz_event;

/* Each returns -1 with errno set on failure. */
int cz_poller_create(void);
int cz_poller_add(int pfd, int fd, unsigned events);
/* old: what is registered now (kqueue needs it to delete filters) */
int cz_poller_mod(int pfd, int fd, unsigned old_events, unsigned events);
int cz_poller_del(int pfd, int fd, unsigned old_events);
/* Fills at most max events; timeout_ms < 0 waits forever. Returns the count. */
int cz_poller_wait(int pfd, cz_event *out, int max, int timeout_ms);

#endif
