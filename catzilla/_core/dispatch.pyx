"""The dispatcher: one implementation of "request in, result out", used by the
server and the TestClient alike.

With no middleware (the app's hooks are one, innermost, when any is
registered) the endpoint is called directly: one C test of a tuple length.
Otherwise the layers run as an onion: each layer's on_request in declared
order until one answers, then the endpoint, then on_response of every layer
whose on_request ran, innermost first. Everything runs synchronously until a
step returns an awaitable; the rest of the chain then continues in one
coroutine, so an all-sync stack never pays for a task. A blocking route's
endpoint is such an awaitable: it runs on a worker thread (Services.offload)
and the chain goes on on the loop with its result."""
import inspect
import traceback

from catzilla.includes.python cimport PyCoro_CheckExact
from catzilla.request cimport Request
from catzilla.response cimport Response, to_response
from catzilla.router cimport Match, Route, Router
from catzilla.response import PlainTextResponse
from catzilla.exceptions import HTTPException

# results that are surely not awaitable: skip the costly ABC check for them
cdef frozenset _PLAIN_RESULTS = frozenset([str, bytes, dict, list, type(None)])


cdef bint is_awaitable(object result) except -1:
    return PyCoro_CheckExact(result) or (type(result) not in _PLAIN_RESULTS
                                         and not isinstance(result, Response)
                                         and inspect.isawaitable(result))


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

    def __repr__(self):
        return f"<Layer {self.middleware!r}>"


cdef class Stack:
    def __init__(self):
        self.layers = ()


cdef class Dispatcher:
    def __init__(self, app):
        self.app = app
        self.router = app.router
        self.ws_router = getattr(app, "ws_router", None)
        self.stack = app._stack
        self.handlers = app._exception_handlers
        self.debug = app.settings.debug
        self.blocking_default = app.settings.blocking_handlers
        import logging
        self.log = logging.getLogger("catzilla")

    cdef object handle(self, Request req):
        cdef tuple layers = self.stack.layers
        req.app = self.app
        try:
            if len(layers) == 0:
                return self.call(req)
            return self.through(req, layers)
        except Exception as exc:
            return self.error(req, exc)

    cdef bint streams_body(self, Request req) except -1:
        cdef Match match = self.router.find(req.method, req.path)
        return match.route is not None and match.route.is_async

    cdef object call(self, Request req):
        """Route lookup and the endpoint (or the 404/405 answer)."""
        cdef Match match = self.router.find(req.method, req.path)
        cdef Route route = match.route
        if route is None:
            if match.allowed:
                return PlainTextResponse("Method Not Allowed", 405, {"allow": ", ".join(match.allowed)})
            if self.ws_router is not None and self.ws_router.find("GET", req.path).route is not None:
                return PlainTextResponse("Upgrade Required: this is a WebSocket endpoint", 426,
                                         {"upgrade": "websocket", "connection": "Upgrade",
                                          "sec-websocket-version": "13"})
            return PlainTextResponse("Not Found", 404)
        req.path_params = match.params
        req.async_api = route.is_async      # await request.json() & co. in async endpoints
        if route.blocking is True or (self.blocking_default and route.blocking is None
                                      and not route.is_async):
            return self.offload(route.endpoint, req, match.params if route.params_as_kwargs else None)
        if match.params is not None and route.params_as_kwargs:
            return route.endpoint(req, **match.params)
        return route.endpoint(req)

    # -- the onion, synchronously while nothing is awaitable ---------------------

    cdef object through(self, Request req, tuple layers):
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
                return self.unwind(req, layers, i, self.error(req, exc))
            if early is None:
                continue
            if is_awaitable(early):
                return self.through_async(req, layers, i, early)
            return self.unwind(req, layers, i, early)
        try:
            result = self.call(req)
        except Exception as exc:
            result = self.error(req, exc)
        return self.unwind(req, layers, n, result)

    cdef object unwind(self, Request req, tuple layers, Py_ssize_t i, object result):
        """The response phase of layers[i-1] .. layers[0] for a result (or an awaitable of one)."""
        cdef Layer layer
        if is_awaitable(result):
            return self.unwind_async(req, layers, i, result, None)
        response = self.as_response(req, result)
        if not isinstance(response, Response):
            return self.unwind_async(req, layers, i, response, None)
        while i > 0:
            i -= 1
            layer = <Layer>layers[i]
            if layer.on_response is None:
                continue
            try:
                replaced = layer.on_response(req, response)
            except Exception as exc:
                replaced = self.error(req, exc)
            if replaced is None:
                continue
            if is_awaitable(replaced):
                return self.unwind_async(req, layers, i, replaced, response)
            response = self.as_response(req, replaced)
            if not isinstance(response, Response):
                return self.unwind_async(req, layers, i, response, None)
        return response

    cdef object as_response(self, Request req, object result):
        """to_response, with a bad result type answered by the exception handlers
        (a Response, or an awaitable of one)."""
        try:
            return to_response(result)
        except Exception as exc:
            return self.error(req, exc)

    # -- the rest of the onion, once something had to be awaited ------------------

    async def through_async(self, Request req, tuple layers, Py_ssize_t i, awaitable):
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
                result = self.call(req)
                if is_awaitable(result):
                    result = await result
            else:
                result = early
        except Exception as exc:
            result = self.error(req, exc)
        return await self.unwind_async(req, layers, i, result, None)

    async def unwind_async(self, Request req, tuple layers, Py_ssize_t i, result, current):
        """As unwind(); `current` is the response an on_response result (None: keep it)
        would replace, or None when `result` is the endpoint's or an early answer."""
        cdef Layer layer
        response = await self.settled(req, result, current)
        while i > 0:
            i -= 1
            layer = <Layer>layers[i]
            if layer.on_response is not None:
                try:
                    replaced = layer.on_response(req, response)
                except Exception as exc:
                    replaced = self.error(req, exc)
                response = await self.settled(req, replaced, response)
        return response

    async def settled(self, Request req, result, current):
        try:
            if is_awaitable(result):
                result = await result
            if result is None and current is not None:
                return current
            return to_response(result)
        except Exception as exc:
            return await self.resolve(self.error(req, exc))

    async def resolve(self, result):
        return (await result) if is_awaitable(result) else result

    cdef object error(self, Request req, object exc):
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                try:
                    result = handler(req, exc)
                    if is_awaitable(result):
                        return self.handled_async(req, exc, cls, result)
                    return to_response(result)
                except Exception as inner:
                    self.log.exception("exception handler for %s failed", cls.__name__)
                    exc = inner
                    break
        return self.default_error(req, exc)

    async def handled_async(self, Request req, exc, cls, awaitable):
        try:
            return to_response(await awaitable)
        except Exception as inner:
            self.log.exception("exception handler for %s failed", cls.__name__)
            return self.default_error(req, inner)

    cdef Response default_error(self, Request req, object exc):
        if isinstance(exc, HTTPException):
            try:
                return PlainTextResponse(exc.detail, exc.status_code, exc.headers)
            except (TypeError, ValueError) as bad:   # e.g. CR/LF in its headers: never on the wire
                exc = bad
        self.log.error("handler raised for %s %s", req.method if req is not None else "?",
                       req.path if req is not None else "?", exc_info=exc)
        if self.debug:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            return PlainTextResponse(f"Internal Server Error\n\n{text}", 500)
        return PlainTextResponse("Internal Server Error", 500)
