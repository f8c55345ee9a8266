"""API keys over the Admin API, for a tenant's own keys and for its consumers' keys alike.

``/api/v1/tenants/{tenant_id}/keys[/{key_id}[/rotate]]`` and
``/api/v1/tenants/{tenant_id}/consumers/{consumer_id}/keys[/{key_id}[/rotate]]``: the full key is
shown once, at creation or rotation; lists show the display prefix and metadata only.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..auth import new_key
from ..auth.rotation import rotate_stored_key
from ..errors import NotFound, ValidationFailed
from ..models import ApiKey, Tenant
from .json_body import read_model
from .lookups import authorized_tenant
from .state import gateway_of


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    expires_at: AwareDatetime | None = None
    #: Rule ids the key may call; leave out for every rule of the tenant.
    scopes: list[str] | None = Field(default=None, min_length=1, max_length=100)


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: How long the old key keeps working next to the new one; 0 ends it at once.
    grace_seconds: int = Field(default=0, ge=0, le=30 * 24 * 3600)


async def _owner(request: Request) -> tuple[Tenant, str | None]:
    """The tenant, and the consumer whose keys these are (None: the tenant's own keys)."""
    tenant = await authorized_tenant(request)
    consumer_id = request.path_params.get("consumer_id")
    if consumer_id is not None and await gateway_of(request).store.get_consumer(tenant.id, consumer_id) is None:
        raise NotFound(f"tenant {tenant.id} has no consumer {consumer_id!r}", code="consumer_not_found")
    return tenant, consumer_id


async def _key_or_404(request: Request, tenant: Tenant, consumer_id: str | None) -> ApiKey:
    key_id = request.path_params["key_id"]
    key = await gateway_of(request).store.get_key(tenant.id, key_id)
    if key is None or key.consumer_id != consumer_id:
        owner = f"consumer {consumer_id}" if consumer_id else f"tenant {tenant.id}"
        raise NotFound(f"{owner} has no key {key_id!r}", code="key_not_found")
    return key


async def _check_scopes(request: Request, tenant: Tenant, scopes: list[str] | None) -> None:
    if scopes is None:
        return
    rule_ids = {rule.id for rule in await gateway_of(request).store.list_rules(tenant.id)}
    unknown = [s for s in scopes if s not in rule_ids]
    if unknown:
        raise ValidationFailed(
            f"scopes: {unknown} are not rule ids of this tenant (GET /api/v1/tenants/{tenant.id}/rules lists them)",
            code="unknown_scope",
        )


def _shown_once(key: ApiKey, raw_key: str) -> Response:
    return JSONResponse({**key.public(), "key": raw_key}, status_code=201)


async def create_key(request: Request) -> Response:
    tenant, consumer_id = await _owner(request)
    gateway = gateway_of(request)
    body = await read_model(request, KeyCreate, gateway.config.server.max_admin_body_bytes, optional=True)
    await _check_scopes(request, tenant, body.scopes)
    raw_key, key = new_key(tenant.id, consumer_id, name=body.name, expires_at=body.expires_at)
    key = key.model_copy(update={"scopes": body.scopes})
    await gateway.store.create_key(key)
    return _shown_once(key, raw_key)


async def list_keys(request: Request) -> Response:
    tenant, consumer_id = await _owner(request)
    keys = await gateway_of(request).store.list_keys(tenant.id, consumer_id=consumer_id)
    return JSONResponse({"data": [k.public() for k in keys if k.consumer_id == consumer_id]})


async def revoke_key(request: Request) -> Response:
    tenant, consumer_id = await _owner(request)
    key = await _key_or_404(request, tenant, consumer_id)
    if key.revoked_at is None:
        await gateway_of(request).store.update_key(key.model_copy(update={"revoked_at": datetime.now(timezone.utc)}))
    return Response(status_code=204)


async def rotate_key(request: Request) -> Response:
    """A new key with the old one's name and scopes; the old one works for ``grace_seconds`` more."""
    tenant, consumer_id = await _owner(request)
    gateway = gateway_of(request)
    old = await _key_or_404(request, tenant, consumer_id)
    body = await read_model(request, KeyRotate, gateway.config.server.max_admin_body_bytes, optional=True)
    raw_key, new = await rotate_stored_key(gateway.store, old, body.grace_seconds)
    return _shown_once(new, raw_key)
