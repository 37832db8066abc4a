"""The dispatcher: one implementation of "request in, result out", used by the
server and the TestClient alike.

Two variants, chosen per request by a C test of two list lengths: with no hook
registered the endpoint is called directly (the fast path); with hooks, the
before hooks, the endpoint and the after hooks run in order, in a coroutine
when any of them is async."""
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


cdef class Dispatcher:
    def __init__(self, app):
        self.app = app
        self.router = app.router
        self.ws_router = getattr(app, "ws_router", None)
        self.before = app._before
        self.after = app._after
        self.handlers = app._exception_handlers
        self.debug = app.settings.debug
        import logging
        self.log = logging.getLogger("catzilla")
        self.hooks_seen = -1

    cdef object handle(self, Request req):
        req.app = self.app
        try:
            if len(self.before) == 0 and len(self.after) == 0:
                return self.call(req)
            return self.with_hooks(req)
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
        if match.params is not None and route.params_as_kwargs:
            return route.endpoint(req, **match.params)
        return route.endpoint(req)

    cdef object with_hooks(self, Request req):
        cdef Py_ssize_t n = len(self.before) + len(self.after)
        cdef Response response
        if n != self.hooks_seen:                       # hooks are only ever appended
            self.async_hooks = any(inspect.iscoroutinefunction(h) for h in self.before + self.after)
            self.hooks_seen = n
        if self.async_hooks:
            return self.hooks_async(req)
        try:
            for hook in self.before:
                early = hook(req)
                if early is not None:
                    response = to_response(early)
                    break
            else:
                result = self.call(req)
                if is_awaitable(result):
                    return self.finish_async(req, result)
                response = to_response(result)
        except Exception as exc:
            result = self.error(req, exc)
            if is_awaitable(result):
                return self.finish_async(req, result)
            response = <Response>result
        for hook in self.after:
            replaced = hook(req, response)
            if replaced is not None:
                response = to_response(replaced)
        return response

    async def finish_async(self, Request req, awaitable):
        """An async endpoint (or exception handler) behind sync hooks: await it, then the after hooks."""
        try:
            response = to_response(await awaitable)
        except Exception as exc:
            response = await self.resolve(self.error(req, exc))
        return await self.after_hooks(req, response)

    async def hooks_async(self, Request req):
        try:
            for hook in self.before:
                early = hook(req)
                if is_awaitable(early):
                    early = await early
                if early is not None:
                    response = to_response(early)
                    break
            else:
                result = self.call(req)
                if is_awaitable(result):
                    result = await result
                response = to_response(result)
        except Exception as exc:
            response = await self.resolve(self.error(req, exc))
        return await self.after_hooks(req, response)

    async def after_hooks(self, Request req, Response response):
        for hook in self.after:
            replaced = hook(req, response)
            if is_awaitable(replaced):
                replaced = await replaced
            if replaced is not None:
                response = to_response(replaced)
        return response

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
