# The parameter plan of a typed endpoint (catzilla/params.pyx): compiled once
# per route when it is registered, run per request by the dispatcher (HTTP) and
# by catzilla.websocket (a WebSocket handshake). Nothing here inspects the
# endpoint per request.
from catzilla.models cimport Codec, FieldInfo, Pattern
from catzilla.request cimport Request
from catzilla.dependencies cimport RequestExit


cdef class Param(FieldInfo):
    # FastAPI's marker: a FieldInfo (the default, constraints, documentation) and where the value comes from
    cdef readonly bint include_in_schema
    cdef readonly str source             # "query", "path", "header", "cookie", "body", "form", "file"

cdef class Query(Param):
    pass

cdef class Path(Param):
    pass

cdef class Header(Param):
    cdef readonly bint convert_underscores

cdef class Cookie(Param):
    pass

cdef class Body(Param):
    cdef readonly bint embed
    cdef readonly str media_type

cdef class Form(Body):
    pass

cdef class File(Form):
    pass


# One parameter of a plan: its source, wire name, conversion and constraints.
cdef class ParamSpec:
    cdef readonly str name               # the Python parameter name
    cdef readonly str source             # "path", "query", "header", "cookie", "body", "form", "file"
    cdef readonly str key                # the wire name: alias, header name, path/query key
    cdef readonly object annotation      # the declared type (Annotated and markers stripped)
    cdef readonly bint required
    cdef readonly object default
    cdef readonly object info            # the marker (Query(...), ...) or None
    cdef readonly bint is_list           # many values from repeated keys (query, header, form, file)
    cdef int src                         # S_* (params.pyx)
    cdef int kind                        # K_*: how one value is converted
    cdef bint optional                   # None is a value of the type
    cdef bint copy_default               # a mutable default: a fresh copy per request
    cdef bint checks                     # any constraint to check
    cdef tuple loc                       # (loc source, key): the start of an error's loc
    cdef Codec codec                     # models.codec(annotation) for K_CODEC, else None
    cdef object factory                  # default_factory, or None
    cdef bint has_gt, has_ge, has_lt, has_le
    cdef double gt, ge, lt, le
    cdef object multiple_of
    cdef Py_ssize_t min_length, max_length   # -1: none
    cdef Pattern matcher                 # the pattern (compiled C for the subset cz_pattern.c takes), or None

    cdef object value(self, object raw, tuple loc, list errors)
    cdef object one(self, object raw, tuple loc, list errors)
    cdef object missing(self, list errors)
    cdef object check(self, object v, object raw, tuple loc, list errors)
    cdef object check_str(self, str s, tuple loc, list errors)
    cdef object check_len(self, list out, tuple loc, list errors)


# The JSON body of a plan: one model parameter as the whole body, or several
# parameters (or Body(embed=True)) embedded by name in a synthesized Struct.
cdef class BodySpec:
    cdef readonly object annotation      # the model type, or the synthesized Struct
    cdef readonly str media_type
    cdef readonly bint required
    cdef readonly bint embed
    cdef readonly tuple params           # the ParamSpecs it carries
    cdef Codec codec                     # codec(annotation) (None: field by field, see params.pyx)
    cdef object field_codecs             # embedded without a Struct codec: {key: codec}


# One dependency of a plan (Depends): what is called, with its own plan.
cdef class Dependant:
    cdef readonly object call            # the function, class or callable object
    cdef readonly str name               # the parameter it fills, or None (a route's `dependencies=`)
    cdef readonly EndpointPlan plan      # its own parameters and sub-dependencies
    cdef readonly bint use_cache
    cdef readonly str scope              # "request" or "function"
    cdef readonly tuple scopes           # Security(scopes=...)
    cdef readonly bint awaits            # it, or a sub-dependency, is async
    cdef readonly bint singleton         # a singleton service (@service): one value for the process
    cdef int kind                        # D_* (params.pyx)


cdef class EndpointPlan:
    cdef readonly tuple params           # ParamSpecs of path, query, header, cookie, form, file
    cdef readonly BodySpec body          # the JSON body, or None
    cdef readonly dict operation         # the decorator keywords (documentation and response)
    cdef readonly object response_type   # the 2xx type documented (response_model, else the return type)
    cdef readonly tuple stream           # None, or ("jsonl" | "sse", item type)
    cdef readonly object endpoint
    cdef readonly bint is_async
    cdef readonly bint reads_form        # Form/File parameters: the body is a form
    cdef bint arg_first                  # the request (a WebSocket's socket) goes first, positionally
    cdef tuple inject                    # names that get the request / socket by keyword
    cdef readonly str background         # the BackgroundTasks parameter's name, or None
    cdef readonly tuple dependencies     # Dependants, the route's own `dependencies=` first
    cdef bint awaits                     # a dependency (or one of theirs) is async
    cdef tuple path_info                 # (path parameter names, converter names, websocket): overrides compile with them
    cdef tuple extra_path                # path parameters passed through to **kwargs unchecked
    cdef int status                      # status_code, 0: the default
    cdef Codec response_codec            # codec(response model) for filtering, or None
    cdef object response_exact           # the model class whose instances need no filtering
    cdef object response_class
    cdef bint typed_stream

    cdef dict arguments(self, Request req, dict path, object form, object body)
    # The same without raising: errors collected (a dependency's parameters go here too)
    cdef int fill(self, Request req, dict path, object form, object body, dict kwargs, list errors) except -1
    cdef int body_arguments(self, bytes body, dict kwargs, list errors) except -1
    cdef object invoke(self, object arg, dict kwargs)
    cdef object respond(self, object result)
    cdef object stream_response(self, object result)
    # The endpoint for req, run: its response, or an awaitable of it. `offload`:
    # run a def endpoint through `offloader` (Dispatcher.offload) on a worker.
    cdef object run(self, Request req, dict path, bint offload, object offloader)
    cdef object run_dependent(self, Request req, dict path, bint offload, object offloader)
    cdef dict solved_arguments(self, object solved)    # with every dependency solved (params.pyx _Solve)
    # The keyword arguments of a WebSocket handler (path, query, header, cookie)
    cdef dict ws_arguments(self, Request req, dict path)
    # A WebSocket handler with dependencies: solved, called, torn down when it returns
    cdef object ws_run(self, object socket, Request req, dict kwargs, object offload)


cdef bytes validation_body(object exc)   # {"detail": errors} of a RequestValidationError, JSON
