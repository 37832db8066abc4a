# The request pipeline above the connection, compiled from an immutable
# description of the app (a Plan): route lookup, the layers (middleware and
# hooks), the endpoint, exception handlers. WebSocket handshakes take the
# same path (see dispatch.pyx).
from catzilla.request cimport Request
from catzilla.response cimport Response
from catzilla.router cimport Router

cdef class Layer:
    cdef readonly object middleware  # the middleware object, or the hook function
    cdef object on_request           # on_request(request) -> None or an answer (maybe awaitable), or None
    cdef object on_response          # on_response(request, response) -> None or a replacement, or None


# What the dispatcher runs, frozen: built by the app (Catzilla.plan()) and
# never changed; a new one is published when middleware, hooks or exception
# handlers are added. Routers are the app's own (routes added while serving
# take effect through them).
cdef class Plan:
    cdef readonly object app
    cdef readonly Router router
    cdef readonly Router ws_router   # WebSocket routes (consulted for upgrade requests and on a 404)
    cdef readonly tuple layers       # outermost first
    cdef dict handlers               # exception class or status code -> handler(request, exc); a private copy
    cdef readonly bint debug
    cdef readonly bint blocking_default   # the blocking_handlers setting: for routes that leave it to the app
    # open_handshake(request, route, path_params) -> the Upgrade, or a Response refusing the
    # handshake (catzilla.websocket.open_handshake: the public WebSocket is made above _core)
    cdef readonly object open_handshake


# Where the app publishes its current Plan; a request keeps the plan it started with.
cdef class PlanSlot:
    cdef public Plan plan


cdef class Dispatcher:
    cdef readonly PlanSlot slot
    cdef object log
    # offload(endpoint, request, params) -> awaitable of endpoint(request, **params)
    # run on a worker thread (Services.offload, set by the server)
    cdef public object offload

    cdef object call(self, Plan plan, Request req)
    cdef object through(self, Plan plan, Request req, tuple layers)
    cdef object unwind(self, Plan plan, Request req, tuple layers, Py_ssize_t i, object result)
    cdef object as_response(self, Plan plan, Request req, object result)
    cdef object handled(self, Plan plan, Request req, object exc)
    cdef Response default_error(self, Plan plan, Request req, object exc)
    cdef int log_error(self, Request req, object exc) except -1

    # What to send for a request: a handler result (Response, str, dict, ...)
    # or an awaitable of one. Never raises for an exception of the app's.
    cdef object handle(self, Request req)
    # An upgrade request (Connection: upgrade) for a WebSocket route: marks it
    # (request.is_websocket) so handle() dispatches it as a handshake. False:
    # an ordinary HTTP request.
    cdef bint resolve_upgrade(self, Request req) except -1
    # Whether the endpoint for req (path set) is async, and so reads its body as it arrives.
    cdef bint streams_body(self, Request req) except -1
    # The response for an exception: a Response, or an awaitable of one
    # (an async exception handler). Never raises.
    cdef object error(self, Request req, object exc)
    # The same for an exception a WebSocket handler raised before accept():
    # an exception the app has no handler for (other than HTTPException) is a 403.
    cdef object handshake_error(self, Request req, object exc)


cdef bint is_awaitable(object result) except -1   # a coroutine or other awaitable handler result
