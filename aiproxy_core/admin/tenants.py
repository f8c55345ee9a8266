"""``/api/v1/tenants``: create (with the first key, shown once), list, get, change, delete."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..auth import new_key
from ..errors import NotFound
from ..models import Tenant, TenantCreate, TenantPatch
from .access import require_admin
from .chain_checks import check_entries, check_plugin_names
from .json_body import read_model, validation_failed
from .lookups import tenant_or_404
from .state import gateway_of


def _check_plugins(tenant: Tenant | TenantCreate, request: Request) -> None:
    registry = gateway_of(request).registry
    if tenant.enabled_plugins is not None:
        check_plugin_names(tenant.enabled_plugins, registry, "enabled_plugins")
    check_entries(((f"required_plugins.{k}", e) for k, e in tenant.required_plugins.items()), registry)


async def create_tenant(request: Request) -> Response:
    gateway = gateway_of(request)
    require_admin(request, gateway)
    body = await read_model(request, TenantCreate, gateway.config.server.max_admin_body_bytes)
    _check_plugins(body, request)
    now = datetime.now(timezone.utc)
    tenant = Tenant(id="tnt_" + uuid.uuid4().hex[:16], created_at=now, updated_at=now, **body.model_dump())
    await gateway.store.create_tenant(tenant)
    raw_key, key = new_key(tenant.id, name="initial")
    await gateway.store.create_key(key)
    data = tenant.model_dump(mode="json")
    data["api_key"] = raw_key
    data["api_key_id"] = key.id
    return JSONResponse(data, status_code=201)


async def list_tenants(request: Request) -> Response:
    gateway = gateway_of(request)
    require_admin(request, gateway)
    tenants = await gateway.store.list_tenants()
    return JSONResponse({"data": [t.model_dump(mode="json") for t in tenants]})


async def get_tenant(request: Request) -> Response:
    require_admin(request, gateway_of(request))
    tenant = await tenant_or_404(request, request.path_params["tenant_id"])
    return JSONResponse(tenant.model_dump(mode="json"))


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
    _check_plugins(updated, request)
    await gateway.store.update_tenant(updated)
    return JSONResponse(updated.model_dump(mode="json"))


async def delete_tenant(request: Request) -> Response:
    gateway = gateway_of(request)
    require_admin(request, gateway)
    tenant_id = request.path_params["tenant_id"]
    if not await gateway.store.delete_tenant(tenant_id):
        raise NotFound(f"no tenant has the id {tenant_id!r}", code="tenant_not_found")
    await gateway.tenant_deleted(tenant_id)  # plugins drop their data of it (errors are logged)
    return Response(status_code=204)
