"""A tenant's OpenAPI 3.1 document on the Proxy API (``GET /-/openapi.json``), from its rules.

Each rule is a path prefix forwarding to an OpenAI-compatible origin (or, with ``client_format:
anthropic``, serving Anthropic's Messages API). The document lists the operations a consumer calls
under each prefix, with their request and answer schemas, the key schemes, the gateway's errors,
and what the plugins of the rule's chain add through the ``tenant_openapi`` hook (errors,
headers, ``x-`` extensions such as billing's plans).

What it never shows (docs/security.md): a rule's targets, upstream headers, plugin settings,
ids, or anything of another tenant. Only the fields named here are read from a rule (path,
methods, client format); the servers entry is relative, never built from the request's Host.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..chain.compiled import chain_entries
from ..errors import GatewayError
from ..plugins.hook_calls import call_and_await
from .admin_document import operation_id
from .api_shapes import SHAPES, STREAM_NOTE
from .components import ERROR_SCHEMA, error_response

if TYPE_CHECKING:
    from ..gateway import Gateway
    from ..models import Rule
    from ..proxy.routing import TenantView

__all__ = ["HOOK_TIMEOUT", "tenant_document"]

logger = logging.getLogger("aiproxy.openapi")

#: Seconds one plugin's ``tenant_openapi`` may take before the document is answered without it.
HOOK_TIMEOUT = 5.0


@dataclass(frozen=True)
class _Operation:
    suffix: str
    method: str
    summary: str
    request: str | None
    answer: str
    streams: bool = False


_OPENAI = (
    _Operation("/chat/completions", "post", "Create a chat completion (plain or streamed)", "ChatCompletionRequest", "ChatCompletion", True),
    _Operation("/embeddings", "post", "Create embeddings", "EmbeddingRequest", "EmbeddingList"),
    _Operation("/models", "get", "List the models", None, "ModelList"),
)
_ANTHROPIC = (_Operation("/messages", "post", "Create a message (Anthropic Messages API, plain or streamed)", "AnthropicMessageRequest", "AnthropicMessage", True),)

_GATEWAY_ERRORS: dict[int, str] = {
    400: "Malformed request: `invalid_json`, `invalid_path`, `untranslatable_request`, `operation_not_supported`, ...",
    401: "Key auth: `missing_api_key`, `invalid_api_key`, `revoked_api_key`, `expired_api_key`.",
    403: "The key may not call this rule: `key_scope_denied`.",
    413: "The body is over the gateway's limit: `body_too_large`.",
    500: "A plugin failed or cannot run: `plugin_error`, `plugin_unavailable`.",
    502: "The upstream could not be reached or answered badly: `upstream_unreachable`, `upstream_error`.",
    503: "Something the request needs is unavailable: `store_unavailable`, `no_target_available`, `upstream_rate_limited`.",
    504: "The upstream was silent too long: `upstream_timeout`.",
}

_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {"description": "The request's id (the client's own, if it sent one).", "schema": {"type": "string"}},
    "X-AIProxy-Target": {"description": "Which of the rule's upstreams answered (its name or position).", "schema": {"type": "string"}},
    "X-AIProxy-Attempts": {"description": "How many attempts the request took.", "schema": {"type": "integer"}},
    "X-AIProxy-Cost": {"description": "The upstream's cost of the request in USD, when known.", "schema": {"type": "string"}},
}
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")


def _schema(name: str) -> dict[str, str]:
    return {"$ref": "#/components/schemas/" + name}


def _candidates(rule: Rule) -> list[tuple[str, _Operation]]:
    """The (path, operation) pairs a consumer would call under ``rule``'s prefix."""
    operations = _ANTHROPIC if rule.client_format == "anthropic" else _OPENAI
    path = rule.path
    for operation in operations:
        if path.endswith(operation.suffix):  # a rule on one operation's own path
            return [(path, operation)]
    if rule.client_format == "anthropic":
        base = path.rstrip("/") if path.endswith("/v1") else path.rstrip("/") + "/v1"  # the SDK's base_url is the prefix
    else:
        base = "/v1" if path == "/" else path  # the SDK's base_url is the prefix (with /v1 on a root rule)
    return [(base + operation.suffix, operation) for operation in operations]


def _served_by(view: TenantView, path: str, method: str, rule: Rule) -> bool:
    """Whether ``rule`` is the one that serves this call (longest prefix; its methods)."""
    try:
        return view.match(path, method.upper()).rule.id == rule.id
    except GatewayError:
        return False


@dataclass
class _Additions:
    """What the plugins of one rule's chain add to its operations."""

    responses: dict[str, dict[str, Any]]
    headers: dict[str, dict[str, Any]]
    extensions: dict[str, Any]


def _checked_fragment(plugin: str, fragment: Any, into: _Additions) -> None:
    if fragment is None:
        return
    if not isinstance(fragment, dict):
        raise TypeError(f"tenant_openapi must return a dict, not {type(fragment).__name__}")
    json.dumps(fragment)  # only JSON goes into the document
    for status, response in (fragment.get("responses") or {}).items():
        if re.fullmatch(r"[45][0-9][0-9]", str(status)) and isinstance(response, dict) and isinstance(response.get("description"), str):
            known = into.responses.get(str(status))
            if known is None:
                into.responses[str(status)] = copy.deepcopy(response)
            else:  # two plugins answer the same status (a limiter's 429 and a quota's): one entry saying both
                known["description"] = f"{known['description']} {response['description']}"
                known.setdefault("headers", {}).update(response.get("headers") or {})
    for name, header in (fragment.get("headers") or {}).items():
        if _HEADER_NAME.match(str(name)) and isinstance(header, dict):
            into.headers.setdefault(str(name), header)
    for name, value in (fragment.get("extensions") or {}).items():
        if str(name).startswith("x-"):
            into.extensions[str(name)] = value


async def _additions(gateway: Gateway, view: TenantView, rule: Rule) -> _Additions:
    additions = _Additions({}, {}, {})
    registry = gateway.registry
    for entry in chain_entries(view.tenant, rule):
        impl = registry.hookimpl(entry.name, "tenant_openapi") if registry.has(entry.name) else None
        if impl is None:
            continue
        try:
            settings = registry.parse_settings(entry.name, entry.settings)
            offered = {"tenant": view.tenant, "rule": rule, "settings": settings, "services": gateway.services}
            fragment = await asyncio.wait_for(call_and_await(impl, offered), HOOK_TIMEOUT)
            _checked_fragment(entry.name, fragment, additions)
        except Exception as exc:  # the document still answers, without this plugin's part
            logger.warning(
                "openapi: plugin %r could not describe rule %s of tenant %s: %s: %s",
                entry.name, rule.id, view.tenant.id, type(exc).__name__, exc,
            )  # fmt: skip
    return additions


def _operation(path: str, operation: _Operation, rule: Rule, additions: _Additions) -> dict[str, Any]:
    headers = {**copy.deepcopy(_HEADERS), **copy.deepcopy(additions.headers)}
    content: dict[str, Any] = {"application/json": {"schema": _schema(operation.answer)}}
    description = f"Served by the rule on `{rule.path}`."
    if operation.streams:
        chunk = "ChatCompletionChunk" if operation.answer == "ChatCompletion" else None
        stream: dict[str, Any] = {"schema": {"type": "string", "description": "Server-sent events."}}
        if chunk:
            stream["x-aiproxy-event-data"] = _schema(chunk)
        content["text/event-stream"] = stream
        description += " " + STREAM_NOTE
    responses: dict[str, Any] = {"200": {"description": "The upstream's answer.", "headers": headers, "content": content}}
    errors = {str(status): error_response(text) for status, text in _GATEWAY_ERRORS.items()}
    errors.update(copy.deepcopy(additions.responses))
    for status in sorted(errors):
        response = errors[status]
        response.setdefault("content", error_response("")["content"])
        response["headers"] = {**copy.deepcopy(headers), **response.get("headers", {})}
        responses[status] = response
    built: dict[str, Any] = {
        "operationId": operation_id(operation.method, path),
        "summary": operation.summary,
        "description": description,
        "tags": [f"rule {rule.path}"],
        "responses": responses,
    }
    if operation.request is not None:
        example = SHAPES[operation.request].get("example")
        media: dict[str, Any] = {"schema": _schema(operation.request)}
        if example is not None:
            media["example"] = example
        built["requestBody"] = {"required": True, "content": {"application/json": media}}
    return built


async def tenant_document(gateway: Gateway, view: TenantView) -> dict[str, Any]:
    from .. import __version__

    tenant = view.tenant
    paths: dict[str, dict[str, Any]] = {}
    rules: list[dict[str, Any]] = []
    extensions: dict[str, Any] = {}
    # Shortest prefix first, so the rules read like a table of contents.
    for route in sorted(view.routes, key=lambda r: r.rule.path):
        rule = route.rule
        rules.append({"path": rule.path, "methods": rule.methods or "any", "client_format": rule.client_format})
        served = [(path, op) for path, op in _candidates(rule) if _served_by(view, path, op.method, rule)]
        if not served:
            continue
        additions = await _additions(gateway, view, rule)
        extensions.update(additions.extensions)
        for path, operation in served:
            paths.setdefault(path, {})[operation.method] = _operation(path, operation, rule, additions)
    description = (
        f"The API {tenant.name} serves through aiproxy. Call it with a key {tenant.name} gave you, as "
        "`Authorization: Bearer <key>` or `X-API-Key: <key>`. Every rule forwards every path under its prefix "
        "(`x-aiproxy-rules`); the operations below are the OpenAI-compatible (or Anthropic) endpoints under each. "
        "Every error is the envelope `{\"error\": {\"type\", \"code\", \"message\", \"request_id\"}}`."
    )
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": f"{tenant.name} API", "version": __version__, "description": description},
        "servers": [{"url": "/", "description": "This gateway, for this tenant."}],
        "security": [{"bearerKey": []}, {"apiKeyHeader": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **copy.deepcopy(SHAPES)},
            "securitySchemes": {
                "bearerKey": {"type": "http", "scheme": "bearer", "description": f"A key {tenant.name} gave you."},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same key, in X-API-Key (as Anthropic's SDK sends it)."},
            },
        },
        "x-aiproxy-rules": rules,
    }
    for name, value in sorted(extensions.items()):
        document.setdefault(name, value)
    # Every example lives with its schema; OpenAPI 3.1 reads `example` there as deprecated but valid.
    return document
