# Declarations of the compiled router (router.pyx), so other compiled modules
# (the connection) can cimport Router, call find() and read the Match at C level.
cimport cython
from catzilla.params cimport EndpointPlan

cdef enum:
    CZ_ROUTER_MAX_PARAMS = 32   # most parameters one pattern may have


@cython.final
cdef class Route:
    cdef readonly str path              # pattern as given, prefixes applied
    cdef readonly tuple methods         # explicit upper-case methods, e.g. ("GET",)
    cdef readonly object endpoint
    cdef readonly bint is_async
    cdef readonly object blocking       # True: a def endpoint runs on the worker pool; False: inline;
                                        # None: the app's blocking_handlers setting decides
    cdef readonly bint params_as_kwargs
    cdef readonly tuple param_names
    cdef readonly str name
    cdef readonly EndpointPlan plan     # the typed endpoint's plan (catzilla/params.pyx), or None: untyped
    cdef readonly bint websocket        # a WebSocket route (its endpoint gets the WebSocket)
    cdef dict _operation                # the decorator keywords the plan was compiled with
    cdef tuple _segments                # ((kind, text), ...) kind 0 = static text, else converter code
    cdef int _nparams
    cdef int _convs[CZ_ROUTER_MAX_PARAMS]


# The endpoint called with `arg` (the Request, or a WebSocket) and the path
# parameters, as keywords when the route takes them: the one place it is done
# (inline: it is the hot path of every request). A typed route's `params` are
# the keyword arguments its plan built.
cdef inline object call_endpoint(Route route, object arg, dict params):
    if route.plan is not None:
        return route.plan.invoke(arg, params)
    if params is not None and route.params_as_kwargs:
        return route.endpoint(arg, **params)
    return route.endpoint(arg)


@cython.final
cdef class Match:
    # the result of Router.find(): route (+ params) on a hit, else allowed
    cdef readonly Route route           # None when nothing answers the method
    cdef readonly dict params           # None for a route without parameters (and no match)
    cdef readonly tuple allowed         # no match: () is 404, otherwise 405 with these methods


@cython.final
cdef class _Leaf:
    # the routes ending at one path shape
    cdef dict table                     # method -> Route, "HEAD" falls back to the GET route
    cdef dict explicit                  # method -> Route, only methods registered explicitly


@cython.final
cdef class _Node:
    # one segment position of the parameterised-route tree
    cdef dict static_map                # literal segment -> _Node
    cdef tuple static_keys              # same content as static_map, for a linear
    cdef tuple static_nodes             #   scan without slicing when there are few children
    cdef Py_ssize_t n_static
    cdef _Node int_child
    cdef _Node signed_int_child
    cdef _Node float_child
    cdef _Node signed_float_child
    cdef _Node uuid_child
    cdef _Node str_child
    cdef _Leaf leaf                     # routes whose pattern ends at this node
    cdef _Leaf path_leaf                # routes whose last segment is {name:path}


cdef class Router:
    cdef readonly str prefix
    cdef readonly tuple dependencies    # Depends run for every route added here or included (outermost first)
    cdef dict _static                   # full static path -> _Leaf
    cdef _Node _root
    cdef bint _has_dynamic
    cdef list _routes
    cdef dict _names                    # route name -> [Route, ...] in registration order

    cpdef Match find(self, str method, str path)
    cdef tuple _allowed(self, str path)
    cdef _Leaf _locate(self, tuple segments, str full, bint create)
    cdef int _check_conflict(self, Route route) except -1
    cdef Route _commit(self, Route route)
