"""The dispatcher: one implementation of "request in, result out", used by the
server and the TestClient alike, for HTTP requests and WebSocket handshakes.

It runs a Plan: a frozen description the app compiles (Catzilla.plan()) and
publishes in a PlanSlot whenever middleware, hooks or exception handlers are
added, so they take effect at once, even while serving; a request keeps the
plan it started with. The dispatcher never reads the app's containers.

With no layers the endpoint is called directly: one C test of a tuple length.
Otherwise the layers (middleware, then the before/after hooks, each a layer of
its own) run as an onion: each layer's on_request in declared order until one
answers, then the endpoint, then on_response of every layer whose on_request
ran, innermost first. Everything runs synchronously until a step returns an
awaitable; the rest of the chain then continues in one coroutine, so an
all-sync stack never pays for a task. A blocking route's endpoint is such an
awaitable: it runs on a worker thread (Services.offload) and the chain goes on
on the loop with its result.

A WebSocket handshake (an upgrade request for a WebSocket route, marked by
resolve_upgrade: request.is_websocket) takes the same path: on_request of
every layer and the before hooks see it and may answer it (the answer, or an
exception rendered by the exception handlers, is the HTTP answer to the
handshake: the handler never runs). The endpoint step is the plan's
open_handshake: a refusal for a malformed handshake, or an Upgrade (status
101) that on_response sees like any response -- headers added to it go on
the 101 head, a replacement refuses the handshake -- and that starts the
handler when it is sent."""
import inspect
import logging
import traceback

from catzilla.includes.python cimport PyCoro_CheckExact
from catzilla._core.httpsyntax cimport split_list
from catzilla.request cimport Request
from catzilla.response cimport Response, to_response
from catzilla.router cimport Match, Route, Router, call_endpoint
from catzilla.params cimport validation_body
from catzilla.response import JSONResponse, PlainTextResponse
from catzilla.exceptions import HTTPException, RequestValidationError

# results that are surely not awaitable: skip the costly ABC check for them
cdef frozenset _PLAIN_RESULTS = frozenset([str, bytes, dict, list, type(None)])


cdef bint is_awaitable(object result) except -1:
    return PyCoro_CheckExact(result) or (type(result) not in _PLAIN_RESULTS
                                         and not isinstance(result, Response)
                                         and inspect.isawaitable(result))


cdef object _class_key(dict handlers, object exc):
    """The most specific class of exc that has a handler, or None."""
    for cls in type(exc).__mro__:
        if cls in handlers:
            return cls
    return None


cdef str _key_name(object key):
    return key.__name__ if isinstance(key, type) else f"status {key}"


cdef bint _has_token(object value, str token) except -1:
    """Whether a comma-separated header (Upgrade) lists `token`, case-insensitively."""
    for item in split_list(value):
        if (<str>item).lower() == token:
            return True
    return False


cdef class Layer:
    """One middleware as the dispatcher calls it: its two optional phases."""

    def __init__(self, middleware):
        self.middleware = middleware
        self.on_request = getattr(middleware, "on_request", None)
        self.on_response = getattr(middleware, "on_response", None)
        if not (callable(self.on_request) or callable(self.on_response)):
            raise TypeError(f"{type(middleware).__name__} is not a middleware: it needs an "
                            f"on_request(request) or on_response(request, response) method")
        if not callable(self.on_request):
            self.on_request = None
        if not callable(self.on_response):
            self.on_response = None

    @staticmethod
    def hook(before=None, after=None):
        """A before_request hook (before(request)) or an after_request hook
        (after(request, response)) as a layer of its own."""
        cdef Layer layer = Layer.__new__(Layer)
        if (before is None) == (after is None) or not callable(before or after):
            raise TypeError("a hook is one callable: before(request) or after(request, response)")
        layer.middleware = before or after
        layer.on_request = before
        layer.on_response = after
        return layer

    def __repr__(self):
        return f"<Layer {self.middleware!r}>"


cdef class Plan:
    """What the dispatcher runs, frozen (see dispatch.pxd)."""

    def __init__(self, app, Router router not None, Router ws_router, layers, handlers, *,
                 bint debug=False, bint blocking_default=False, open_handshake=None):
        self.app = app
        self.router = router
        self.ws_router = ws_router
        self.layers = tuple(layers)
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"{layer!r} is not a Layer")
        self.handlers = dict(handlers)
        self.debug = debug
        self.blocking_default = blocking_default
        self.open_handshake = open_handshake

    def __repr__(self):
        return f"<Plan {len(self.layers)} layers, {len(self.handlers)} exception handlers>"


cdef class PlanSlot:
    def __init__(self, Plan plan not None):
        self.plan = plan


cdef class Dispatcher:
    def __init__(self, PlanSlot slot not None):
        self.slot = slot
        self.log = logging.getLogger("catzilla")

    @property
    def plan(self):
        return self.slot.plan

    cdef object handle(self, Request req):
        cdef Plan plan = self.slot.plan
        cdef tuple layers = plan.layers
        req.app = plan.app
        try:
            if len(layers) == 0:
                return self.call(plan, req)
            return self.through(plan, req, layers)
        except Exception as exc:
            return self.handled(plan, req, exc)

    cdef bint resolve_upgrade(self, Request req) except -1:
        cdef Router ws_router = self.slot.plan.ws_router
        if ws_router is None or not _has_token(req.headers.get("upgrade"), "websocket"):
            return False
        if ws_router.find("GET", req.path).route is None:
            return False
        req.is_websocket = True
        return True

    cdef bint streams_body(self, Request req) except -1:
        # a typed endpoint's JSON body is read whole first (max_body answers 413
        # before anything is parsed); a form arrives as it is parsed
        cdef Match match = self.slot.plan.router.find(req.method, req.path)
        cdef Route route = match.route
        return route is not None and route.is_async and (route.plan is None or route.plan.body is None)

    cdef object call(self, Plan plan, Request req):
        """Route lookup and the endpoint (or the 404/405 answer)."""
        cdef Match match
        cdef Route route
        cdef bint offload
        if req.is_websocket:
            match = plan.ws_router.find("GET", req.path)
            req.path_params = match.params
            return plan.open_handshake(req, match.route, match.params)
        match = plan.router.find(req.method, req.path)
        route = match.route
        if route is None:                    # answered by the exception handlers like any HTTPException
            if match.allowed:
                return self.handled(plan, req, HTTPException(405, None, {"allow": ", ".join(match.allowed)}))
            if plan.ws_router is not None and plan.ws_router.find("GET", req.path).route is not None:
                return self.handled(plan, req, HTTPException(
                    426, "Upgrade Required: this is a WebSocket endpoint",
                    {"upgrade": "websocket", "connection": "Upgrade", "sec-websocket-version": "13"}))
            return self.handled(plan, req, HTTPException(404))
        req.path_params = match.params
        req.async_api = route.is_async      # await request.json() & co. in async endpoints
        offload = route.blocking is True or (plan.blocking_default and route.blocking is None
                                             and not route.is_async)
        if route.plan is not None:          # a typed endpoint: its plan builds the arguments and the response
            return route.plan.run(req, match.params, offload, self.offload)
        if offload:
            return self.offload(route.endpoint, req, match.params if route.params_as_kwargs else None)
        return call_endpoint(route, req, match.params)

    # -- the onion, synchronously while nothing is awaitable ---------------------

    cdef object through(self, Plan plan, Request req, tuple layers):
        cdef Py_ssize_t i = 0, n = len(layers)
        cdef Layer layer
        while i < n:
            layer = <Layer>layers[i]
            i += 1
            if layer.on_request is None:
                continue
            try:
                early = layer.on_request(req)
            except Exception as exc:
                return self.unwind(plan, req, layers, i, self.handled(plan, req, exc))
            if early is None:
                continue
            if is_awaitable(early):
                return self.through_async(plan, req, layers, i, early)
            return self.unwind(plan, req, layers, i, early)
        try:
            result = self.call(plan, req)
        except Exception as exc:
            result = self.handled(plan, req, exc)
        return self.unwind(plan, req, layers, n, result)

    cdef object unwind(self, Plan plan, Request req, tuple layers, Py_ssize_t i, object result):
        """The response phase of layers[i-1] .. layers[0] for a result (or an awaitable of one)."""
        cdef Layer layer
        if is_awaitable(result):
            return self.unwind_async(plan, req, layers, i, result, None)
        response = self.as_response(plan, req, result)
        if not isinstance(response, Response):
            return self.unwind_async(plan, req, layers, i, response, None)
        while i > 0:
            i -= 1
            layer = <Layer>layers[i]
            if layer.on_response is None:
                continue
            try:
                replaced = layer.on_response(req, response)
            except Exception as exc:
                replaced = self.handled(plan, req, exc)
            if replaced is None:
                continue
            if is_awaitable(replaced):
                return self.unwind_async(plan, req, layers, i, replaced, response)
            response = self.as_response(plan, req, replaced)
            if not isinstance(response, Response):
                return self.unwind_async(plan, req, layers, i, response, None)
        return response

    cdef object as_response(self, Plan plan, Request req, object result):
        """to_response, with a bad result type answered by the exception handlers
        (a Response, or an awaitable of one)."""
        try:
            return to_response(result)
        except Exception as exc:
            return self.handled(plan, req, exc)

    # -- the rest of the onion, once something had to be awaited ------------------

    async def through_async(self, Plan plan, Request req, tuple layers, Py_ssize_t i, awaitable):
        cdef Layer layer
        cdef Py_ssize_t n = len(layers)
        try:
            early = await awaitable
            while early is None and i < n:
                layer = <Layer>layers[i]
                i += 1
                if layer.on_request is not None:
                    early = layer.on_request(req)
                    if is_awaitable(early):
                        early = await early
            if early is None:
                result = self.call(plan, req)
                if is_awaitable(result):
                    result = await result
            else:
                result = early
        except Exception as exc:
            result = self.handled(plan, req, exc)
        return await self.unwind_async(plan, req, layers, i, result, None)

    async def unwind_async(self, Plan plan, Request req, tuple layers, Py_ssize_t i, result, current):
        """As unwind(); `current` is the response an on_response result (None: keep it)
        would replace, or None when `result` is the endpoint's or an early answer."""
        cdef Layer layer
        response = await self.settled(plan, req, result, current)
        while i > 0:
            i -= 1
            layer = <Layer>layers[i]
            if layer.on_response is not None:
                try:
                    replaced = layer.on_response(req, response)
                except Exception as exc:
                    replaced = self.handled(plan, req, exc)
                response = await self.settled(plan, req, replaced, response)
        return response

    async def settled(self, Plan plan, Request req, result, current):
        try:
            if is_awaitable(result):
                result = await result
            if result is None and current is not None:
                return current
            return to_response(result)
        except Exception as exc:
            return await self.resolve(self.handled(plan, req, exc))

    async def resolve(self, result):
        return (await result) if is_awaitable(result) else result

    cdef object error(self, Request req, object exc):
        cdef Plan plan = self.slot.plan
        if req is not None:
            req.app = plan.app           # an early error never went through handle()
        return self.handled(plan, req, exc)

    cdef object handshake_error(self, Request req, object exc):
        cdef Plan plan = self.slot.plan
        if not isinstance(exc, HTTPException) and _class_key(plan.handlers, exc) is None:
            self.log.error("WebSocket handler for %s raised before accept", req.path, exc_info=exc)
            exc = HTTPException(403, "Forbidden")
        return self.handled(plan, req, exc)

    cdef object handled(self, Plan plan, Request req, object exc):
        """The app's handler for exc, Starlette's order: for an HTTPException
        the one for its status code, then the one for the most specific class
        of exc; for any other exception, failing that, the one for 500."""
        handler = None
        key = None
        if isinstance(exc, HTTPException):
            key = exc.status_code
            handler = plan.handlers.get(key)
        if handler is None:
            key = _class_key(plan.handlers, exc)
            if key is not None and isinstance(exc, RequestValidationError) \
                    and not issubclass(key, RequestValidationError):
                key = None                   # FastAPI's: the 422 is its own, not a catch-all handler's
            handler = plan.handlers.get(key) if key is not None else None
        if handler is None and not isinstance(exc, (HTTPException, RequestValidationError)):
            key = 500
            handler = plan.handlers.get(500)
            if handler is not None:          # it answers; the error is still the server's (Starlette logs it too)
                self.log_error(req, exc)
        if handler is None:
            return self.default_error(plan, req, exc)
        try:
            result = handler(req, exc)
            if is_awaitable(result):
                return self.handled_async(plan, req, key, result)
            return to_response(result)
        except Exception as inner:
            self.log.exception("exception handler for %s failed", _key_name(key))
            return self.default_error(plan, req, inner)

    async def handled_async(self, Plan plan, Request req, key, awaitable):
        try:
            return to_response(await awaitable)
        except Exception as inner:
            self.log.exception("exception handler for %s failed", _key_name(key))
            return self.default_error(plan, req, inner)

    cdef Response default_error(self, Plan plan, Request req, object exc):
        if isinstance(exc, RequestValidationError):     # FastAPI's answer: every failing parameter
            return Response(validation_body(exc), 422, None, "application/json")
        if isinstance(exc, HTTPException):
            try:
                return JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)
            except (TypeError, ValueError) as bad:   # CR/LF in its headers, a detail that is not JSON
                exc = bad
        self.log_error(req, exc)
        if plan.debug:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            return PlainTextResponse(f"Internal Server Error\n\n{text}", 500)
        return PlainTextResponse("Internal Server Error", 500)

    cdef int log_error(self, Request req, object exc) except -1:
        self.log.error("handler raised for %s %s", req.method if req is not None else "?",
                       req.path if req is not None else "?", exc_info=exc)
        return 0
