# Declarations of the readiness poller (include/cz_poller.h).
cdef extern from "cz_poller.h" nogil:
    unsigned CZ_READ
    unsigned CZ_WRITE
    unsigned CZ_HUP
    ctypedef struct cz_event:
        int fd
        unsigned events
    int cz_poller_create()
    int cz_poller_add(int pfd, int fd, unsigned events)
    int cz_poller_mod(int pfd, int fd, unsigned old_events, unsigned events)
    int cz_poller_del(int pfd, int fd, unsigned old_events)
    int cz_poller_wait(int pfd, cz_event *out, int max, int timeout_ms)
