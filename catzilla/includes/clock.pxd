cdef extern from "cz_clock.h" nogil:
    double cz_monotonic()
