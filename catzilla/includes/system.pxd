# Declarations of the POSIX calls and the small C helpers in include/ that the
# I/O code uses (the parser and poller have their own files beside this one).
cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    int AF_INET
    int AF_INET6
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    int shutdown(int fd, int how)
    int SHUT_WR
    int MSG_PEEK
    int MSG_DONTWAIT

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char *src, void *dst)
    const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)

cdef extern from "<sys/uio.h>" nogil:
    struct iovec:
        void *iov_base
        size_t iov_len
    ssize_t writev(int fd, const iovec *iov, int iovcnt)

cdef extern from "cz_sendfile.h" nogil:
    long long cz_sendfile(int out_fd, int in_fd, long long offset, long long count)

cdef extern from "cz_accept.h" nogil:
    int cz_accept(int lfd)     # non-blocking, close-on-exec, TCP_NODELAY; -1 with errno

cdef extern from "cz_wake.h" nogil:
    int cz_wake_open()
    int cz_wake_signal(int fd)
    int cz_wake_drain(int fd)
    void cz_wake_close(int fd)

cdef extern from "cz_date.h" nogil:
    int CZ_DATE_LEN
    int cz_http_date(long t, char *out, size_t size)

cdef extern from "cz_malloc.h" nogil:
    int cz_malloc_trim()       # free heap pages back to the OS (glibc; elsewhere 0, nothing done)

cdef extern from "cz_refuse.h" nogil:
    long long cz_discard(int fd, char *scratch, size_t cap, long long budget)   # -1: EOF or error
    int cz_refuse(int fd, const char *resp, size_t n)                           # send whole, half-close
