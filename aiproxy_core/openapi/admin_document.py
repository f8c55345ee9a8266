"""The Admin API's OpenAPI 3.1 document, generated from the app's routes.

Core routes are described in :mod:`.admin_operations` (keyed by endpoint function); plugins
describe the routes they add with the ``admin_openapi`` hook; a route nobody describes still
appears with its path, methods and path parameters. The document depends only on the installed
code and the config, so it is built once per process and kept.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, Iterable

from starlette.routing import BaseRoute, Route

from ..plugins.hook_calls import call_now
from .admin_operations import Access, CoreOperation, core_operations
from .components import ERROR_SCHEMA, error_response, json_content, resolve_models

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["METHODS", "admin_document", "operation_id", "path_parameters"]

logger = logging.getLogger("aiproxy.openapi")

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?}")
TENANT_PREFIX = "/api/v1/tenants/{tenant_id}"

#: Errors any call may meet, by status: the component response each refers to.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Malformed input: `invalid_json`, `missing_body`, `invalid_body`, `bad_request`."),
    401: ("Unauthorized", "Missing or wrong credentials: `missing_api_key`, `invalid_api_key`, `missing_admin_token`, `invalid_admin_token`."),
    403: ("Forbidden", "The key may not do this: `consumer_key_not_allowed`."),
    404: ("NotFound", "Nothing has this id: `tenant_not_found`, `rule_not_found`, `consumer_not_found`, `key_not_found`, ..."),
    409: ("Conflict", "A uniqueness rule: `subdomain_taken`, `tenant_name_taken`, `rule_conflict`."),
    413: ("PayloadTooLarge", "The body is over `server.max_admin_body_bytes`: `body_too_large`."),
    415: ("UnsupportedMediaType", "The body is not `application/json`: `unsupported_media_type`."),
    421: ("MisdirectedRequest", "The Host is not in `server.admin_hostnames`: `host_not_allowed`."),
    422: ("ValidationFailed", "Field-level problems, named in `details`: `validation_error`, `unknown_plugin`, `invalid_plugin_settings`, ..."),
    429: ("TooManyRequests", "Too many wrong tokens or keys from this address: `too_many_auth_failures` (with Retry-After)."),
    503: ("ServiceUnavailable", "The store cannot be reached: `store_unavailable` (with Retry-After); nothing was read or changed."),
}
_ALWAYS = (421, 503)
_WITH_CREDENTIALS = (401, 429)
_WITH_BODY = (400, 413, 415, 422)

_SECURITY: dict[Access, list[dict[str, list[str]]]] = {
    "open": [],
    "admin": [{"adminToken": []}, {"apiKeyHeader": []}],
    "tenant": [{"tenantKey": []}, {"adminToken": []}, {"apiKeyHeader": []}],
}

_DESCRIPTION = """The gateway's Admin API: tenants, rules, consumers, keys, and the routes installed plugins add.

JSON in, JSON out. Tenant-level calls need `server.admin_token` as `Authorization: Bearer` when one is set;
calls inside a tenant (`/api/v1/tenants/{tenant_id}/...`) need the admin token or one of that tenant's keys
(`Authorization: Bearer <key>` or `X-API-Key: <key>`). Every answer carries `X-Request-ID`; every error is
the envelope `{"error": {"type", "code", "message", "request_id"}}`. Reading this document needs no
credentials: it describes the API, not any tenant's data."""


def operation_id(method: str, path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{method}_{path}").strip("_")


def path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _PARAM.findall(path)
    ]


def _openapi_path(path: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _error_refs(statuses: Iterable[int]) -> dict[str, Any]:
    return {str(status): {"$ref": f"#/components/responses/{_ERRORS[status][0]}"} for status in sorted(set(statuses)) if status in _ERRORS}


def _core_operation(method: str, path: str, spec: CoreOperation) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id(method, path),
        "summary": spec.summary,
        "tags": [spec.tag],
        "security": _SECURITY[spec.access],
    }
    if spec.description:
        operation["description"] = spec.description
    if parameters := path_parameters(path):
        operation["parameters"] = parameters
    errors = [*_ALWAYS, *spec.errors]
    if spec.access != "open":
        errors += _WITH_CREDENTIALS
    if spec.access == "tenant":
        errors += [403, 404]
    if spec.body is not None:
        operation["requestBody"] = {"required": not spec.body_optional, "content": json_content(spec.body)}
        errors += _WITH_BODY
    success: dict[str, Any] = {"description": "Done." if spec.answer is None else "The answer."}
    if spec.answer is not None:
        success["content"] = {spec.media_type: {"schema": spec.answer}}
    operation["responses"] = {str(spec.status): success, **_error_refs(errors)}
    return operation


def _plugin_operation(method: str, path: str, plugin: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """A plugin's description of its route, with what the core knows filled in; a minimal one
    (path, method, parameters) when the plugin gave none."""
    operation = dict(given or {})
    operation.setdefault("operationId", operation_id(method, path))
    operation.setdefault("tags", [plugin])
    if not given:
        operation["summary"] = f"{method.upper()} {path}"
        operation["description"] = f"Added by the plugin `{plugin}`, which does not describe it (see its README)."
    if "parameters" not in operation and (parameters := path_parameters(path)):
        operation["parameters"] = parameters
    tenant_route = path.startswith(TENANT_PREFIX)
    operation.setdefault("security", _SECURITY["tenant" if tenant_route else "admin"])
    responses = dict(operation.get("responses") or {"default": {"description": "See the plugin's documentation."}})
    # A plugin's parameters are its own to check (a period, a date): 400 may come from any of them.
    errors = [*_ALWAYS, 400, *(_WITH_CREDENTIALS if operation["security"] else ()), *((403, 404) if tenant_route else ())]
    if "requestBody" in operation:
        errors += _WITH_BODY
    for status, ref in _error_refs(errors).items():
        responses.setdefault(status, ref)
    operation["responses"] = responses
    return operation


def _plugin_descriptions(gateway: Gateway) -> dict[str, dict[str, Any]]:
    """Each plugin's ``admin_openapi`` answer: plugin -> {path: path item}. One that fails is logged and skipped."""
    described: dict[str, dict[str, Any]] = {}
    for impl in gateway.registry.manager.hook.admin_openapi.get_hookimpls():
        try:
            items = call_now(impl, {"services": gateway.services}) or {}
            if not isinstance(items, dict):
                raise TypeError(f"admin_openapi must return a dict of path items, not {type(items).__name__}")
        except Exception as exc:
            logger.warning("openapi: the plugin %r could not describe its admin routes: %s: %s", impl.plugin_name, type(exc).__name__, exc)
            continue
        items = {_openapi_path(str(path)): item for path, item in items.items() if isinstance(item, dict)}
        try:  # alone first, so one plugin's unusable model or value cannot break the whole document
            json.dumps(resolve_models({"paths": items}))
        except Exception as exc:
            logger.warning("openapi: the plugin %r described its admin routes with something that is not a schema: %s: %s",
                           impl.plugin_name, type(exc).__name__, exc)  # fmt: skip
            continue
        described[impl.plugin_name] = items
    return described


def admin_document(gateway: Gateway, routes: Iterable[tuple[str | None, BaseRoute]]) -> dict[str, Any]:
    """The document of ``routes``: (plugin name or None for the core's, route) pairs."""
    from .. import __version__

    core = core_operations()
    described = _plugin_descriptions(gateway)
    paths: dict[str, dict[str, Any]] = {}
    for plugin, route in routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        path = _openapi_path(route.path)
        item = paths.setdefault(path, {})
        for method in sorted(m.lower() for m in (route.methods or ()) if m.lower() in METHODS and m != "HEAD"):
            if plugin is None:
                spec = core.get(route.endpoint)
                if spec is None:
                    raise LookupError(f"core route {method.upper()} {path} has no description in openapi/admin_operations.py")
                item[method] = _core_operation(method, path, spec)
            else:
                given = described.get(plugin, {}).get(path, {}).get(method)
                item[method] = _plugin_operation(method, path, plugin, given if isinstance(given, dict) else None)
    paths = {path: item for path, item in sorted(paths.items()) if item}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "aiproxy Admin API", "version": __version__, "description": _DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "responses": {name: error_response(text) for name, text in _ERRORS.values()},
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "`server.admin_token` (when the config sets one)."},
                "tenantKey": {"type": "http", "scheme": "bearer", "description": "A key of the path's tenant (not a consumer's key)."},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The admin token or a tenant key, in X-API-Key."},
            },
        },
    }
    return resolve_models(document)
