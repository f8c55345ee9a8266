"""``/api/v1/tenants``: create (with the first key, shown once), list, get, change, delete."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..auth import new_key
from ..errors import NotFound
from ..models import Tenant, TenantCreate, TenantPatch
from .access import require_admin
from .chain_checks import check_entries, check_plugin_names, check_references
from .json_body import read_model, validation_failed
from .lookups import tenant_or_404
from .secret_settings import entries_with_kept_secrets, masked_entry
from .state import gateway_of


async def _check_plugins(
    tenant: Tenant | TenantCreate, tenant_id: str, request: Request, current: Tenant | None = None, references: bool = True
) -> None:
    """Valid plugins and settings naming only this tenant's ids; masked secrets sent back are kept.

    ``references`` False skips the ids (a PATCH that leaves ``required_plugins`` alone must not
    fail because a plan they name was deleted since).
    """
    gateway = gateway_of(request)
    registry = gateway.registry
    if tenant.enabled_plugins is not None:
        check_plugin_names(tenant.enabled_plugins, registry, "enabled_plugins")
    entries = [(f"required_plugins.{k}", e) for k, e in tenant.required_plugins.items()]
    entries_with_kept_secrets(
        ((field, entry.name, entry) for field, entry in entries),
        (current.required_plugins.items() if current is not None else ()),
        registry,
    )
    check_entries(entries, registry)
    if references:
        await check_references(entries, gateway, tenant_id)


def _shown(tenant: Tenant, request: Request) -> dict[str, Any]:
    """A tenant as the Admin API answers it: secrets in its required plugins' settings masked."""
    registry = gateway_of(request).registry
    data = tenant.model_dump(mode="json")
    data["required_plugins"] = {key: masked_entry(entry, registry) for key, entry in data["required_plugins"].items()}
    return data


async def create_tenant(request: Request) -> Response:
    gateway = gateway_of(request)
    require_admin(request, gateway)
    body = await read_model(request, TenantCreate, gateway.config.server.max_admin_body_bytes)
    tenant_id = "tnt_" + uuid.uuid4().hex[:16]
    await _check_plugins(body, tenant_id, request)
    now = datetime.now(timezone.utc)
    tenant = Tenant(id=tenant_id, created_at=now, updated_at=now, **body.model_dump())
    await gateway.store.create_tenant(tenant)
    raw_key, key = new_key(tenant.id, name="initial")
    await gateway.store.create_key(key)
    data = _shown(tenant, request)
    data["api_key"] = raw_key
    data["api_key_id"] = key.id
    return JSONResponse(data, status_code=201)


async def list_tenants(request: Request) -> Response:
    gateway = gateway_of(request)
    require_admin(request, gateway)
    tenants = await gateway.store.list_tenants()
    return JSONResponse({"data": [_shown(t, request) for t in tenants]})


async def get_tenant(request: Request) -> Response:
    require_admin(request, gateway_of(request))
    tenant = await tenant_or_404(request, request.path_params["tenant_id"])
    return JSONResponse(_shown(tenant, request))


async def patch_tenant(request: Request) -> Response:
    gateway = gateway_of(request)
    require_admin(request, gateway)
    tenant = await tenant_or_404(request, request.path_params["tenant_id"])
    patch = await read_model(request, TenantPatch, gateway.config.server.max_admin_body_bytes)
    merged = tenant.model_dump() | patch.model_dump(exclude_unset=True)
    merged["updated_at"] = datetime.now(timezone.utc)
    try:
        updated = Tenant.model_validate(merged)
    except ValidationError as exc:
        raise validation_failed(exc) from None
    await _check_plugins(updated, tenant.id, request, current=tenant, references="required_plugins" in patch.model_fields_set)
    await gateway.store.update_tenant(updated)
    return JSONResponse(_shown(updated, request))


async def delete_tenant(request: Request) -> Response:
    gateway = gateway_of(request)
    require_admin(request, gateway)
    tenant_id = request.path_params["tenant_id"]
    if not await gateway.store.delete_tenant(tenant_id):
        raise NotFound(f"no tenant has the id {tenant_id!r}", code="tenant_not_found")
    await gateway.tenant_deleted(tenant_id)  # plugins drop their data of it (errors are logged)
    return Response(status_code=204)
