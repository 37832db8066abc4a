"""Type stub for the compiled router (catzilla/router.pyx).

See the module docstring of router.pyx for the pattern syntax and the
matching precedence: literal > int > signed_int > float > signed_float > uuid >
str > path.
"""
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, final

from catzilla.params import EndpointPlan
from catzilla.dependencies import Depends

_F = TypeVar("_F", bound=Callable[..., Any])

KNOWN_METHODS: frozenset[str]

class RouteError(ValueError):
    """Bad pattern, method or name, or a conflict; raised when the route is defined
    (and by url_path_for when no route fits). The message names the path."""

@final
class Route:
    """One route, checked like Router.add checks it; read-only once made."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: str | Iterable[str] = ("GET",),
        *,
        name: str | None = None,
        blocking: bool | None = None,
        websocket: bool = False,
        **options: Any,
    ) -> None:
        """``options``: response_model, status_code, responses, response_class,
        tags, summary, description, deprecated, operation_id, include_in_schema."""

    @property
    def path(self) -> str: ...
    @property
    def methods(self) -> tuple[str, ...]: ...
    @property
    def endpoint(self) -> Callable[..., Any]: ...
    @property
    def is_async(self) -> bool: ...
    @property
    def blocking(self) -> bool | None:
        """True: the (def) endpoint runs on the server's worker threads; False:
        inline on the loop; None: as the app's ``blocking_handlers`` setting says."""
    @property
    def params_as_kwargs(self) -> bool:
        """True when ``endpoint(request, **params)`` binds against the endpoint's
        signature (parameters named like every path param, or ``**kwargs``).
        Always False for a route without parameters."""
    @property
    def param_names(self) -> tuple[str, ...]: ...
    @property
    def param_converters(self) -> tuple[str, ...]:
        """The converter name of each path parameter, in param_names' order."""
    @property
    def template(self) -> str:
        """The path with its converters left out: "/items/{id:int}" -> "/items/{id}"."""
    @property
    def name(self) -> str: ...
    @property
    def plan(self) -> EndpointPlan | None:
        """The typed endpoint's plan (catzilla.params), None for an untyped one."""
    @property
    def websocket(self) -> bool: ...

@final
class Match:
    """What Router.find returns (made only by find)."""

    @property
    def route(self) -> Route | None:
        """The route answering the request; None when no route does."""
    @property
    def params(self) -> dict[str, Any] | None:
        """The converted path parameters; None for a route without any (or no route)."""
    @property
    def allowed(self) -> tuple[str, ...]:
        """Without a route: the methods the path accepts, () meaning 404 and
        anything else 405 with Allow. () when there is a route."""

class Router:
    def __init__(self, prefix: str = "", *, routes: Iterable[Route] | None = None,
                 dependencies: Iterable[Depends] | None = None) -> None: ...
    @property
    def prefix(self) -> str: ...
    @property
    def dependencies(self) -> tuple[Depends, ...]:
        """Run for every route added here or included (outermost first), values not passed."""
    @property
    def routes(self) -> list[Route]: ...
    def add(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: str | Iterable[str] = ("GET",),
        *,
        name: str | None = None,
        blocking: bool | None = None,
        **options: Any,
    ) -> Route: ...
    def add_route(self, route: Route) -> Route:
        """Register ``route`` under this router's prefix; returns the registered
        Route (``route`` itself without a prefix, else a prefixed copy)."""
    def route(
        self,
        path: str,
        methods: str | Iterable[str] = ("GET",),
        *,
        name: str | None = None,
        blocking: bool | None = None,
        **options: Any,
    ) -> Callable[[_F], _F]: ...
    def get(self, path: str, **options: Any) -> Callable[[_F], _F]: ...
    def post(self, path: str, **options: Any) -> Callable[[_F], _F]: ...
    def put(self, path: str, **options: Any) -> Callable[[_F], _F]: ...
    def patch(self, path: str, **options: Any) -> Callable[[_F], _F]: ...
    def delete(self, path: str, **options: Any) -> Callable[[_F], _F]: ...
    def head(self, path: str, **options: Any) -> Callable[[_F], _F]: ...
    def options(self, path: str, **options: Any) -> Callable[[_F], _F]: ...
    def include(self, other: Router, prefix: str = "", *, dependencies: Iterable[Depends] | None = None) -> None:
        """Copy every route of ``other`` (already carrying other's prefix and
        dependencies) under this router's prefix + ``prefix``, this router's
        dependencies then ``dependencies`` before theirs; all or nothing."""
    def find(self, method: str, path: str) -> Match:
        """The Match for ``method`` and ``path`` (already percent-decoded)."""
    def url_path_for(self, name: str, /, **params: Any) -> str: ...
