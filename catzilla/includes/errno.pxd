# errno constants the I/O code tests (libc.errno lacks some, e.g. EWOULDBLOCK).
# Declared as plain ints, not an enum: EAGAIN == EWOULDBLOCK on Linux, and an
# enum would let Cython turn `a or b` tests into a switch with duplicate cases.
cdef extern from "<errno.h>" nogil:
    int errno
    int EAGAIN
    int EWOULDBLOCK
    int EINTR
    int EMFILE
    int ENFILE
    int ENOBUFS
    int ENOMEM
    int ECONNABORTED
    int ECONNRESET
