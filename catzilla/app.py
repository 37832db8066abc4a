"""The application object: routes, hooks, exception handlers, lifecycle."""
from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
import sys
import traceback
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type, TypeVar, Union

from catzilla.exceptions import HTTPException
from catzilla.response import PlainTextResponse, Response, to_response
from catzilla.router import Match, Router

log = logging.getLogger("catzilla")

F = TypeVar("F", bound=Callable[..., Any])

#: Server settings accepted by Catzilla(...) and their defaults.
DEFAULTS: Dict[str, Any] = {
    "max_request_line": 8192,       # bytes; longer -> 414
    "max_head_bytes": 65536,        # whole request head; larger -> 431
    "max_headers": 100,             # header fields; more -> 431
    "max_body": 1024 * 1024,        # bytes; larger -> 413 before reading it
    "header_timeout": 10.0,         # s to receive a whole head (slowloris) -> 408 and close
    "body_timeout": 30.0,           # s to receive a whole body -> 408 and close
    "keepalive_timeout": 5.0,       # s an idle keep-alive connection is kept
    "write_timeout": 60.0,          # s a finished response may wait for a client that stopped reading
    "high_water": 256 * 1024,       # stream back-pressure: stop pulling above this many pending bytes
    "low_water": 64 * 1024,         # ... and resume below this
    "stream_threads": 64,           # worker threads pulling sync generators
}


class Catzilla:
    """app = Catzilla(); @app.get("/") def home(request): return "hi"; app.listen(8000)"""

    def __init__(self, *, debug: bool = False, access_log: bool = False, **settings: Any) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown Catzilla settings: {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(DEFAULTS)})")
        self.settings: Dict[str, Any] = {**DEFAULTS, **settings}
        self.debug = debug
        self.access_log = access_log
        self.router = Router()
        self._before: List[Callable[..., Any]] = []
        self._after: List[Callable[..., Any]] = []
        self._exception_handlers: Dict[Type[BaseException], Callable[..., Any]] = {}
        self._startup: List[Callable[..., Any]] = []
        self._shutdown: List[Callable[..., Any]] = []
        self._async_hooks = False

    # -- routes --------------------------------------------------------------

    def route(self, path: str, methods: Union[str, Sequence[str]] = ("GET",), *,
              name: Optional[str] = None) -> Callable[[F], F]:
        def decorator(fn: F) -> F:
            self.router.add(path, fn, methods, name=name)
            return fn
        return decorator

    def get(self, path: str, *, name: Optional[str] = None) -> Callable[[F], F]:
        return self.route(path, ("GET",), name=name)

    def post(self, path: str, *, name: Optional[str] = None) -> Callable[[F], F]:
        return self.route(path, ("POST",), name=name)

    def put(self, path: str, *, name: Optional[str] = None) -> Callable[[F], F]:
        return self.route(path, ("PUT",), name=name)

    def patch(self, path: str, *, name: Optional[str] = None) -> Callable[[F], F]:
        return self.route(path, ("PATCH",), name=name)

    def delete(self, path: str, *, name: Optional[str] = None) -> Callable[[F], F]:
        return self.route(path, ("DELETE",), name=name)

    def head(self, path: str, *, name: Optional[str] = None) -> Callable[[F], F]:
        return self.route(path, ("HEAD",), name=name)

    def options(self, path: str, *, name: Optional[str] = None) -> Callable[[F], F]:
        return self.route(path, ("OPTIONS",), name=name)

    def include_router(self, router: Router, prefix: str = "") -> None:
        """Mount a route group (a Router with its own prefix) under `prefix`."""
        self.router.include(router, prefix)

    def url_path_for(self, name: str, **params: Any) -> str:
        return self.router.url_path_for(name, **params)

    # -- hooks ---------------------------------------------------------------

    def before_request(self, fn: F) -> F:
        """fn(request) runs before the handler; returning anything but None answers with it."""
        self._before.append(fn)
        self._async_hooks |= inspect.iscoroutinefunction(fn)
        return fn

    def after_request(self, fn: F) -> F:
        """fn(request, response) runs after the handler; returning a Response replaces it."""
        self._after.append(fn)
        self._async_hooks |= inspect.iscoroutinefunction(fn)
        return fn

    def exception_handler(self, exc_class: Type[BaseException]) -> Callable[[F], F]:
        """fn(request, exc) -> response for exceptions of exc_class (most specific class wins)."""
        if not (isinstance(exc_class, type) and issubclass(exc_class, BaseException)):
            raise TypeError("exception_handler needs an exception class")

        def decorator(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):
                raise TypeError("exception handlers must be plain functions (def), not async def")
            self._exception_handlers[exc_class] = fn
            return fn
        return decorator

    def on_startup(self, fn: F) -> F:
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: F) -> F:
        self._shutdown.append(fn)
        return fn

    @property
    def has_hooks(self) -> bool:
        return bool(self._before or self._after)

    # -- called by the compiled connection -------------------------------------

    def _handle(self, request: Any, match: Match) -> Any:
        """Slow path, used when hooks exist: hooks around the endpoint."""
        if self._async_hooks or (match.route is not None and match.route.is_async):
            return self._handle_async(request, match)
        try:
            for hook in self._before:
                early = hook(request)
                if early is not None:
                    response = to_response(early)
                    break
            else:
                response = to_response(self._call(request, match))
        except Exception as exc:
            response = self._error(request, exc)
        return self._after_hooks(request, response)

    def _call(self, request: Any, match: Match) -> Any:
        route, params = match.route, match.params
        if route is None:
            return self._not_found(request, match.allowed)
        request.path_params = params
        if params is not None and route.params_as_kwargs:
            return route.endpoint(request, **params)
        return route.endpoint(request)

    def _after_hooks(self, request: Any, response: Response) -> Response:
        for hook in self._after:
            replaced = hook(request, response)
            if replaced is not None:
                response = to_response(replaced)
        return response

    async def _handle_async(self, request: Any, match: Match) -> Response:
        try:
            for hook in self._before:
                early = hook(request)
                if inspect.isawaitable(early):
                    early = await early
                if early is not None:
                    response = to_response(early)
                    break
            else:
                result = self._call(request, match)
                if inspect.isawaitable(result):
                    result = await result
                response = to_response(result)
        except Exception as exc:
            response = self._error(request, exc)
        for hook in self._after:
            replaced = hook(request, response)
            if inspect.isawaitable(replaced):
                replaced = await replaced
            if replaced is not None:
                response = to_response(replaced)
        return response

    def _not_found(self, request: Any, allowed: Tuple[str, ...]) -> Response:
        if allowed:
            return PlainTextResponse("Method Not Allowed", 405, {"allow": ", ".join(allowed)})
        return PlainTextResponse("Not Found", 404)

    def _error(self, request: Any, exc: BaseException) -> Response:
        """The response for an exception from a handler or hook. Never raises."""
        for cls in type(exc).__mro__:
            handler = self._exception_handlers.get(cls)
            if handler is not None:
                try:
                    return to_response(handler(request, exc))
                except Exception as inner:
                    log.exception("exception handler for %s failed", cls.__name__)
                    exc = inner
                    break
        if isinstance(exc, HTTPException):
            try:
                return PlainTextResponse(exc.detail, exc.status_code, exc.headers)
            except (TypeError, ValueError) as bad:   # e.g. CR/LF in its headers: never on the wire
                exc = bad
        log.error("handler raised for %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"),
                  exc_info=exc)
        if self.debug:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            return PlainTextResponse(f"Internal Server Error\n\n{text}", 500)
        return PlainTextResponse("Internal Server Error", 500)

    # -- running ---------------------------------------------------------------

    def server_config(self) -> Dict[str, Any]:
        return {
            **self.settings,
            "debug": self.debug,
            "access_log": logging.getLogger("catzilla.access") if self.access_log else None,
            "slow": self.has_hooks,
        }

    async def startup(self) -> None:
        for fn in self._startup:
            result = fn()
            if inspect.isawaitable(result):
                await result

    async def shutdown(self) -> None:
        for fn in self._shutdown:
            try:
                result = fn()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("shutdown hook %r failed", fn)

    async def serve(self, sockets: Iterable[socket.socket], *, shutdown_timeout: float = 10.0,
                    stop: Optional[asyncio.Event] = None, ready: Optional[Callable[[], None]] = None) -> None:
        """Serve on already bound, listening sockets until `stop` is set (or SIGINT/SIGTERM)."""
        from catzilla._core.server import Server

        loop = asyncio.get_running_loop()
        stop = stop or asyncio.Event()
        await self.startup()
        server = Server(self, self.router, list(sockets), loop=loop, **self.server_config())
        server.start()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass   # not the main thread: the caller stops us through `stop`
        try:
            if ready is not None:
                ready()
            await stop.wait()
        finally:
            try:
                await server.shutdown(shutdown_timeout)   # a repeated signal just sets `stop` again
                await self.shutdown()
            finally:
                for sig in installed:
                    loop.remove_signal_handler(sig)

    def listen(self, port: int = 8000, host: str = "127.0.0.1", *, workers: int = 1, backlog: int = 2048,
               shutdown_timeout: float = 10.0, loop: str = "auto", banner: bool = True) -> None:
        """Serve until Ctrl-C or SIGTERM (blocking). workers > 1 forks processes sharing the port."""
        from catzilla.runner import run
        run(self, host=host, port=port, workers=workers, backlog=backlog,
            shutdown_timeout=shutdown_timeout, loop=loop, banner=banner)

    run = listen
