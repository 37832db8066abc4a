# The request pipeline above the connection, compiled from the app when the
# server starts: route lookup, hooks, the endpoint, exception handlers.
from catzilla.request cimport Request
from catzilla.response cimport Response
from catzilla.router cimport Router

cdef class Layer:
    cdef readonly object middleware
    cdef object on_request           # on_request(request) -> None or an answer (maybe awaitable), or None
    cdef object on_response          # on_response(request, response) -> None or a replacement, or None


# The app's layers, outermost first: the app replaces the tuple when middleware
# or hooks are added (so they take effect at once, even while serving), and a
# request keeps the tuple it started with.
cdef class Stack:
    cdef public tuple layers


cdef class Dispatcher:
    cdef readonly object app
    cdef Router router
    cdef readonly Router ws_router   # WebSocket routes (consulted for upgrade requests and on a 404)
    cdef Stack stack                 # the app's own
    cdef dict handlers               # exception class -> handler(request, exc)
    cdef bint debug
    cdef object log
    cdef bint blocking_default       # the blocking_handlers setting: for routes that leave it to the app
    # offload(endpoint, request, params) -> awaitable of endpoint(request, **params)
    # run on a worker thread (Services.offload, set by the server)
    cdef public object offload

    cdef object call(self, Request req)
    cdef object through(self, Request req, tuple layers)
    cdef object unwind(self, Request req, tuple layers, Py_ssize_t i, object result)
    cdef object as_response(self, Request req, object result)
    cdef Response default_error(self, Request req, object exc)

    # What to send for a request: a handler result (Response, str, dict, ...)
    # or an awaitable of one. Never raises for an exception of the app's.
    cdef object handle(self, Request req)
    # Whether the endpoint for req (path set) is async, and so reads its body as it arrives.
    cdef bint streams_body(self, Request req) except -1
    # The response for an exception: a Response, or an awaitable of one
    # (an async exception handler). Never raises.
    cdef object error(self, Request req, object exc)


cdef bint is_awaitable(object result) except -1   # a coroutine or other awaitable handler result
