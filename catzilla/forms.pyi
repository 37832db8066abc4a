"""Type stub for the compiled parsers (catzilla/forms.pyx).

All parsers either return or raise FormError (a ValueError) on malformed input;
TypeError only for wrong argument types.  Percent-decoding yields UTF-8 decoded
with errors="replace" and keeps malformed escapes literally.
"""
from catzilla.datastructures import FormData, QueryParams

class FormError(ValueError):
    """A malformed or unsupported form body; `status_code` is 400."""
    status_code: int

class FormLimitError(FormError):
    """A form body over a configured limit; `status_code` is 413."""

def unquote_path(raw: bytes) -> str:
    """Percent-decode a request path (no '+' handling; %2F -> '/', %00 -> NUL)."""

def parse_query(qs: str | bytes) -> QueryParams:
    """WHATWG application/x-www-form-urlencoded parse of a query string.

    Pass the raw bytes when you have them: a str is re-encoded as UTF-8 before
    percent-decoding, so a str made by decoding the raw query with latin-1 turns
    raw (unescaped) UTF-8 into mojibake.
    """

def parse_urlencoded(body: bytes) -> FormData:
    """Parse an application/x-www-form-urlencoded body (UTF-8)."""

def parse_cookies(header: str) -> dict[str, str]:
    """Parse a Cookie header; the first occurrence of a name wins."""

def parse_options_header(value: str) -> tuple[str, dict[str, str]]:
    """'type/sub; a=1; b="x"' -> ('type/sub', {'a': '1', 'b': 'x'}) (names lower-cased)."""

def multipart_boundary(content_type: str) -> bytes:
    """The validated boundary of a multipart/form-data Content-Type (FormError if none)."""

class MultipartParser:
    """Incremental multipart/form-data parser: feed() each chunk, then finish().

    Fields (no filename) are kept up to max_field_size bytes; file parts are
    written to a SpooledTemporaryFile(max_size=spool_threshold).  FormLimitError
    (413) past max_parts / max_field_size / max_file_size / max_header_size,
    FormError (400) for a malformed body; files are deleted on error.
    """
    def __init__(self, boundary: bytes, *, max_parts: int = 1000,
                 max_field_size: int = 1048576, max_file_size: int | None = None,
                 spool_threshold: int = 1048576, max_header_size: int = 16384) -> None: ...
    def feed(self, data: bytes | bytearray | memoryview) -> None: ...
    def finish(self) -> FormData:
        """The form (it owns the files: call its close())."""
    def close(self) -> None:
        """Abandon the parse, deleting the files made so far (idempotent)."""

def parse_multipart(body: bytes, content_type: str, *, max_parts: int = 1000,
                    max_header_bytes: int = 16384, max_field_size: int = 1048576,
                    max_file_size: int | None = None,
                    spool_threshold: int = 1048576) -> FormData:
    """Parse a whole multipart/form-data body (RFC 7578) with MultipartParser."""

def parse_form(body: bytes, content_type: str | None, *, max_parts: int = 1000,
               max_header_bytes: int = 16384, max_field_size: int = 1048576,
               max_file_size: int | None = None,
               spool_threshold: int = 1048576) -> FormData:
    """Dispatch on the media type: urlencoded or multipart/form-data, else FormError."""
