"""Type stub for catzilla/files.pyx: file responses sent with sendfile(2)."""
import os
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from catzilla.response import Response

_Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]

class _OpenFile:
    """An open file descriptor, closed when the last reference goes away."""
    @property
    def closed(self) -> bool: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...
    def __enter__(self) -> "_OpenFile": ...
    def __exit__(self, *exc: Any) -> None: ...

def parse_http_date(value: Any) -> Optional[int]:
    """Epoch seconds for an IMF-fixdate, RFC 850 or asctime date; None if invalid."""

def http_date(timestamp: float) -> str:
    """IMF-fixdate ('Sun, 06 Nov 1994 08:49:37 GMT') for a POSIX timestamp."""

def content_disposition(disposition: str, filename: str) -> str:
    """'attachment; filename="..."' (+ filename*=UTF-8''... for non-ASCII names)."""

def guess_media_type(name: Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]) -> Optional[str]:
    """The Content-Type FileResponse sends for a file of this name; None: unknown."""

class FileResponse(Response):
    """Send a file with sendfile(2): ETag (strong, from size and mtime_ns),
    Last-Modified, 304/412 for conditional requests, 206/416 for one byte
    Range (several ranges: 200 with the whole file), Content-Disposition when
    `filename` is given. Missing file or directory: 404; unreadable: 403. The
    file is opened for each request answered: one object can answer many."""

    path: Union[str, bytes]
    filename: Optional[str]
    content_disposition_type: str

    def __init__(self, path: Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"],
                 status_code: Optional[int] = None, headers: _Headers = None,
                 media_type: Optional[str] = None, background: Any = None, *, filename: Optional[str] = None,
                 content_type: Optional[str] = None, content_disposition_type: str = "attachment",
                 status: Optional[int] = None) -> None: ...
