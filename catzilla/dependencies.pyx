"""Dependencies: FastAPI's `Depends`, torn down when the response is really over.

    def get_db():
        db = sqlite3.connect("app.db")
        try:
            yield db
            db.commit()
        except Exception:
            db.rollback()
            raise
        finally:
            db.close()

    @app.get("/rows")
    def rows(db = Depends(get_db)):
        def lines():
            for row in db.execute("select * from t"):    # the session is open for every chunk
                yield f"{row}\\n"
        return StreamingResponse(lines())

A dependency is a function, a coroutine function, a generator or an async
generator (`yield` once), or a class; its own parameters are typed like an
endpoint's (query, headers, sub-dependencies...). The graph is compiled with
the endpoint's plan (catzilla.params) when the route is registered; this module
holds the markers and what runs once the response is over:

- A request-scoped `yield` dependency (the default) resumes after its `yield`
  once the response is completely sent: for a stream, after its last chunk; if
  the client hangs up, right after the stream's generator is closed; for a
  WebSocket, when the handler returns. The exception that ended the response
  (the endpoint's, the stream's, or ClientDisconnect for a hang-up) is thrown
  in at the `yield`, so `with session:` rolls back and `except` blocks see it.
  `Depends(..., scope="function")` resumes as soon as the endpoint returns.
- Sync generators resume on the server's worker threads (a commit may block),
  async ones on the loop; the last entered first.
- Then the background tasks: a `BackgroundTasks` parameter's and the
  response's own `background`, both, in that order. A task added with
  `add_task_if_delivered` is skipped when the response did not reach the client
  whole; the others (`add_task`) always run.
- An error in a teardown or a task is logged with the request's route; the
  response is already gone.

0.2.3's service container maps onto the same machinery: `@service("db",
scope="request")` registers a provider, `Depends("db")` names it, `inject`
fills keyword arguments from it (see `service`).
"""
import asyncio
import inspect
import logging
import threading

from catzilla.request cimport Request

from catzilla.exceptions import ClientDisconnect

__all__ = ["Depends", "Security", "BackgroundTask", "BackgroundTasks", "RequestExit", "service", "inject",
           "get_service", "callable_name"]

_log = logging.getLogger("catzilla")

cdef frozenset _SCOPES = frozenset(["request", "function"])


cdef class Depends:
    """Depends(dependency=None, *, use_cache=True, scope=None): a parameter whose
    value is what `dependency` returns (yields) for this request. Without a
    dependency, the parameter's annotation is called (a class). A str names a
    service (@service). use_cache=False calls it again wherever it is used in
    one request. scope="function" tears a `yield` dependency down when the
    endpoint returns, before the response is sent; "request" (the default)
    once the response is over."""

    def __init__(self, dependency=None, *, bint use_cache=True, scope=None):
        if dependency is not None and not callable(dependency) and not isinstance(dependency, str):
            raise TypeError(f"Depends() needs a callable or a service name, not {dependency!r}")
        if scope is not None and scope not in _SCOPES:
            raise ValueError(f"Depends(scope=...) is 'request' or 'function', not {scope!r}")
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope = scope or "request"

    def __repr__(self):
        name = self.dependency if isinstance(self.dependency, str) else \
            getattr(self.dependency, "__qualname__", None) or repr(self.dependency)
        extra = "" if self.use_cache else ", use_cache=False"
        extra += "" if self.scope == "request" else f", scope={self.scope!r}"
        return f"{type(self).__name__}({name}{extra})"


cdef class Security(Depends):
    """Security(dependency, *, scopes=None, use_cache=True): Depends for a security
    scheme (catzilla.security), with the OAuth2 scopes the operation requires
    (documented in the OpenAPI security requirement)."""

    def __init__(self, dependency=None, *, scopes=None, bint use_cache=True):
        Depends.__init__(self, dependency, use_cache=use_cache)
        self.scopes = tuple(scopes or ())
        for s in self.scopes:
            if not isinstance(s, str):
                raise TypeError(f"Security scopes are strings, not {s!r}")


# ---------------------------------------------------------------------------
# background tasks

cdef class BackgroundTask:
    """BackgroundTask(func, *args, **kwargs): one function to run after the
    response (Starlette's class: Response(background=BackgroundTask(...)))."""

    def __init__(self, func, *args, **kwargs):
        if not callable(func):
            raise TypeError(f"a background task needs a callable, not {func!r}")
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.if_delivered = False

    @classmethod
    def if_delivered_only(cls, func, *args, **kwargs):
        """A task skipped when the response did not reach the client whole
        (a hang-up, a stream that failed)."""
        cdef BackgroundTask t = cls(func, *args, **kwargs)
        t.if_delivered = True
        return t

    def __repr__(self):
        return f"<BackgroundTask {_name(self.func)}{' if delivered' if self.if_delivered else ''}>"


cdef class BackgroundTasks:
    """FastAPI's BackgroundTasks: a parameter annotated with it gets a fresh one
    per request; what it collects runs once the response is sent, in order
    (async functions on the loop, def functions on the worker threads). Also
    a response's `background`. add_task: runs even when the client hung up;
    add_task_if_delivered: only when the response reached it whole."""

    def __init__(self, tasks=None):
        self.tasks = []
        for task in tasks or ():
            if not isinstance(task, BackgroundTask):
                raise TypeError(f"BackgroundTasks holds BackgroundTask objects, not {task!r}")
            self.tasks.append(task)

    def add_task(self, func, *args, **kwargs):
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    def add_task_if_delivered(self, func, *args, **kwargs):
        self.tasks.append(BackgroundTask.if_delivered_only(func, *args, **kwargs))

    def __len__(self):
        return len(self.tasks)

    def __repr__(self):
        return f"<BackgroundTasks {len(self.tasks)} tasks>"


def callable_name(obj):
    """A function's or a coroutine's qualified name, from its innermost
    enclosing function on ("Mailer.send", "send_mail"); the repr of anything
    else (a partial)."""
    name = getattr(obj, "__qualname__", None)
    return name.rpartition("<locals>.")[2] if isinstance(name, str) else repr(obj)


cdef str _name(object func):
    return callable_name(func)


# ---------------------------------------------------------------------------
# the end of a request

cdef class _Call:
    """fn(*args) for a worker thread, called as the pool calls an endpoint: call(request)."""
    cdef object fn
    cdef tuple args
    cdef dict kwargs

    def __call__(self, _request):
        return self.fn(*self.args, **self.kwargs)


cdef _Call _call(object fn, tuple args, dict kwargs):
    cdef _Call c = _Call.__new__(_Call)
    c.fn = fn
    c.args = args
    c.kwargs = kwargs
    return c


cdef bint finish_generator(object gen, object exc, str route) except -1:
    try:
        if exc is None:
            next(gen)
        else:
            gen.throw(exc)
    except StopIteration:
        return True
    except BaseException as raised:
        if raised is exc:
            return True                      # passed on: what `except: rollback; raise` does
        _log.error("the teardown of dependency %s for %s raised", _name(gen), route, exc_info=raised)
        return False
    gen.close()
    _log.error("dependency %s for %s yielded more than once", _name(gen), route)
    return False


cdef int finish_sync_exits(list exits, object exc, str route) except -1:
    """Resume the sync generators at the end of `exits` ((generator, is_async),
    in the order entered), last first, up to an async one (left in the list)."""
    while exits and not exits[len(exits) - 1][1]:     # (wraparound is off: no [-1])
        finish_generator(exits.pop()[0], exc, route)
    return 0


async def finish_exits(list exits, exc, str route):
    """Resume every generator of `exits`, last entered first: sync ones here, async ones awaited."""
    while exits:
        finish_sync_exits(exits, exc, route)
        if exits:
            await finish_async_generator(exits.pop()[0], exc, route)


async def finish_async_generator(agen, exc, str route):
    """finish_generator for an async generator dependency."""
    try:
        if exc is None:
            await agen.__anext__()
        else:
            await agen.athrow(exc)
    except StopAsyncIteration:
        return
    except BaseException as raised:
        if raised is not exc:
            _log.error("the teardown of dependency %s for %s raised", _name(agen), route, exc_info=raised)
        return
    await agen.aclose()
    _log.error("dependency %s for %s yielded more than once", _name(agen), route)


cdef class RequestExit:
    """What a request runs once its response is over (see the module docstring)."""

    def __cinit__(self):
        self.exits = []
        self.tasks = []

    cdef int enter(self, object gen, bint is_async) except -1:
        self.exits.append((gen, is_async))
        return 0

    cdef BackgroundTasks background_tasks(self):
        if self.background is None:
            self.background = BackgroundTasks()
        return self.background

    cdef bint idle(self):
        return self.lock is None and not self.exits and not self.tasks \
            and (self.background is None or not self.background.tasks)

    cdef int offloading(self) except -1:
        if self.lock is None:
            self.lock = threading.Lock()
        return 0

    cdef int begin_call(self) except -1:
        with self.lock:
            if self.closing:
                raise ClientDisconnect("the client closed the connection")
            self.running += 1
        return 0

    cdef int end_call(self) except -1:
        with self.lock:
            self.running -= 1
            if self.running or self.waiter is None:
                return 0
            loop, future = self.waiter
            self.waiter = None
        loop.call_soon_threadsafe(_wake, future)
        return 0

    cdef int add_tasks(self, object background) except -1:
        if isinstance(background, BackgroundTasks):
            self.tasks.extend((<BackgroundTasks>background).tasks)
        elif isinstance(background, BackgroundTask):
            self.tasks.append(background)
        elif background is not None:
            raise TypeError(f"background must be a BackgroundTask or BackgroundTasks, not {background!r}")
        return 0

    cdef bint sync_only(self):
        """Only sync `yield` dependencies to resume, no tasks: close_sync on a worker
        thread does it all, with no task on the loop."""
        if self.lock is not None or self.tasks or (self.background is not None and self.background.tasks):
            return False                     # a blocking endpoint to wait for, or tasks
        for gen, is_async in self.exits:
            if is_async:
                return False
        return True

    def close_sync(self):
        """close() for sync_only(), on a worker thread (exc: self.exc)."""
        exits = self.exits
        self.exits = []
        exc = self.exc
        self.exc = None
        finish_sync_exits(exits, exc, self.route)

    def description(self):
        """What close() runs, for the task's name: "background tasks audit,
        send_mail for POST /orders", or "teardown of dependencies for ..."."""
        funcs = [(<BackgroundTask>t).func for t in ((self.background.tasks if self.background is not None else [])
                                                     + self.tasks)]
        if not funcs:
            return f"teardown of dependencies for {self.route}"
        return (f"background task{'s' if len(funcs) > 1 else ''} "
                f"{', '.join([_name(f) for f in funcs])} for {self.route}")

    async def close(self, offload, exc, bint delivered):
        """Teardown, then the tasks. offload(call, request, params): the worker
        pool (Services.offload). exc: what ended the response, or None; an
        exception the endpoint raised wins over it."""
        cdef BackgroundTask task
        if self.lock is not None:
            # the client hung up while a blocking endpoint runs: it still uses
            # its dependencies, so they are torn down once it has returned
            waiting = None
            with self.lock:
                self.closing = True
                if self.running:
                    waiting = asyncio.get_running_loop().create_future()
                    self.waiter = (asyncio.get_running_loop(), waiting)
            if waiting is not None:
                await waiting
        exits = self.exits
        self.exits = []
        tasks = self.tasks
        self.tasks = []
        if self.background is not None:
            if self.exc is None:                 # FastAPI's: the parameter's tasks only when the endpoint returned
                tasks[:0] = self.background.tasks
            self.background = None
        if self.exc is not None:
            exc = self.exc
        self.exc = None
        while exits:
            gen, is_async = exits.pop()
            try:
                if is_async:
                    await finish_async_generator(gen, exc, self.route)
                else:
                    await offload(_call(_finish_generator, (gen, exc, self.route), {}), None, None)
            except asyncio.CancelledError:
                raise                            # the shutdown cut it (Services.cut_tasks says so)
            except Exception as raised:
                _log.error("the teardown of dependency %s for %s failed", _name(gen), self.route, exc_info=raised)
        for t in tasks:
            task = <BackgroundTask>t
            if task.if_delivered and not delivered:
                _log.info("background task %s for %s skipped: the response was not delivered",
                          _name(task.func), self.route)
                continue
            try:
                if inspect.iscoroutinefunction(task.func):
                    await task.func(*task.args, **task.kwargs)
                else:
                    result = await offload(_call(task.func, task.args, task.kwargs), None, None)
                    if inspect.isawaitable(result):
                        await result
            except Exception as raised:
                _log.error("background task %s for %s raised", _name(task.func), self.route, exc_info=raised)

    def __repr__(self):
        return f"<RequestExit {self.route} {len(self.exits)} exits, {len(self.tasks)} tasks>"


def _wake(future):
    if not future.done():
        future.set_result(None)


def _finish_generator(gen, exc, route):    # for a worker thread
    finish_generator(gen, exc, route)


cdef RequestExit request_exit(object req):
    cdef Request r = <Request>req
    cdef RequestExit ex = r.exit
    if ex is None:
        ex = RequestExit.__new__(RequestExit)
        ex.route = f"{r.method} {r.path}"
        r.exit = ex
    return ex


# ---------------------------------------------------------------------------
# 0.2.3's service container, mapped onto dependencies

cdef dict _services = {}                 # name -> (provider, scope)
cdef frozenset _SERVICE_SCOPES = frozenset(["singleton", "request", "scoped", "transient"])


def service(name=None, scope="singleton", dependencies=None):
    """@service("db", scope="request"): 0.2.3's service container, as dependencies.
    The decorated class or function is the provider; `Depends("db")` (or
    `inject("db")`) names it. scope: "singleton" -- one value for the process,
    made at first use (an app-scoped dependency); "request" (0.2.3's "scoped"
    too) -- one per request (a dependency with use_cache), and a generator
    provider is torn down after the response like any `yield` dependency;
    "transient" -- a new value wherever it is used (use_cache=False). The
    provider's own parameters are dependencies like an endpoint's
    (`def make_repo(db = Depends("db"))`). 0.2.3's `dependencies=[names]`:
    the provider is called with those services as keyword arguments.
    A name is looked up when a route using it is registered: register the
    service first."""
    if scope not in _SERVICE_SCOPES:
        raise ValueError(f"service scope is one of {', '.join(sorted(_SERVICE_SCOPES))}, not {scope!r}")
    if dependencies is not None and (isinstance(dependencies, str)
                                     or not all(isinstance(d, str) for d in dependencies)):
        raise TypeError("service(dependencies=...) is a list of service names")

    def decorator(factory):
        if not callable(factory):
            raise TypeError(f"@service needs a class or a function, not {factory!r}")
        key = name or getattr(factory, "__name__", None)
        if not isinstance(key, str) or not key:
            raise TypeError(f"@service: a name is needed for {factory!r}")
        if scope == "singleton" and (inspect.isgeneratorfunction(factory) or inspect.isasyncgenfunction(factory)):
            raise TypeError(f"@service({key!r}): a singleton is made once and never torn down; "
                            f"a `yield` provider needs scope='request'")
        _services[key] = (inject(*dependencies)(factory) if dependencies else factory,
                          "request" if scope == "scoped" else scope)
        return factory
    return decorator


def get_service(str name):
    """(provider, scope) of a service name; LookupError for an unknown one."""
    try:
        return _services[name]
    except KeyError:
        known = ", ".join(sorted(_services)) or "none registered"
        raise LookupError(f"no service named {name!r} (services: {known})") from None


def inject(*names):
    """@inject("db", "cache") on an endpoint or a provider: those keyword
    parameters are filled from the services of those names (0.2.3's
    decorator), as if each were `name = Depends("name")`."""
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"inject() takes service names, not {n!r}")

    def decorator(fn):
        marked = getattr(fn, "__catzilla_inject__", ())
        fn.__catzilla_inject__ = tuple(marked) + tuple(n for n in names if n not in marked)
        return fn
    return decorator
