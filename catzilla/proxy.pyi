"""Type stub for catzilla/proxy.pyx: the client, scheme and host a trusted
proxy forwarded (Forwarded, RFC 7239; else X-Forwarded-For/-Proto/-Host)."""
import ipaddress
from collections.abc import Iterable
from typing import Union

from catzilla.request import Request

_Trusted = Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network]

class ProxyHeadersMiddleware:
    """Only when the TCP peer is in `trusted` (addresses, networks, or "*"):
    request.client becomes the forwarded client ((host, port), port 0 when not
    given; None for "unknown"), request.scheme the forwarded "http"/"https",
    request.host and request.url the forwarded host. The chain is walked from
    the right past trusted proxies; the first untrusted address is the client
    (the leftmost when all are trusted). Malformed values are ignored."""
    trusted: tuple[_Trusted, ...]
    def __init__(self, trusted: _Trusted | Iterable[_Trusted] = ("127.0.0.1", "::1")) -> None: ...
    def on_request(self, request: Request) -> None: ...
