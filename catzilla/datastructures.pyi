"""Type stub for the compiled data structures (catzilla/datastructures.pyx).

All mappings are order-preserving and, but for MutableHeaders, immutable.
``len``/``iter``/``keys()`` cover DISTINCT keys (first-appearance order);
``values()``/``items()`` cover EVERY entry, repeated keys included.
``Headers[name]`` is the FIRST value (case-insensitive); ``MultiDict[key]`` is
the LAST value (case-sensitive).
"""
import os
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Generator
from typing import IO, Any, overload, TypeVar

_T = TypeVar("_T")

INDEX_MIN_ENTRIES: int
INDEX_AFTER_SCANS: int

_HeaderSource = Headers | Mapping[str, str | list[str] | tuple[str, ...]] | Iterable[tuple[str, str]]

class Headers:
    """Immutable, case-insensitive, multi-valued, order-preserving str -> str mapping."""

    def __init__(self, source: _HeaderSource | None = None) -> None:
        """From a dict/Mapping (list/tuple values expand), pairs, or Headers; names are lower-cased."""
    def __getitem__(self, name: str, /) -> str:
        """First value of `name`; KeyError when absent."""
    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: _T) -> str | _T: ...
    def getlist(self, name: str) -> list[str]:
        """All values of `name`, in received order."""
    def __contains__(self, name: object, /) -> bool: ...
    def __iter__(self) -> Iterator[str]:
        """Distinct lower-case names in first-appearance order."""
    def __len__(self) -> int:
        """Number of distinct names."""
    def keys(self) -> list[str]:
        """Distinct lower-case names in first-appearance order."""
    def values(self) -> list[str]:
        """Every value, in order (repeated names included)."""
    def items(self) -> list[tuple[str, str]]:
        """Every (lower-case name, value) pair, in order (repeated names included)."""
    @property
    def raw(self) -> list[tuple[str, str]]:
        """A copy of the underlying [(lower-case name, value)] list."""
    def __eq__(self, other: object) -> bool:
        """Same names with the same per-name value lists; dicts/pair lists are converted."""
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]

_HeaderValue = str | bytes | int
_MutableHeaderSource = (Headers | Mapping[str, _HeaderValue | list[_HeaderValue] | tuple[_HeaderValue, ...]]
                        | Mapping[bytes, _HeaderValue | list[_HeaderValue] | tuple[_HeaderValue, ...]]
                        | Iterable[tuple[str | bytes, _HeaderValue]])

class MutableHeaders(Headers):
    """Headers that can be changed, validated when set: a name must be a
    non-empty RFC 9110 token (stored lower-cased); a value is str, bytes
    (latin-1) or int, latin-1 only, with no CR, LF, NUL or other control
    character but HTAB.  ValueError (TypeError for a wrong type) otherwise,
    and nothing changes."""

    def __init__(self, source: _MutableHeaderSource | None = None) -> None:
        """From a dict/Mapping (list/tuple values expand), pairs, or Headers; every pair validated."""
    def __setitem__(self, name: str | bytes, value: _HeaderValue, /) -> None:
        """Replace every value of `name` by `value` (at the place of the first one, else at the end)."""
    def __delitem__(self, name: str, /) -> None:
        """Remove every value of `name`; KeyError when there is none."""
    def append(self, name: str | bytes, value: _HeaderValue) -> None:
        """Add one more (name, value) entry at the end."""
    def setdefault(self, name: str | bytes, value: _HeaderValue) -> str:
        """The first value of `name`; when absent, append (name, value) and return the stored value."""
    def add_vary(self, name: str) -> None:
        """Add `name` to Vary (one field, no duplicates, case-insensitive; nothing to add when Vary is "*")."""
    def update(self, source: _MutableHeaderSource | None = None) -> None:
        """Each name given replaces all its old values with all the values given for it; all or nothing."""

_MultiSource = MultiDict | Mapping[str, Any] | Iterable[tuple[str, Any]]

class MultiDict:
    """Immutable, order-preserving, multi-valued mapping; ``md[key]`` is the LAST value."""

    def __init__(self, source: _MultiSource | None = None) -> None:
        """From a dict/Mapping (list/tuple values expand), pairs, or a MultiDict."""
    def __getitem__(self, key: str, /) -> Any:
        """Last value of `key`; KeyError when absent."""
    @overload
    def get(self, key: str) -> Any | None: ...
    @overload
    def get(self, key: str, default: _T) -> Any | _T: ...
    def getlist(self, key: str) -> list[Any]:
        """All values of `key`, in order."""
    def __contains__(self, key: object, /) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int:
        """Number of distinct keys."""
    def keys(self) -> list[str]: ...
    def values(self) -> list[Any]:
        """Every value, in order (repeated keys included)."""
    def items(self) -> list[tuple[str, Any]]:
        """Every (key, value) pair, in order (repeated keys included)."""
    def to_dict(self) -> dict[str, list[Any]]: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]

class QueryParams(MultiDict):
    """Decoded query-string parameters; values are str."""
    def __getitem__(self, key: str, /) -> str: ...
    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: _T) -> str | _T: ...
    def getlist(self, key: str) -> list[str]: ...
    def values(self) -> list[str]: ...
    def items(self) -> list[tuple[str, str]]: ...
    def to_dict(self) -> dict[str, list[str]]: ...

class FormData(MultiDict):
    """Decoded form fields: str values, UploadFile for file parts."""
    def __getitem__(self, key: str, /) -> str | UploadFile: ...
    @overload
    def get(self, key: str) -> str | UploadFile | None: ...
    @overload
    def get(self, key: str, default: _T) -> str | UploadFile | _T: ...
    def getlist(self, key: str) -> list[str | UploadFile]: ...
    def values(self) -> list[str | UploadFile]: ...
    def items(self) -> list[tuple[str, str | UploadFile]]: ...
    def to_dict(self) -> dict[str, list[str | UploadFile]]: ...
    def close(self) -> None:
        """Close every UploadFile value (idempotent)."""

class UploadFile:
    """A file part: content in `file` (BytesIO, or a SpooledTemporaryFile from the
    multipart parser).  `filename` is client-controlled: never use it as a path."""

    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def size(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def file(self) -> IO[bytes]:
        """The underlying binary file object (positional)."""
    def __init__(self, filename: str, data: bytes = b"", content_type: str = "text/plain",
                 headers: _HeaderSource | None = None) -> None: ...
    def read(self, size: int = -1) -> AwaitableBytes:
        """read(): the whole content, position kept; read(n): up to n bytes from the
        position (ValueError after close()). ``await file.read()`` works too."""
    def write(self, data: bytes) -> _Done: ...
    def seek(self, offset: int, whence: int = 0) -> AwaitableInt: ...
    def tell(self) -> int: ...
    def text(self, encoding: str = "utf-8", errors: str = "strict") -> str: ...
    def save(self, path: str | os.PathLike[str], chunk_size: int = 1048576) -> int:
        """Write the content to `path`; returns the number of bytes written."""
    def close(self) -> _Done:
        """Release the content, deleting a temporary file (idempotent); awaitable too."""

class AwaitableBytes(bytes):
    """bytes that ``await`` gives back (FastAPI's ``await file.read()``)."""
    def __await__(self) -> Generator[Any, None, bytes]: ...

class AwaitableInt(int):
    def __await__(self) -> Generator[Any, None, int]: ...

class _Done:
    def __await__(self) -> Generator[Any, None, None]: ...
    def __bool__(self) -> bool: ...
