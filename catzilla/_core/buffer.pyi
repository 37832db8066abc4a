"""Type stub for catzilla/_core/buffer.pyx: the growable C byte buffer used for socket I/O.

Only the Python-visible surface is listed; reserve/append/consume/... are
C-level (cdef) methods that Python code cannot call.
"""

from typing_extensions import Self

class Buffer:
    def __new__(cls, capacity: int = 0) -> Self:
        """An empty buffer; `capacity` > 0 pre-allocates that many bytes."""
    def __len__(self) -> int:
        """Number of live (unconsumed) bytes."""
    def getvalue(self) -> bytes:
        """A copy of the live bytes."""
