#include "cz_poller.h"

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/epoll.h>

#define CZ_BATCH 256

static unsigned to_epoll(unsigned ev)
{
    unsigned e = EPOLLRDHUP;
    if (ev & CZ_READ) e |= EPOLLIN;
    if (ev & CZ_WRITE) e |= EPOLLOUT;
    return e;
}

int cz_poller_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cz_poller_add(int pfd, int fd, unsigned events)
{
    struct epoll_event e = {.events = to_epoll(events), .data.fd = fd};
    return epoll_ctl(pfd, EPOLL_CTL_ADD, fd, &e);
}

int cz_poller_mod(int pfd, int fd, unsigned old_events, unsigned events)
{
    (void)old_events;
    struct epoll_event e = {.events = to_epoll(events), .data.fd = fd};
    return epoll_ctl(pfd, EPOLL_CTL_MOD, fd, &e);
}

int cz_poller_del(int pfd, int fd, unsigned old_events)
{
    (void)old_events;
    struct epoll_event e = {0};
    return epoll_ctl(pfd, EPOLL_CTL_DEL, fd, &e);
}

int cz_poller_wait(int pfd, cz_event *out, int max, int timeout_ms)
{
    struct epoll_event evs[CZ_BATCH];
    if (max > CZ_BATCH) max = CZ_BATCH;
    if (max <= 0) return 0;
    int n;
    do {
        n = epoll_wait(pfd, evs, max, timeout_ms);
    } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        unsigned e = evs[i].events, r = 0;
        if (e & EPOLLIN) r |= CZ_READ;
        if (e & EPOLLOUT) r |= CZ_WRITE;
        if (e & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) r |= CZ_HUP;
        out[i].fd = evs[i].data.fd;
        out[i].events = r;
    }
    return n;
}

#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>

#define CZ_BATCH 256

int cz_poller_create(void)
{
    int fd = kqueue();
    if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int apply(int pfd, int fd, unsigned old_events, unsigned events)
{
    struct kevent ch[2];
    int n = 0;
    if ((events & CZ_READ) && !(old_events & CZ_READ))
        EV_SET(&ch[n++], fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    else if (!(events & CZ_READ) && (old_events & CZ_READ))
        EV_SET(&ch[n++], fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    if ((events & CZ_WRITE) && !(old_events & CZ_WRITE))
        EV_SET(&ch[n++], fd, EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    else if (!(events & CZ_WRITE) && (old_events & CZ_WRITE))
        EV_SET(&ch[n++], fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    if (n == 0) return 0;
    return kevent(pfd, ch, n, NULL, 0, NULL);
}

int cz_poller_add(int pfd, int fd, unsigned events) { return apply(pfd, fd, 0, events); }
int cz_poller_mod(int pfd, int fd, unsigned old_events, unsigned events) { return apply(pfd, fd, old_events, events); }
int cz_poller_del(int pfd, int fd, unsigned old_events) { return apply(pfd, fd, old_events, 0); }

int cz_poller_wait(int pfd, cz_event *out, int max, int timeout_ms)
{
    struct kevent evs[CZ_BATCH];
    struct timespec ts, *tp = NULL;
    if (max > CZ_BATCH) max = CZ_BATCH;
    if (max <= 0) return 0;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tp = &ts;
    }
    int n;
    do {
        n = kevent(pfd, NULL, 0, evs, max, tp);
    } while (n < 0 && errno == EINTR);
    /* kqueue reports read and write of one fd as two events; callers cope
     * with repeated fds (each event is handled on its own). */
    for (int i = 0; i < n; i++) {
        unsigned r = 0;
        if (evs[i].filter == EVFILT_READ) r |= CZ_READ;
        if (evs[i].filter == EVFILT_WRITE) r |= CZ_WRITE;
        if (evs[i].flags & (EV_EOF | EV_ERROR)) r |= CZ_HUP;
        out[i].fd = (int)evs[i].ident;
        out[i].events = r;
    }
    return n;
}

#else
#error "catzilla needs epoll (Linux) or kqueue (macOS/BSD)"
#endif
