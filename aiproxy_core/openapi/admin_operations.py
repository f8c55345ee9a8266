"""What each core Admin API endpoint reads and answers, keyed by its endpoint function.

:mod:`.admin_document` walks the app's routes and looks each endpoint up here, so a route added
to ``core_routes()`` without a description is caught by a test rather than left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from ..admin import consumers, key_endpoints, rules, tenants
from ..admin.health import health
from ..admin.metrics_endpoint import metrics
from ..models import Consumer, ConsumerCreate, ConsumerPatch, Rule, RuleInput, Tenant, TenantCreate, TenantPatch

__all__ = ["Access", "CoreOperation", "core_operations"]

#: ``open``: no credentials; ``admin``: the admin token when one is set; ``tenant``: the admin
#: token or a key of the path's tenant.
Access = Literal["open", "admin", "tenant"]


@dataclass(frozen=True)
class CoreOperation:
    summary: str
    access: Access
    #: The body model (or schema); None when the endpoint reads no body.
    body: Any = None
    body_optional: bool = False
    status: int = 200
    #: The answer's JSON schema (or model); None for an answer with no body (204).
    answer: Any = None
    tag: str = "gateway"
    description: str = ""
    media_type: str = "application/json"
    errors: tuple[int, ...] = field(default=())


def _list_of(item: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": item}}}


_KEY_SHOWN: dict[str, Any] = {
    "type": "object",
    "description": "A key's metadata: never the key itself, except once, in `key`, when it is created or rotated.",
    "required": ["id", "tenant_id", "prefix", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "tenant_id": {"type": "string"},
        "consumer_id": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "prefix": {"type": "string", "description": "The key's first characters, to recognise it."},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        "scopes": {"type": ["array", "null"], "items": {"type": "string"}, "description": "Rule ids the key may call; null: all."},
        "replaced_by": {"type": ["string", "null"]},
    },
}
_KEY_CREATED = {"allOf": [_KEY_SHOWN, {"type": "object", "required": ["key"], "properties": {"key": {"type": "string", "description": "The key, shown only this once."}}}]}


class TenantCreated(Tenant):
    """What ``POST /api/v1/tenants`` answers: the tenant and its first key, shown only this once."""

    api_key: str
    api_key_id: str


_HEALTH = {
    "type": "object",
    "required": ["status", "store"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "store": {"type": "string", "description": "Where state is kept."},
        "problems": {"type": "array", "items": {"type": "string"}},
        "post_response_failures": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
_TARGETS = {
    "type": "object",
    "required": ["rule_id", "strategy", "data"],
    "properties": {
        "rule_id": {"type": "string"},
        "strategy": {"type": "string"},
        "data": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
}
_PLUGINS = _list_of(
    {
        "type": "object",
        "required": ["name", "hooks"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": ["string", "null"]},
            "hooks": {"type": "array", "items": {"type": "string"}},
            "settings_schema": {"type": ["object", "null"]},
            "config_schema": {"type": ["object", "null"]},
            "error": {"type": "string", "description": "Why the plugin could not be loaded."},
        },
    }
)
_OPENAPI = {"type": "object", "description": "An OpenAPI 3.1 document.", "additionalProperties": True}


def core_operations() -> dict[Callable[..., Any], CoreOperation]:
    from . import endpoints  # its module imports the document builders, which import this one

    k = key_endpoints
    return {
        health: CoreOperation("Whether the gateway can serve", "open", answer=_HEALTH, errors=(503,),
                              description="503 with `status: unavailable` and `problems` while the store cannot be reached."),
        metrics: CoreOperation("Prometheus metrics of every tenant", "admin", answer={"type": "string"}, media_type="text/plain",
                               description="The Prometheus exposition format (docs/observability.md); 404 `metrics_disabled` when metrics are off."),
        _plugins(): CoreOperation("Installed plugins, their hooks and settings schemas", "open", answer=_PLUGINS),
        tenants.create_tenant: CoreOperation("Create a tenant", "admin", TenantCreate, status=201, answer=TenantCreated, tag="tenants",
                                             errors=(409, 422)),
        tenants.list_tenants: CoreOperation("List tenants", "admin", answer=_list_of(Tenant), tag="tenants"),
        tenants.get_tenant: CoreOperation("Get a tenant", "admin", answer=Tenant, tag="tenants", errors=(404,)),
        tenants.patch_tenant: CoreOperation("Change a tenant's fields (validated as a whole)", "admin", TenantPatch, answer=Tenant,
                                            tag="tenants", errors=(404, 409, 422)),
        tenants.delete_tenant: CoreOperation("Delete a tenant with its rules, keys and consumers", "admin", status=204, tag="tenants",
                                             errors=(404,)),
        rules.create_rule: CoreOperation("Create a forwarding rule", "tenant", RuleInput, status=201, answer=Rule, tag="rules", errors=(409, 422)),
        rules.list_rules: CoreOperation("List the tenant's rules", "tenant", answer=_list_of(Rule), tag="rules"),
        rules.get_rule: CoreOperation("Get a rule", "tenant", answer=Rule, tag="rules", errors=(404,)),
        rules.rule_targets: CoreOperation("A rule's targets with their circuit, error rate and latency", "tenant", answer=_TARGETS,
                                          tag="rules", errors=(404,)),
        rules.replace_rule: CoreOperation("Replace a rule", "tenant", RuleInput, answer=Rule, tag="rules", errors=(404, 409, 422)),
        rules.delete_rule: CoreOperation("Delete a rule", "tenant", status=204, tag="rules", errors=(404,)),
        consumers.create_consumer: CoreOperation("Create a consumer", "tenant", ConsumerCreate, status=201, answer=Consumer,
                                                 tag="consumers", errors=(422,)),
        consumers.list_consumers: CoreOperation("List the tenant's consumers", "tenant", answer=_list_of(Consumer), tag="consumers"),
        consumers.get_consumer: CoreOperation("Get a consumer", "tenant", answer=Consumer, tag="consumers", errors=(404,)),
        consumers.patch_consumer: CoreOperation("Change a consumer", "tenant", ConsumerPatch, answer=Consumer, tag="consumers",
                                                errors=(404, 422)),
        consumers.delete_consumer: CoreOperation("Delete a consumer with its keys", "tenant", status=204, tag="consumers", errors=(404,)),
        k.create_key: CoreOperation("Create a key (shown once)", "tenant", k.KeyCreate, body_optional=True, status=201, answer=_KEY_CREATED,
                                    tag="keys", errors=(404, 422)),
        k.list_keys: CoreOperation("List keys: display prefix and metadata only", "tenant", answer=_list_of(_KEY_SHOWN), tag="keys",
                                   errors=(404,)),
        k.revoke_key: CoreOperation("Revoke a key", "tenant", status=204, tag="keys", errors=(404,)),
        k.rotate_key: CoreOperation("Replace a key by a new one; the old one works grace_seconds more", "tenant", k.KeyRotate,
                                    body_optional=True, status=201, answer=_KEY_CREATED, tag="keys", errors=(404, 422)),
        endpoints.admin_openapi: CoreOperation("This document", "open", answer=_OPENAPI,
                                               description="The Admin API's OpenAPI 3.1 document, plugins' routes included; no credentials needed."),
        endpoints.admin_explorer: CoreOperation("The interactive explorer of this document", "open", answer={"type": "string"},
                                                media_type="text/html"),
    }


def _plugins() -> Callable[..., Any]:
    from ..admin.app import list_plugins  # the app module imports this package's endpoints

    return list_plugins
