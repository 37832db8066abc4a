"""Type stub for the compiled parsers (catzilla/forms.pyx).

All parsers either return or raise FormError (a ValueError) on malformed input;
TypeError only for wrong argument types.  Percent-decoding yields UTF-8 decoded
with errors="replace" and keeps malformed escapes literally.
"""
from catzilla.datastructures import FormData, QueryParams

class FormError(ValueError):
    """A malformed or unsupported form body."""

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

def parse_multipart(body: bytes, content_type: str, *, max_parts: int = 1000,
                    max_header_bytes: int = 16384) -> FormData:
    """Parse a multipart/form-data body (RFC 7578)."""

def parse_form(body: bytes, content_type: str | None, *, max_parts: int = 1000,
               max_header_bytes: int = 16384) -> FormData:
    """Dispatch on the media type: urlencoded or multipart/form-data, else FormError."""
