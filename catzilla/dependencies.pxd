# Dependencies as parameters (catzilla/dependencies.pyx): the markers, the
# end of a request (teardown of `yield` dependencies, background tasks) and
# 0.2.3's named services. The graph is compiled with the endpoint's plan
# (catzilla/params.pyx); this module holds what runs once the response is sent.

cdef class Depends:
    cdef readonly object dependency      # a callable, a service name (str), or None: the annotation
    cdef readonly bint use_cache         # one value per request for this callable
    cdef readonly str scope              # "request": torn down after the response; "function": when the endpoint returns

cdef class Security(Depends):
    cdef readonly tuple scopes           # OAuth2 scopes the operation requires (documentation)


cdef class BackgroundTask:
    cdef readonly object func
    cdef readonly tuple args
    cdef readonly dict kwargs
    cdef readonly bint if_delivered      # skipped when the response did not reach the client whole

cdef class BackgroundTasks:
    cdef readonly list tasks             # BackgroundTask, in the order added


# What a request leaves to run once its response is sent (or abandoned): the
# request-scoped `yield` dependencies it entered, last entered first, then its
# background tasks. The connection calls close() exactly once, with the
# exception the response failed with (handler, stream, hang-up) or None.
cdef class RequestExit:
    cdef list exits                      # (generator, is_async) in the order entered
    cdef list tasks                      # BackgroundTask: the responses' own `background`
    cdef BackgroundTasks background      # the BackgroundTasks parameter's (endpoint and dependencies share it)
    cdef readonly str route              # "GET /path", for log lines
    cdef public object exc               # an exception the endpoint raised (thrown into the dependencies)
    # A blocking endpoint on a worker thread: close() (a hang-up) waits for it to
    # return before the teardown, and a call not started by then is not run.
    cdef object lock                     # threading.Lock, made on the loop before the call is offloaded
    cdef int running                     # calls between begin_call and end_call
    cdef bint closing                    # close() has started
    cdef object waiter                   # (loop, future): close() waiting for running to reach 0

    cdef int enter(self, object gen, bint is_async) except -1
    cdef int add_tasks(self, object background) except -1   # a BackgroundTask or BackgroundTasks
    cdef BackgroundTasks background_tasks(self)              # the parameter's, made on first use
    cdef bint idle(self)                 # nothing to run
    cdef bint sync_only(self)            # only sync generators to resume: close_sync() on a worker does it
    cdef int offloading(self) except -1  # on the loop: a call of the endpoint goes to a worker thread
    cdef int begin_call(self) except -1  # on the worker: ClientDisconnect if close() has started
    cdef int end_call(self) except -1    # on the worker: the endpoint returned (or raised)


cdef RequestExit request_exit(object req)    # req.exit, made on first use
# A `yield` dependency's code after the yield: exc thrown in at the yield (None: resumed).
# Returns False when it raised something other than exc (logged).
cdef bint finish_generator(object gen, object exc, str route) except -1
# finish_generator for the sync generators at the end of `exits` ((generator,
# is_async) in the order entered), last first, up to an async one (left there).
cdef int finish_sync_exits(list exits, object exc, str route) except -1
