"""The OpenAPI document of an app, read from its routes' plans, and the Swagger UI page.

`get_openapi(title=..., version=..., routes=app.router.routes)` describes every HTTP
route: the parameters and bodies its plan validates (`Route.plan`, an `EndpointPlan`:
what is validated is what is documented), the answers the plan encodes, the 422 of
a failed validation. A route without a plan (an untyped handler) is documented with
its path parameters and a bare 200: it is part of the API, only its shapes are
unknown. Static mounts and WebSocket routes (never in `routes`) are left out.

A typed stream (a generator handler with typed items: `application/jsonl` or
`text/event-stream`) is described with OpenAPI 3.2's `itemSchema`, so a document
with one is a 3.2.0 document; otherwise 3.1.0. Asked for 3.1 anyway, such a stream
is documented without its items (a 3.1 document never carries 3.2 keywords).
"""
from __future__ import annotations

import html
import http
import inspect
import json
import re
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import msgspec

from catzilla.models import json_schema
from catzilla.response import HTMLResponse, JSONResponse, PlainTextResponse
from catzilla.router import Route
from catzilla.security import SecurityBase
from catzilla.settings import OPENAPI_VERSION, SWAGGER_CSS_URL, SWAGGER_JS_URL
from catzilla.sse import EventSourceResponse
from catzilla.staticfiles import StaticFiles

REF_TEMPLATE = "#/components/schemas/{name}"

# FastAPI's shapes for the default 422 answer ({"detail": [error, ...]}), with
# the keys our errors carry ("input" always, "ctx" for a constraint).
VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {"title": "Location", "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"},
    },
    "required": ["loc", "msg", "type"],
}
HTTP_VALIDATION_ERROR = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {"title": "Detail", "type": "array", "items": {"$ref": REF_TEMPLATE.format(name="ValidationError")}},
    },
}

# what each router converter accepts, as a schema (router.pyx: int and float take no sign)
_CONVERTER_SCHEMAS: Dict[str, Dict[str, Any]] = {
    "str": {"type": "string", "minLength": 1},
    "path": {"type": "string", "minLength": 1},
    "int": {"type": "integer", "minimum": 0},
    "signed_int": {"type": "integer"},
    "float": {"type": "number", "minimum": 0},
    "signed_float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}
# Param marker attribute -> JSON Schema keyword (min/max_length: by the schema's type)
_BOUNDS = (("gt", "exclusiveMinimum"), ("ge", "minimum"), ("lt", "exclusiveMaximum"),
           ("le", "maximum"), ("multiple_of", "multipleOf"), ("pattern", "pattern"))
_NO_BODY = {204, 205, 304}
# the methods an OpenAPI 3.1 path item has (3.2 documents others under additionalOperations)
_PATH_ITEM_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}
# response_class -> the media type documented for the 2xx answer (others: no content documented)
_MEDIA_TYPES = ((EventSourceResponse, "text/event-stream"), (JSONResponse, "application/json"),
                (HTMLResponse, "text/html"), (PlainTextResponse, "text/plain"))
_NO_DEFAULT = object()




class _Schemas:
    """The schemas one document needs, made in one call to the engine (so two
    models of the same name get distinct component names). `want(type)` returns
    an empty dict that `resolve()` fills in place, then applies the param's constraints."""

    def __init__(self) -> None:
        self.types: List[Any] = []
        self.slots: List[Tuple[Dict[str, Any], int, Any, Any]] = []
        self.components: Dict[str, Any] = {}

    def want(self, tp: Any, info: Any = None, default: Any = _NO_DEFAULT) -> Dict[str, Any]:
        slot: Dict[str, Any] = {}
        try:
            index = self.types.index(tp)
        except ValueError:              # types need not be hashable (Annotated[...] with a list)
            index = len(self.types)
            self.types.append(tp)
        self.slots.append((slot, index, info, default))
        return slot

    def resolve(self) -> Dict[str, Any]:
        try:
            schemas, self.components = json_schema(self.types, ref_template=REF_TEMPLATE)
        except (TypeError, ValueError):
            # one type the engine cannot describe must not hide the rest: one by one
            schemas = []
            for tp in self.types:
                try:
                    [schema], components = json_schema([tp], ref_template=REF_TEMPLATE)
                except (TypeError, ValueError) as exc:
                    warnings.warn(f"OpenAPI: no JSON Schema for {tp!r} ({exc}); documented as any value",
                                  stacklevel=2)
                    schema, components = {}, {}
                schemas.append(schema)
                self.components.update(components)
        for slot, index, info, default in self.slots:
            slot.update(json.loads(json.dumps(schemas[index])))     # each slot its own copy
            if info is not None:
                _constrain(slot, info)
            if default is not _NO_DEFAULT:
                slot["default"] = default
        return self.components


def _constrain(schema: Dict[str, Any], info: Any) -> None:
    """The marker's constraints and annotations on a parameter's schema: on each
    non-null branch of an Optional's anyOf; a list's value bounds on its items
    (each value is checked), its lengths on the list."""
    branches = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"] or [schema]
    for branch in branches:
        array = branch.get("type") == "array"
        values = branch["items"] if array and isinstance(branch.get("items"), dict) else branch
        for attr, keyword in _BOUNDS:
            value = getattr(info, attr, None)
            if value is not None:
                values[keyword] = value
        for attr, keyword in (("min_length", "minItems" if array else "minLength"),
                              ("max_length", "maxItems" if array else "maxLength")):
            value = getattr(info, attr, None)
            if value is not None:
                branch[keyword] = value
    title = getattr(info, "title", None)
    if title is not None:
        schema["title"] = title
    examples = getattr(info, "examples", None)
    if examples is not None and _builtin(list(examples)) is not _NO_DEFAULT:
        schema["examples"] = _builtin(list(examples))
    extra = getattr(info, "json_schema_extra", None)
    if isinstance(extra, dict) and _builtin(extra) is not _NO_DEFAULT:
        schema.update(_builtin(extra))


def _builtin(value: Any) -> Any:
    """A default as JSON, or _NO_DEFAULT when it has no JSON form."""
    try:
        return msgspec.to_builtins(value)
    except (TypeError, ValueError):
        return _NO_DEFAULT


def _response_media_type(response_class: Any) -> Optional[str]:
    """What a route's response_class answers with; None when it is no fixed type."""
    if response_class is None:
        return "application/json"
    for kind, media in _MEDIA_TYPES:
        if isinstance(response_class, type) and issubclass(response_class, kind):
            return media
    return None


def _description(endpoint: Any) -> Optional[str]:
    doc = inspect.getdoc(endpoint) if inspect.isfunction(endpoint) or inspect.ismethod(endpoint) else None
    # FastAPI's convention: a form feed ends what the document shows
    return doc.split("\f", 1)[0].strip() or None if doc else None


def _status_text(code: str) -> str:
    try:
        return http.HTTPStatus(int(code)).phrase
    except ValueError:
        return "Response" if code == "default" else "Other responses"


def _dependants(plan: Any) -> List[Any]:
    """Every dependency of a plan, depth first (a dependency's own before it)."""
    out: List[Any] = []
    for dep in plan.dependencies:
        out.extend(_dependants(dep.plan))
        out.append(dep)
    return out


def _specs(plan: Any) -> List[Any]:
    """The parameters a request is checked against: its dependencies', then the
    endpoint's own, each (source, key) once (FastAPI's flattening)."""
    seen = set()
    out = []
    for p in [p for dep in _dependants(plan) for p in dep.plan.params] + list(plan.params):
        if (p.source, p.key) not in seen:
            seen.add((p.source, p.key))
            out.append(p)
    return out


class _Builder:
    def __init__(self, openapi_version: Optional[str], routes: Sequence[Route]) -> None:
        self.routes = [r for r in routes if not isinstance(r.endpoint, StaticFiles)]
        streams = any(r.plan is not None and r.plan.stream is not None for r in self.routes)
        self.version = openapi_version or ("3.2.0" if streams else "3.1.0")
        if not OPENAPI_VERSION.fullmatch(self.version):
            raise ValueError(f"openapi_version must be 3.1.x or 3.2.x, not {self.version!r}")
        self.item_schemas = self.version.startswith("3.2")
        self.schemas = _Schemas()
        self.operation_ids: Dict[str, int] = {}
        self.validation_errors = False
        self.converter_bounds: List[Tuple[Dict[str, Any], Dict[str, Any]]] = []
        self.body_components: Dict[str, Any] = {}
        self.security_schemes: Dict[str, Dict[str, Any]] = {}

    def paths(self) -> Dict[str, Any]:
        paths: Dict[str, Any] = {}
        for route in self.routes:
            plan = route.plan
            op = plan.operation if plan is not None else {}
            if op.get("include_in_schema", True) is False:
                continue
            item = paths.setdefault(route.template, {})
            for method in route.methods:
                if method in _PATH_ITEM_METHODS:
                    item[method.lower()] = self.operation(route, plan, op, method)
                elif self.item_schemas:     # 3.2: any other method (CONNECT, WebDAV's) by its name
                    item.setdefault("additionalOperations", {})[method] = self.operation(route, plan, op, method)
        return {path: item for path, item in paths.items() if item}

    def operation(self, route: Route, plan: Any, op: Dict[str, Any], method: str) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        if op.get("tags"):
            out["tags"] = list(op["tags"])
        out["summary"] = op.get("summary") or route.name.replace("_", " ").title()
        description = op.get("description") or _description(route.endpoint)
        if description:
            out["description"] = description
        out["operationId"] = self.operation_id(route, op, method)
        specs = _specs(plan) if plan is not None else []
        parameters = self.parameters(route, specs)
        if parameters:
            out["parameters"] = parameters
        security = self.security(plan) if plan is not None else []
        if security:
            out["security"] = security
        body = self.request_body(plan, out["operationId"]) if plan is not None else None
        if body is not None:
            out["requestBody"] = body
        # a 422 only where the plan checks something (not for path parameters it passes through)
        validated = plan is not None and bool(specs or plan.body is not None)
        out["responses"] = self.responses(plan, op, validated=validated)
        if op.get("deprecated"):
            out["deprecated"] = True
        return out

    def operation_id(self, route: Route, op: Dict[str, Any], method: str) -> str:
        given = op.get("operation_id")
        base = given or re.sub(r"\W", "_", f"{route.name}{route.template}") + "_" + method.lower()
        n = self.operation_ids.get(base, 0) + 1
        self.operation_ids[base] = n
        if n == 1:
            return base
        if given:
            warnings.warn(f"duplicate operation_id {given!r} ({method} {route.path}): "
                          f"documented as {given}_{n}", stacklevel=2)
        while f"{base}_{n}" in self.operation_ids:
            n += 1
        self.operation_ids[f"{base}_{n}"] = 1
        return f"{base}_{n}"

    def security(self, plan: Any) -> List[Dict[str, List[str]]]:
        """The operation's security requirements: one per security scheme among
        its dependencies (any depth), with the scopes Security() asked for."""
        required: Dict[str, List[str]] = {}
        for dep in _dependants(plan):
            scheme = dep.call
            if isinstance(scheme, SecurityBase):
                self.security_schemes[scheme.scheme_name] = dict(scheme.model)
                scopes = required.setdefault(scheme.scheme_name, [])
                scopes.extend(s for s in dep.scopes if s not in scopes)
        return [{name: scopes} for name, scopes in required.items()]

    def parameters(self, route: Route, checked: List[Any]) -> List[Dict[str, Any]]:
        """The route's path parameters and the checked ones (`checked`: _specs of its plan)."""
        specs = [p for p in checked if p.source in ("path", "query", "header", "cookie")]
        path_specs = {p.key: p for p in specs if p.source == "path"}
        out = []
        for name, converter in zip(route.param_names, route.param_converters):
            spec = path_specs.get(name)
            if spec is None:
                out.append({"name": name, "in": "path", "required": True,
                            "schema": dict(_CONVERTER_SCHEMAS[converter])})
                continue
            param = self.parameter(spec)
            param["required"] = True
            base = _CONVERTER_SCHEMAS[converter]
            schema = param["schema"]
            # the router's own bounds stay true of what reaches the handler: resolved later
            self.converter_bounds.append((schema, base))
            out.append(param)
        for spec in specs:
            if spec.source != "path" and getattr(spec.info, "include_in_schema", True) is not False:
                out.append(self.parameter(spec))
        return out

    def parameter(self, spec: Any) -> Dict[str, Any]:
        info = spec.info
        default = _NO_DEFAULT if spec.required or spec.default is None else _builtin(spec.default)
        param: Dict[str, Any] = {"name": spec.key, "in": spec.source, "required": bool(spec.required),
                                 "schema": self.schemas.want(spec.annotation, info, default)}
        description = getattr(info, "description", None)
        if description:
            param["description"] = description
        if getattr(info, "deprecated", None):
            param["deprecated"] = True
        return param

    def request_body(self, plan: Any, operation_id: str) -> Optional[Dict[str, Any]]:
        # an embedded JSON body or a form: an object of its fields, a component
        # named like FastAPI's (Body_<operationId>)
        name = f"Body_{operation_id}"
        if plan.body is not None:
            body = plan.body
            if body.embed:
                schema, required = self.fields_component(name, body.params)
            else:
                schema, required = self.schemas.want(body.annotation, None), bool(body.required)
            out: Dict[str, Any] = {"content": {body.media_type or "application/json": {"schema": schema}},
                                   "required": required}
            # a whole-body model parameter's marker (Body(description=...)) describes the body
            info = body.params[0].info if not body.embed and len(body.params) == 1 else None
            description = getattr(info, "description", None)
            if description:
                out["description"] = description
            return out
        fields = [p for p in plan.params if p.source in ("form", "file")]
        if not fields:
            return None
        schema, required = self.fields_component(name, fields)
        media = "multipart/form-data" if any(p.source == "file" for p in fields) \
            else "application/x-www-form-urlencoded"
        return {"content": {media: {"schema": schema}}, "required": required}

    def fields_component(self, name: str, specs: Sequence[Any]) -> Tuple[Dict[str, Any], bool]:
        """(a $ref to the object component `name` of these fields, whether one is required)."""
        properties: Dict[str, Any] = {}
        required = []
        for spec in specs:
            if getattr(spec.info, "include_in_schema", True) is False:
                continue
            if spec.source == "file":
                schema: Dict[str, Any] = {"type": "string", "format": "binary"}
                if spec.is_list:
                    schema = {"type": "array", "items": schema}
            else:
                default = _NO_DEFAULT if spec.required or spec.default is None else _builtin(spec.default)
                schema = self.schemas.want(spec.annotation, spec.info, default)
            description = getattr(spec.info, "description", None)
            if description:
                schema["description"] = description
            properties[spec.key] = schema
            if spec.required:
                required.append(spec.key)
        component: Dict[str, Any] = {"title": name, "type": "object", "properties": properties}
        if required:
            component["required"] = required
        self.body_components[name] = component
        return {"$ref": REF_TEMPLATE.format(name=name)}, bool(required)

    def responses(self, plan: Any, op: Dict[str, Any], validated: bool) -> Dict[str, Any]:
        status = str(op.get("status_code") or 200)
        success: Dict[str, Any] = {"description": "Successful Response"}
        if plan is not None and int(status) not in _NO_BODY:
            content = self.success_content(plan, op.get("response_class"))
            if content:
                success["content"] = content
        out: Dict[str, Any] = {status: success}
        for code, extra in (op.get("responses") or {}).items():
            code = str(code).upper() if str(code).lower().endswith("xx") else str(code)
            response = dict(out.get(code) or {"description": _status_text(code)})
            extra = dict(extra or {})
            model = extra.pop("model", None)
            response.update(extra)
            if model is not None:
                content = dict(response.get("content") or {})
                media = dict(content.get("application/json") or {})
                media["schema"] = self.schemas.want(model)
                content["application/json"] = media
                response["content"] = content
            out[code] = response
        if validated and "422" not in out:
            self.validation_errors = True
            out["422"] = {"description": "Validation Error", "content": {"application/json": {
                "schema": {"$ref": REF_TEMPLATE.format(name="HTTPValidationError")}}}}
        return out

    def success_content(self, plan: Any, response_class: Any) -> Optional[Dict[str, Any]]:
        if plan.stream is not None:
            kind, item = plan.stream
            if kind == "sse":
                media, items = "text/event-stream", self.event_schema(item)
            else:
                media, items = "application/jsonl", self.schemas.want(item)
            return {media: {"itemSchema": items} if self.item_schemas else {}}
        if plan.response_type is None:
            return None
        answered = _response_media_type(response_class)
        if answered is None:
            return None
        return {answered: {"schema": self.schemas.want(plan.response_type)}}

    def event_schema(self, item: Any) -> Dict[str, Any]:
        """One server-sent event whose data is the item as JSON (OpenAPI 3.2's
        text/event-stream item: the fields of an event)."""
        data: Dict[str, Any] = {"type": "string"}
        if item is not str:
            data.update(contentMediaType="application/json", contentSchema=self.schemas.want(item))
        return {"type": "object", "required": ["data"], "properties": {
            "data": data, "event": {"type": "string"}, "id": {"type": "string"},
            "retry": {"type": "integer", "minimum": 0}}}

    def components(self) -> Dict[str, Any]:
        schemas = dict(self.schemas.resolve())
        for schema, base in self.converter_bounds:
            for keyword, value in base.items():
                if keyword not in schema and schema.get("type") == base["type"] and keyword != "type":
                    schema[keyword] = value
        schemas.update(self.body_components)
        if self.validation_errors:
            schemas.setdefault("ValidationError", VALIDATION_ERROR)
            schemas.setdefault("HTTPValidationError", HTTP_VALIDATION_ERROR)
        return dict(sorted(schemas.items()))


def get_openapi(*, title: str, version: str, routes: Iterable[Route], openapi_version: Optional[str] = None,
                summary: Optional[str] = None, description: Optional[str] = None,
                servers: Optional[Sequence[Dict[str, Any]]] = None,
                tags: Optional[Sequence[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The OpenAPI document (a dict of JSON values) of `routes` (FastAPI's name and
    keywords). openapi_version None: "3.2.0" when a route streams typed items, else "3.1.0"."""
    builder = _Builder(openapi_version, list(routes))
    info: Dict[str, Any] = {"title": title, "version": version}
    if summary:
        info["summary"] = summary
    if description:
        info["description"] = description
    document: Dict[str, Any] = {"openapi": builder.version, "info": info}
    if servers:
        document["servers"] = [dict(s) for s in servers]
    document["paths"] = builder.paths()
    components: Dict[str, Any] = {}
    schemas = builder.components()
    if schemas:
        components["schemas"] = schemas
    if builder.security_schemes:
        components["securitySchemes"] = dict(sorted(builder.security_schemes.items()))
    if components:
        document["components"] = components
    if tags:
        document["tags"] = [dict(t) for t in tags]
    return document


def get_swagger_ui_html(*, openapi_url: str, title: str, swagger_js_url: str = SWAGGER_JS_URL,
                        swagger_css_url: str = SWAGGER_CSS_URL) -> HTMLResponse:
    """The Swagger UI page for the document at `openapi_url` (FastAPI's name)."""
    # json.dumps for the script, with '<' escaped so no "</script>" ends it early
    url = json.dumps(openapi_url).replace("<", "\\u003c")
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{html.escape(swagger_css_url)}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{html.escape(swagger_js_url)}"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: {url},
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
</script>
</body>
</html>
"""
    return HTMLResponse(page)
