"""``/api/v1/tenants/{tenant_id}/keys``: a tenant's own keys; the full key is shown only at creation."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..auth import new_key
from ..errors import NotFound
from .json_body import read_model
from .lookups import authorized_tenant
from .state import gateway_of


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    expires_at: AwareDatetime | None = None


async def create_key(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    gateway = gateway_of(request)
    body = await read_model(request, KeyCreate, gateway.config.server.max_admin_body_bytes, optional=True)
    raw_key, key = new_key(tenant.id, name=body.name, expires_at=body.expires_at)
    await gateway.store.create_key(key)
    return JSONResponse({**key.public(), "key": raw_key}, status_code=201)


async def list_keys(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    keys = await gateway_of(request).store.list_keys(tenant.id, consumer_id=None)
    return JSONResponse({"data": [k.public() for k in keys if k.consumer_id is None]})


async def revoke_key(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    gateway = gateway_of(request)
    key_id = request.path_params["key_id"]
    key = await gateway.store.get_key(tenant.id, key_id)
    if key is None or key.consumer_id is not None:
        raise NotFound(f"tenant {tenant.id} has no key {key_id!r}", code="key_not_found")
    if key.revoked_at is None:
        await gateway.store.update_key(key.model_copy(update={"revoked_at": datetime.now(timezone.utc)}))
    return Response(status_code=204)
