"""Type stub for catzilla/dependencies.pyx: Depends, background tasks, 0.2.3's services."""
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["Depends", "Security", "BackgroundTask", "BackgroundTasks", "RequestExit", "service", "inject",
           "get_service", "callable_name"]

class Depends:
    """A parameter whose value is what `dependency` returns (yields) for the request."""
    def __init__(self, dependency: Callable[..., Any] | str | None = None, *, use_cache: bool = True,
                 scope: Literal["request", "function"] | None = None) -> None: ...
    @property
    def dependency(self) -> Callable[..., Any] | str | None: ...
    @property
    def use_cache(self) -> bool: ...
    @property
    def scope(self) -> Literal["request", "function"]: ...

class Security(Depends):
    """Depends for a security scheme, with the OAuth2 scopes the operation requires."""
    def __init__(self, dependency: Callable[..., Any] | None = None, *, scopes: Iterable[str] | None = None,
                 use_cache: bool = True) -> None: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...

class BackgroundTask:
    """One function to run after the response (Response(background=...))."""
    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None: ...
    @classmethod
    def if_delivered_only(cls, func: Callable[..., Any], *args: Any, **kwargs: Any) -> "BackgroundTask":
        """A task skipped when the response did not reach the client whole."""
    @property
    def func(self) -> Callable[..., Any]: ...
    @property
    def args(self) -> tuple[Any, ...]: ...
    @property
    def kwargs(self) -> dict[str, Any]: ...
    @property
    def if_delivered(self) -> bool: ...

class BackgroundTasks:
    """FastAPI's BackgroundTasks: run once the response is over, in order."""
    def __init__(self, tasks: Iterable[BackgroundTask] | None = None) -> None: ...
    @property
    def tasks(self) -> list[BackgroundTask]: ...
    def add_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Runs even when the client hung up."""
    def add_task_if_delivered(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Skipped when the response did not reach the client whole."""
    def __len__(self) -> int: ...

class RequestExit:
    """What a request runs once its response is over (teardown, then tasks)."""
    @property
    def route(self) -> str: ...
    exc: BaseException | None
    def description(self) -> str: ...
    def close_sync(self) -> None:
        """close() when only sync generators are to be resumed, on a worker thread."""
    async def close(self, offload: Callable[..., Awaitable[Any]], exc: BaseException | None,
                    delivered: bool) -> None: ...

def callable_name(obj: object) -> str:
    """A function's qualified name from its innermost enclosing function on; else repr."""

async def finish_exits(exits: list[tuple[Any, bool]], exc: BaseException | None, route: str) -> None:
    """Resume every generator of exits, last entered first: sync ones inline, async ones awaited."""

async def finish_async_generator(agen: Any, exc: BaseException | None, route: str) -> None: ...

def service(name: str | None = None, scope: Literal["singleton", "request", "scoped", "transient"] = "singleton",
            dependencies: Iterable[str] | None = None) -> Callable[[_F], _F]:
    """0.2.3's service container, mapped onto dependencies."""

def get_service(name: str) -> tuple[Callable[..., Any], Literal["singleton", "request", "transient"]]:
    """(provider, scope) of a service name; LookupError for an unknown one."""

def inject(*names: str) -> Callable[[_F], _F]:
    """Fill those keyword parameters from the services of those names."""
