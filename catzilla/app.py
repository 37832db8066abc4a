"""The application object: routes, hooks, exception handlers, lifecycle."""
from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import sys
import threading
from types import TracebackType
from typing import (Any, AsyncContextManager, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Type, TypeVar, Union)

from catzilla._core.dispatch import Layer, Plan, PlanSlot
from catzilla.broadcast import Broadcast
from catzilla.dependencies import BackgroundTask, Depends, callable_name
from catzilla.models import encode_json
from catzilla.openapi import get_openapi, get_swagger_ui_html
from catzilla.request import Request, State
from catzilla.response import HTMLResponse, Response
from catzilla.router import Route, RouteError, Router
from catzilla.settings import Settings
from catzilla.staticfiles import StaticFiles
from catzilla.websocket import open_handshake

log = logging.getLogger("catzilla")

F = TypeVar("F", bound=Callable[..., Any])

#: Catzilla(lifespan=fn): fn(app) returns an async context manager whose
#: value (a mapping, or None) lands in app.state.
Lifespan = Callable[["Catzilla"], AsyncContextManager[Optional[Mapping[str, Any]]]]
_ExcInfo = Tuple[Optional[Type[BaseException]], Optional[BaseException], Optional[TracebackType]]


def _not_an_async_context_manager(lifespan: Any, value: Any) -> str:
    """The TypeError's message for a lifespan that returned `value`, with a hint for the usual mistakes."""
    if inspect.isasyncgen(value):
        what = "an async generator: decorate the function with @contextlib.asynccontextmanager"
    elif inspect.iscoroutine(value):
        value.close()                       # never awaited, on purpose: no warning
        what = ("a coroutine: an async def lifespan yields once (what it yields is the state) and is "
                "decorated with @contextlib.asynccontextmanager")
    elif inspect.isgenerator(value) or hasattr(value, "__enter__"):
        what = ("a synchronous generator or context manager: make it async def, decorated with "
                "@contextlib.asynccontextmanager")
    else:
        what = f"a {type(value).__name__}"
    return (f"lifespan {callable_name(lifespan)}(app) returned {what}; a lifespan returns an async context manager, "
            f"e.g. an @contextlib.asynccontextmanager function taking the app and yielding a mapping "
            f"(its keys become app.state's attributes) or None")


def _handler_key(key: Any) -> Union[int, Type[BaseException]]:
    """An exception handler's key, checked when it is registered."""
    if isinstance(key, int) and not isinstance(key, bool):
        if not 400 <= key <= 599:
            raise ValueError(f"an exception handler's status code must be 400..599, not {key}")
        return key
    if isinstance(key, type) and issubclass(key, BaseException):
        return key
    raise TypeError(f"an exception handler is for an exception class or a status code, not {key!r}")


class Catzilla:
    """app = Catzilla(); @app.get("/") def home(request): return "hi"; app.listen(8000)"""

    def __init__(self, *, lifespan: Optional[Lifespan] = None, dependencies: Optional[Sequence[Depends]] = None,
                 **settings: Any) -> None:
        """Settings by keyword (see catzilla.settings.Settings); TypeError for an unknown name.
        `lifespan` (Starlette's): lifespan(app) returns an async context
        manager, entered when serving starts (after the on_startup hooks) and
        exited when it stops (once the server drained, before the on_shutdown
        hooks); the mapping it yields, if any, lands in app.state (and so in
        every request.state). dependencies: Depends(...) run for every route
        and WebSocket route the app registers (decorators, add_websocket_route,
        include_router), before the routers' and the route's own; their values
        are not passed."""
        if lifespan is not None and not callable(lifespan):
            raise TypeError(f"lifespan must be a function taking the app and returning an async context "
                            f"manager (@contextlib.asynccontextmanager), not {lifespan!r}")
        self.settings = Settings.from_kwargs(**settings)
        self.lifespan = lifespan
        #: The app's attributes (Starlette's app.state): what the lifespan yielded, and
        #: whatever the app's code sets there; each request.state starts as a copy.
        self.state = State()
        self._lifespans: Dict[Any, AsyncContextManager[Any]] = {}   # server -> its entered lifespan
        self.dependencies: Tuple[Depends, ...] = Router(dependencies=dependencies).dependencies   # checked there
        # {dependency: replacement}: read per request, each replacement compiled
        # once (at its first request), not per request (FastAPI's name, for tests)
        self.dependency_overrides: Dict[Callable[..., Any], Callable[..., Any]] = {}
        self.router = Router()
        self.ws_router = Router()    # WebSocket routes: looked up for upgrade requests only
        # What the dispatcher runs is a frozen Plan compiled from these, published
        # again in the slot whenever they change: middleware, hooks and handlers
        # added at any time (even while serving) take effect.
        self._middleware: List[Layer] = []
        self._before: List[Layer] = []
        self._after: List[Layer] = []
        self._exception_handlers: Dict[Union[int, Type[BaseException]], Callable[..., Any]] = {}
        self._startup: List[Callable[..., Any]] = []
        self._shutdown: List[Callable[..., Any]] = []
        self._broadcasts: List[Broadcast] = []
        self.openapi_schema: Optional[Dict[str, Any]] = None     # app.openapi(), once built
        self._docs_endpoints: Tuple[Callable[..., Any], ...] = ()
        self._server: Any = None                 # the compiled Server while serving
        self._slot = PlanSlot(self.plan())

    @property
    def debug(self) -> bool:
        return self.settings.debug

    # -- routes --------------------------------------------------------------

    def route(self, path: str, methods: Union[str, Sequence[str]] = ("GET",), *,
              name: Optional[str] = None, blocking: Optional[bool] = None,
              response_model: Any = None, status_code: Optional[int] = None,
              responses: Optional[Dict[Union[int, str], Any]] = None, response_class: Optional[type] = None,
              tags: Optional[List[str]] = None, summary: Optional[str] = None, description: Optional[str] = None,
              deprecated: Optional[bool] = None, operation_id: Optional[str] = None,
              include_in_schema: Optional[bool] = None,
              dependencies: Optional[Sequence[Depends]] = None) -> Callable[[F], F]:
        """@app.route("/x", ["GET", "POST"]): register the decorated function.
        blocking=True runs a def handler on the worker threads (for code that
        blocks: sleeps, blocking drivers, CPU-heavy work), False inline on the
        loop; None (the default) follows the blocking_handlers setting. The
        other keywords are FastAPI's (see catzilla.params): kept on the
        route's plan, for the response (response_model, status_code,
        response_class) and the OpenAPI document; dependencies: Depends(...)
        run before the endpoint whose values are not passed (after the app's)."""
        deps = self.dependencies + tuple(dependencies or ())
        options = {k: v for k, v in (
            ("response_model", response_model), ("status_code", status_code), ("responses", responses),
            ("response_class", response_class), ("tags", tags), ("summary", summary),
            ("description", description), ("deprecated", deprecated), ("operation_id", operation_id),
            ("include_in_schema", include_in_schema), ("dependencies", deps or None)) if v is not None}

        def decorator(fn: F) -> F:
            self.router.add(path, fn, methods, name=name, blocking=blocking, **options)
            return fn
        return decorator

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("DELETE",), **options)

    def head(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("HEAD",), **options)

    def options(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("OPTIONS",), **options)

    def websocket(self, path: str, *, name: Optional[str] = None,
                  dependencies: Optional[Sequence[Depends]] = None) -> Callable[[F], F]:
        """@app.websocket("/ws") async def handler(ws, **path_params): a WebSocket endpoint.
        Typed parameters (path, Query, Header, Cookie) are checked before the
        handshake is accepted (a 422 answers it otherwise); a parameter
        annotated WebSocket gets the socket. Dependencies (Depends parameters,
        `dependencies=`, the app's) are solved once the handshake is taken and
        torn down when the handler returns."""
        def decorator(fn: F) -> F:
            self.add_websocket_route(path, fn, name=name, dependencies=dependencies)
            return fn
        return decorator

    def add_websocket_route(self, path: str, endpoint: Callable[..., Any], *, name: Optional[str] = None,
                            dependencies: Optional[Sequence[Depends]] = None) -> None:
        deps = self.dependencies + tuple(dependencies or ())
        route = Route(path, endpoint, ("GET",), name=name, websocket=True, dependencies=deps or None)
        if not route.is_async:
            raise TypeError(f"WebSocket route {path!r}: the endpoint must be an async function "
                            f"(async def {getattr(endpoint, '__name__', 'handler')}(ws): ...)")
        self.ws_router.add_route(route)

    def include_router(self, router: Router, prefix: str = "", *,
                       dependencies: Optional[Sequence[Depends]] = None) -> None:
        """Mount a route group (a Router with its own prefix) under `prefix`;
        the app's dependencies, then `dependencies`, run before the router's."""
        self.router.include(router, prefix, dependencies=self.dependencies + tuple(dependencies or ()))

    def static(self, prefix: str, directory: Union[str, "os.PathLike[str]"], *, name: Optional[str] = None,
               **options: Any) -> StaticFiles:
        """Serve the files under `directory` at `prefix` (GET and HEAD):
        app.static("/assets", "public/"). `options` go to StaticFiles (index,
        follow_symlinks, precompressed, dotfiles); a missing directory raises
        here. With `name`, url_path_for(name, path="app.js") -> "/assets/app.js"
        and url_path_for(name) -> "/assets/". Returns the StaticFiles."""
        if not isinstance(prefix, str) or not prefix.startswith("/") or "{" in prefix or "}" in prefix:
            raise RouteError(f"static prefix {prefix!r} must be a literal path starting with '/'")
        files = StaticFiles(directory, **options)
        base = prefix.rstrip("/")
        name = name or f"static:{base or '/'}"
        # "{path:path}" needs a non-empty rest: the directory itself is
        # "/assets/" (its index) and "/assets" (a redirect to "/assets/").
        # Mounted through a Router so that all routes are added or none.
        paths = [base + "/{path:path}", base + "/"] + ([base] if base else [])
        # blocking=False: a stat and an open are served inline even under blocking_handlers
        self.router.include(Router(routes=[Route(p, files, ("GET",), name=name, blocking=False)
                                           for p in paths]))
        return files

    def url_path_for(self, name: str, **params: Any) -> str:
        return self.router.url_path_for(name, **params)

    # -- the OpenAPI document and the docs page -----------------------------------

    def openapi(self) -> Dict[str, Any]:
        """The app's OpenAPI document (catzilla.openapi.get_openapi over its routes
        and the title, version, description, servers, openapi_tags and
        openapi_version settings), built at the first call and kept in
        app.openapi_schema (FastAPI's name: set it to None to build it again)."""
        if self.openapi_schema is None:
            s = self.settings
            routes = [r for r in self.router.routes if r.endpoint not in self._docs_endpoints]
            self.openapi_schema = get_openapi(
                title=s.title, version=s.version, description=s.description, servers=s.servers,
                tags=s.openapi_tags, openapi_version=s.openapi_version, routes=routes)
        return self.openapi_schema

    def _mount_docs(self) -> None:
        """When serving starts (the routes are all there): the document at the
        openapi_url setting and Swagger UI at docs_url, each only where no route of
        the app answers GET already (a root static mount keeps its /docs). Once."""
        s = self.settings
        if self._docs_endpoints or s.openapi_url is None:
            return
        # The bytes are kept, not a Response: middleware and hooks change the Response
        # they are given (compression adds an encoder), so each request gets its own.
        served: List[Tuple[Dict[str, Any], bytes]] = []     # the document, and its JSON

        def openapi_json(request: Request) -> Response:
            document = self.openapi()
            if not served or served[0][0] is not document:
                served[:] = [(document, encode_json(document))]
            return Response(served[0][1], media_type="application/json")

        page = get_swagger_ui_html(openapi_url=s.openapi_url, title=f"{s.title} - Swagger UI",
                                   swagger_js_url=s.swagger_js_url, swagger_css_url=s.swagger_css_url).body

        def swagger_ui_html(request: Request) -> Response:
            return HTMLResponse(page)

        self._docs_endpoints = (openapi_json, swagger_ui_html)
        mounts = [(s.openapi_url, openapi_json)] + ([(s.docs_url, swagger_ui_html)] if s.docs_url else [])
        self.router.include(Router(routes=[Route(path, fn, ("GET",), blocking=False) for path, fn in mounts
                                           if self.router.find("GET", path).route is None]))

    # -- middleware and hooks ---------------------------------------------------

    def add_middleware(self, middleware_class: Callable[..., Any], **options: Any) -> Any:
        """Install middleware_class(**options); returns the instance. Middleware
        runs in the order added: the first added sees the request first and the
        response last. See catzilla.middleware for what a middleware is."""
        middleware = middleware_class(**options)
        layer = Layer(middleware)            # TypeError now if it is not a middleware
        self._middleware.append(layer)
        self._publish()
        return middleware

    def before_request(self, fn: F) -> F:
        """fn(request) runs before the handler (WebSocket handshakes included:
        request.is_websocket); returning anything but None answers with it.
        May be async def."""
        self._before.append(Layer.hook(before=fn))
        self._publish()
        return fn

    def after_request(self, fn: F) -> F:
        """fn(request, response) runs after the handler, for every response
        (early answers and errors included); returning a Response replaces it.
        May be async def."""
        self._after.append(Layer.hook(after=fn))
        self._publish()
        return fn

    def plan(self) -> Plan:
        """The app as the dispatcher runs it, frozen: its routers, its layers
        (outermost first) and exception handlers, the settings dispatch reads.
        The hooks are the innermost layers, each a layer of its own: the after
        hooks outside the before hooks (so every after hook sees an early
        answer too), the first added innermost (so they run in the order added)."""
        layers = self._middleware + self._after[::-1] + self._before
        return Plan(self, self.router, self.ws_router, layers, self._exception_handlers,
                    debug=self.settings.debug, blocking_default=self.settings.blocking_handlers,
                    open_handshake=open_handshake)

    def plan_slot(self) -> PlanSlot:
        """Where the current plan is published (the server's dispatcher reads it per request)."""
        return self._slot

    def _publish(self) -> None:
        self._slot.plan = self.plan()

    def exception_handler(self, exc_class_or_status_code: Union[int, Type[BaseException]]) -> Callable[[F], F]:
        """fn(request, exc) -> response, for exceptions of a class (the most
        specific class wins) or for a status code (Starlette's meaning: the
        HTTPExceptions with that status -- the server's own 404, 405, 413...
        included -- and for 500 every exception no other handler takes); a
        status-code handler wins over an HTTPException one. fn may be async def."""
        key = _handler_key(exc_class_or_status_code)

        def decorator(fn: F) -> F:
            self.add_exception_handler(key, fn)
            return fn
        return decorator

    def add_exception_handler(self, exc_class_or_status_code: Union[int, Type[BaseException]],
                              handler: Callable[..., Any]) -> None:
        """The same as @app.exception_handler(key) on handler (Starlette's name)."""
        key = _handler_key(exc_class_or_status_code)
        if not callable(handler):
            raise TypeError("an exception handler must be callable: fn(request, exc)")
        self._exception_handlers[key] = handler
        self._publish()

    def on_startup(self, fn: F) -> F:
        """fn() runs when serving starts, before the server accepts (in the order
        added, before the lifespan is entered); may be async def. One that
        raises stops the start."""
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: F) -> F:
        """fn() runs when serving stopped (in the order added, after the server
        drained and the lifespan was exited); may be async def. One that
        raises is logged and the next one runs."""
        self._shutdown.append(fn)
        return fn

    def add_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Task[None]":
        """0.2.3's app.add_task: run func(*args, **kwargs) in the background now,
        as a BackgroundTask (a def on the worker threads, an async def on the
        loop), tracked by the server: graceful shutdown waits for it up to its
        timeout. 0.2.3's priority/retry options are not kept. RuntimeError when
        the app is not serving."""
        if self._server is None:
            raise RuntimeError("app.add_task needs the app serving (call it from a handler, a hook or a task)")
        task: "asyncio.Task[None]" = self._server.run_task(BackgroundTask(func, *args, **kwargs))
        return task

    def add_broadcast(self, hub: Broadcast) -> Broadcast:
        """Serve a Broadcast hub with this app: it starts when the app starts
        serving (after the startup hooks) and stops with it (before the
        shutdown hooks). A hub a handler uses without this joins the app at
        its first subscriber. Returns the hub."""
        if not isinstance(hub, Broadcast):
            raise TypeError(f"add_broadcast needs a Broadcast, not {type(hub).__name__}")
        if hub not in self._broadcasts:
            self._broadcasts.append(hub)
        return hub

    @property
    def broadcasts(self) -> Tuple[Broadcast, ...]:
        """The Broadcast hubs this app serves (added, or joined by first use)."""
        return tuple(self._broadcasts)

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

    async def _enter_lifespan(self) -> Optional[AsyncContextManager[Any]]:
        """Enter the lifespan (None without one): what it yields goes into
        app.state. TypeError for a lifespan that is not an async context
        manager or yields neither a mapping nor None (then it is exited)."""
        if self.lifespan is None:
            return None
        manager = self.lifespan(self)
        kind = type(manager)
        if not (hasattr(kind, "__aenter__") and hasattr(kind, "__aexit__")):
            raise TypeError(_not_an_async_context_manager(self.lifespan, manager))
        state = await kind.__aenter__(manager)
        if state is not None:
            try:
                if not isinstance(state, Mapping):
                    raise TypeError(f"lifespan {callable_name(self.lifespan)} yielded a {type(state).__name__}: "
                                    f"it yields a mapping (its keys become app.state's attributes) or None")
                self.state._state.update(state)
            except BaseException:
                await self._exit_lifespan(manager, sys.exc_info())
                raise
        return manager

    async def _exit_lifespan(self, manager: AsyncContextManager[Any],
                             exc_info: _ExcInfo = (None, None, None)) -> None:
        """Exit an entered lifespan; an exception from its exit is logged, not raised."""
        try:
            await type(manager).__aexit__(manager, *exc_info)
        except Exception:
            log.exception("lifespan %s failed on exit", callable_name(self.lifespan))

    async def serve(self, sockets: Iterable[socket.socket], *, shutdown_timeout: float = 10.0,
                    stop: Optional[asyncio.Event] = None, ready: Optional[Callable[[], None]] = None) -> int:
        """Serve on already bound, listening sockets until `stop` is set. Without
        `stop`, until SIGINT or SIGTERM when called in the main thread (the
        handling of catzilla.runner.StopSignals, as `listen` has); with `stop`,
        signals are the caller's. `ready()` is called once the startup hooks
        ran, the lifespan was entered and the server accepts; an exception
        before that is raised as it is. Once `stop` is set, the server keeps
        serving for the drain_delay setting while its health path answers
        503 (not when `stop` was set before it was ready: nobody saw it
        healthy; nor for a runner.Stop retired: the socket outlives this
        server), then drains (connections and background tasks) for up to
        `shutdown_timeout`. Returns how many worker threads were still
        blocked (in a generator or a blocking handler) at the end."""
        from catzilla.runner import Stop, StopSignals

        loop = asyncio.get_running_loop()
        signals = None
        if stop is None:
            stop = asyncio.Event()
            if threading.current_thread() is threading.main_thread():
                signals = StopSignals(loop, stop, shutdown_timeout)
                signals.install()
        try:
            server = await self._start_server(list(sockets), loop)
            delay = 0.0
            try:
                if ready is not None:
                    ready()
                if not stop.is_set():
                    await stop.wait()
                    if not (isinstance(stop, Stop) and stop.retired):
                        delay = server.settings.drain_delay
            finally:
                await self._stop_server(server, shutdown_timeout, delay)
        finally:
            if signals is not None:
                signals.restore()
        return server.blocked_threads

    # -- the one lifecycle, for serve() and the TestClient ------------------------

    async def _start_server(self, sockets: List[socket.socket], loop: asyncio.AbstractEventLoop,
                            watchdog: bool = True) -> Any:
        """Run the startup hooks, enter the lifespan, then serve `sockets` on
        `loop` (the app's dispatcher is compiled as the server is made), then
        start the Broadcast hubs; _stop_server undoes it in the reverse order.
        watchdog=False: no block warnings (the TestClient's loop is stopped
        between requests)."""
        from catzilla._core.server import Server

        await self.startup()
        lifespan = await self._enter_lifespan()
        try:
            self._mount_docs()
            self._publish()                      # the settings as they are now (app.settings may be replaced)
            server = Server(self, sockets, loop=loop, watchdog=watchdog)
            server.start()
        except BaseException:
            if lifespan is not None:
                await self._exit_lifespan(lifespan, sys.exc_info())
            raise
        self._server = server
        if lifespan is not None:
            self._lifespans[server] = lifespan
        try:
            for hub in list(self._broadcasts):
                await hub.start(self)
        except BaseException:
            await self._stop_server(server, 0.0)
            raise
        return server

    async def _stop_server(self, server: Any, timeout: float, delay: float = 0.0) -> None:
        if self._server is server:
            self._server = None
        try:
            await server.shutdown(timeout, delay)   # feeds end first (clients reconnect elsewhere)
        finally:
            try:
                for hub in list(self._broadcasts):
                    if hub.app is self:         # not one that another app serves now
                        try:
                            await hub.close()
                        except Exception:
                            log.exception("closing %r failed", hub)
            finally:
                try:
                    lifespan = self._lifespans.pop(server, None)
                    if lifespan is not None:
                        await self._exit_lifespan(lifespan)
                finally:
                    await self.shutdown()

    def listen(self, port: int = 8000, host: str = "127.0.0.1", *, workers: int = 1, backlog: int = 2048,
               shutdown_timeout: float = 10.0, loop: str = "auto", banner: bool = True) -> None:
        """Serve until Ctrl-C or SIGTERM (blocking). workers > 1 forks processes sharing the port.
        A start that fails (a startup hook or the lifespan raised) ends the process with status 3, its
        error logged, as `catzilla run` does; serve() raises instead."""
        from catzilla.runner import BOOT_FAILURE, WorkerBootError, run
        try:
            run(self, host=host, port=port, workers=workers, backlog=backlog,
                shutdown_timeout=shutdown_timeout, loop=loop, banner=banner)
        except WorkerBootError as exc:
            log.critical("%s; exiting with status %d", exc, BOOT_FAILURE)
            raise SystemExit(BOOT_FAILURE) from None

    run = listen
