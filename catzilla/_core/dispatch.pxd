# The request pipeline above the connection, compiled from the app when the
# server starts: route lookup, hooks, the endpoint, exception handlers.
from catzilla.request cimport Request
from catzilla.response cimport Response
from catzilla.router cimport Router

cdef class Dispatcher:
    cdef readonly object app
    cdef Router router
    cdef readonly Router ws_router   # WebSocket routes (consulted for upgrade requests and on a 404)
    cdef list before                 # the app's own hook lists and handler map, shared, so
    cdef list after                  # hooks registered after start take effect
    cdef dict handlers               # exception class -> handler(request, exc)
    cdef bint debug
    cdef object log
    cdef Py_ssize_t hooks_seen       # len(before) + len(after) when async_hooks was computed
    cdef bint async_hooks

    cdef object call(self, Request req)
    cdef object with_hooks(self, Request req)
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
