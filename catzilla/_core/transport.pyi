"""Type stub for catzilla/_core/transport.pyx: the output side of a connection.

Everything a Transport does (buffered writev, zero-copy tails, sendfile,
write interest, back-pressure) is C-level (cdef); Python sees only the type,
which the server creates (as a Connection) for each accepted socket.
"""
from typing import Any

from typing_extensions import Self

class Transport:
    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """Arguments are accepted and ignored (Connection takes ctx and fd)."""
