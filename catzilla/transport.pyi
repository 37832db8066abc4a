"""Type stub for catzilla/transport.pyx: the output side of a connection.

Everything a Transport does (buffered writev, zero-copy tails, sendfile,
write interest, back-pressure) is C-level (cdef); Python sees only the type,
which the server creates (as a Connection) for each accepted socket.
"""
from typing import Any

class Transport:
    # __cinit__(self, *args, **kwargs): any arguments are accepted and ignored.
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
