"""Server settings: one typed, validated object, read by the app and the compiled core.

`Catzilla(max_body=..., ...)` builds one; every setting, its type and its default
live here and nowhere else. The compiled core's copy (`_core/context.pxd`
`Limits`) has a C field of the same name for each setting it reads and is
filled from this class by name, in one loop."""
from __future__ import annotations

import dataclasses
import re
import resource
import types
import typing
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

#: After the shutdown deadline (`shutdown_timeout`), how long the server gives
#: cancelled tasks and its worker threads to run their cleanup (a thread blocked
#: inside a generator's next() is reclaimed only when that returns). A
#: supervisor or the reloader gives a stopping process shutdown_timeout +
#: CLOSE_GRACE (and a little slack) before it kills it. Fixed, not a setting.
CLOSE_GRACE = 5.0

#: Swagger UI's assets for the docs page, from a CDN unless set (offline: serve
#: swagger-ui-dist's files yourself, e.g. with app.static, and point these at them).
SWAGGER_JS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
#: the OpenAPI versions a document can be built as (catzilla/openapi.py)
OPENAPI_VERSION = re.compile(r"3\.[12]\.\d+")


@dataclass(frozen=True)
class Settings:
    max_request_line: int = 8192        # bytes; longer -> 414
    max_head_bytes: int = 65536         # whole request head; larger -> 431
    max_headers: int = 100              # header fields; more -> 431
    max_body: int = 1024 * 1024         # bytes; larger -> 413 before reading it
    header_timeout: float = 10.0        # s to receive a whole head (slowloris) -> 408 and close
    body_timeout: float = 30.0          # s to receive a whole body -> 408 and close
    keepalive_timeout: float = 5.0      # s an idle keep-alive connection is kept
    write_timeout: float = 60.0         # s a finished response may wait for a client that stopped reading
    high_water: int = 256 * 1024        # back-pressure: stop pulling a stream above this many pending bytes
    low_water: int = 64 * 1024          # ... and resume below this
    worker_threads: int = 64            # one pool: sync-generator streams and blocking handlers
    blocking_handlers: bool = False     # every def handler runs on the worker threads (unless blocking=False)
    block_warning: Optional[float] = 0.1  # s the loop may be blocked before a warning names the route; None: off
    debug: bool = False                 # tracebacks in 500 bodies
    access_log: bool = False            # one line per response on the "catzilla.access" logger
    ws_max_message_size: int = 16 * 1024 * 1024   # bytes in one WebSocket message; bigger -> close 1009
    ws_ping_interval: Optional[float] = 20.0      # s between automatic pings (None or 0: none)
    ws_ping_timeout: float = 20.0       # s to wait for the pong, then close with 1011
    ws_close_timeout: float = 5.0       # s to wait for the peer's close frame, then drop the connection
    ws_per_message_deflate: bool = True  # accept permessage-deflate when a client offers it
    # Overload, per worker (README "Overload and health checks"). Beyond max_connections
    # a new connection is answered 503 + Retry-After and closed; beyond max_streams a
    # request that would start a stream (a streamed body or a WebSocket) gets the 503.
    max_connections: Optional[int] = None   # None: 7/8 of RLIMIT_NOFILE (see connection_limit)
    max_streams: Optional[int] = 16_384     # x high_water 256 KiB = 4 GiB if every reader stalls; None: no limit
    health_path: Optional[str] = None       # e.g. "/healthz": answered by the server, before routing
    # On a graceful stop, seconds of serving as usual with health_path answering 503
    # (a balancer's probes see it and stop sending), before accepting stops and the drain.
    drain_delay: float = 0.0
    # The OpenAPI document (app.openapi(), catzilla/openapi.py) and its pages, FastAPI's names.
    title: str = "Catzilla"
    version: str = "0.1.0"
    description: Optional[str] = None
    servers: Optional[Tuple[Dict[str, Any], ...]] = None   # ({"url": "https://api.example.com"},); a list is taken
    openapi_tags: Optional[Tuple[Dict[str, Any], ...]] = None   # ({"name": "orders", ...},); likewise
    openapi_version: Optional[str] = None       # None: "3.2.0" when a route streams typed items, else "3.1.0"
    openapi_url: Optional[str] = "/openapi.json"   # None: no document served (and no docs page)
    docs_url: Optional[str] = "/docs"           # the Swagger UI page; None: none
    swagger_js_url: str = SWAGGER_JS_URL
    swagger_css_url: str = SWAGGER_CSS_URL

    def __post_init__(self) -> None:
        for name in ("servers", "openapi_tags"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name, kind in _types(type(self)).items():
            value = getattr(self, name)
            checked = _checked(value, kind)
            if checked is _WRONG:
                raise TypeError(f"setting {name} must be {_type_name(kind)}, not {type(value).__name__}")
            object.__setattr__(self, name, checked)
        if self.max_request_line < 64 or self.max_head_bytes < 256 or self.max_headers < 1 \
                or self.max_body < 0:
            raise ValueError("limits too small: max_request_line >= 64, max_head_bytes >= 256, "
                             "max_headers >= 1, max_body >= 0")
        if self.max_head_bytes >= 1 << 32:
            raise ValueError("max_head_bytes must be below 4 GiB")   # header offsets are 32-bit
        for name in ("header_timeout", "body_timeout", "keepalive_timeout", "write_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if not 0 <= self.low_water <= self.high_water or self.high_water < 1024:
            raise ValueError("need 0 <= low_water <= high_water and high_water >= 1024")
        if self.worker_threads < 1:
            raise ValueError("worker_threads must be >= 1")
        if self.block_warning is not None and not self.block_warning > 0:
            raise ValueError("block_warning must be > 0 (None: no watchdog)")
        if self.ws_max_message_size < 1:
            raise ValueError("ws_max_message_size must be >= 1")
        if self.ws_ping_interval is not None and self.ws_ping_interval < 0:
            raise ValueError("ws_ping_interval must be >= 0 (None or 0: no pings)")
        for name in ("ws_ping_timeout", "ws_close_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("max_connections", "max_streams"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (or None)")
        if not 0 <= self.drain_delay < float("inf"):
            raise ValueError("drain_delay must be a number of seconds >= 0")
        path = self.health_path
        if path is not None and not _plain_path(path):
            raise ValueError(f"health_path must be a plain absolute path like '/healthz', not {path!r}")
        for name in ("servers", "openapi_tags"):
            if not all(isinstance(entry, dict) for entry in getattr(self, name) or ()):
                raise ValueError(f"{name} must be a list of dicts (OpenAPI objects)")
        if self.openapi_version is not None and not OPENAPI_VERSION.fullmatch(self.openapi_version):
            raise ValueError(f"openapi_version must be 3.1.x or 3.2.x (or None), not {self.openapi_version!r}")
        for name in ("openapi_url", "docs_url"):
            path = getattr(self, name)
            if path is not None and not (_plain_path(path) and "{" not in path and "}" not in path):
                raise ValueError(f"{name} must be a plain absolute path like '/docs' (or None), not {path!r}")

    def connection_limit(self) -> int:
        """max_connections, or by default 7/8 of this process's soft RLIMIT_NOFILE read
        now (when the server starts): a connection is one descriptor, and the last
        eighth is kept for what else the worker opens (files being sent, the app's
        own sockets, logs) and for accepting the connections it refuses, so a client
        beyond the limit gets its 503 instead of waiting in the listen backlog."""
        if self.max_connections is not None:
            return self.max_connections
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY or not 0 < soft <= 1 << 20:
            soft = 1 << 20
        return max(1, soft - soft // 8)

    @classmethod
    def names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> "Settings":
        """Like Settings(**kwargs), with a clear message for unknown names."""
        unknown = set(kwargs) - set(cls.names())
        if unknown:
            raise TypeError(f"unknown Catzilla settings: {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(cls.names())})")
        return cls(**kwargs)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _plain_path(path: str) -> bool:
    return path.startswith("/") and path.isascii() and path.isprintable() and not any(c in path for c in " ?#%")


_WRONG = object()
_UNIONS = (typing.Union, types.UnionType)


def _checked(value: Any, kind: Any) -> Any:
    """`value` as a setting of type `kind` holds it (an int for a float setting
    as a float, an int or str subclass as the plain type), or _WRONG. bool is
    never taken for a number; None only where the type says `X | None`."""
    if typing.get_origin(kind) in _UNIONS:
        for option in typing.get_args(kind):
            if option is type(None):
                if value is None:
                    return None
                continue
            checked = _checked(value, option)
            if checked is not _WRONG:
                return checked
        return _WRONG
    if typing.get_origin(kind) is not None:            # Tuple[...]: the container's class (entries: __post_init__)
        return value if isinstance(value, typing.get_origin(kind)) else _WRONG
    if kind is bool:
        return value if isinstance(value, bool) else _WRONG
    if isinstance(value, bool):
        return _WRONG
    if kind is float:
        return float(value) if isinstance(value, (int, float)) else _WRONG
    if kind in (int, str):
        return kind(value) if isinstance(value, kind) else _WRONG
    return value if isinstance(value, kind) else _WRONG


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) in _UNIONS:
        return " or ".join("None" if a is type(None) else _type_name(a) for a in typing.get_args(kind))
    kind = typing.get_origin(kind) or kind
    return getattr(kind, "__name__", str(kind))


_TYPES: dict[type, dict[str, Any]] = {}


def _types(cls: type) -> dict[str, Any]:
    """{setting: its type} of a Settings class: its annotations, resolved once
    (`int | None` works as well as Optional[int])."""
    found = _TYPES.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = _TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return found
