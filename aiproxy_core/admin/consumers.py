"""``/api/v1/tenants/{tenant_id}/consumers``: the people a tenant sells its API to."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import NotFound
from ..models import Consumer, ConsumerCreate, ConsumerPatch, Tenant
from .json_body import read_model, validation_failed
from .lookups import authorized_tenant
from .state import gateway_of


async def _consumer_or_404(request: Request, tenant: Tenant) -> Consumer:
    consumer_id = request.path_params["consumer_id"]
    consumer = await gateway_of(request).store.get_consumer(tenant.id, consumer_id)
    if consumer is None:
        raise NotFound(f"tenant {tenant.id} has no consumer {consumer_id!r}", code="consumer_not_found")
    return consumer


async def create_consumer(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    gateway = gateway_of(request)
    body = await read_model(request, ConsumerCreate, gateway.config.server.max_admin_body_bytes)
    now = datetime.now(timezone.utc)
    consumer = Consumer(id="con_" + uuid.uuid4().hex[:16], tenant_id=tenant.id, created_at=now, updated_at=now, **body.model_dump())
    await gateway.store.put_consumer(consumer)
    return JSONResponse(consumer.model_dump(mode="json"), status_code=201)


async def list_consumers(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    consumers = await gateway_of(request).store.list_consumers(tenant.id)
    return JSONResponse({"data": [c.model_dump(mode="json") for c in consumers]})


async def get_consumer(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    return JSONResponse((await _consumer_or_404(request, tenant)).model_dump(mode="json"))


async def patch_consumer(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    gateway = gateway_of(request)
    current = await _consumer_or_404(request, tenant)
    patch = await read_model(request, ConsumerPatch, gateway.config.server.max_admin_body_bytes)
    merged = current.model_dump() | patch.model_dump(exclude_unset=True) | {"updated_at": datetime.now(timezone.utc)}
    try:
        updated = Consumer.model_validate(merged)
    except ValidationError as exc:
        raise validation_failed(exc) from None
    await gateway.store.put_consumer(updated)
    return JSONResponse(updated.model_dump(mode="json"))


async def delete_consumer(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    consumer = await _consumer_or_404(request, tenant)
    await gateway_of(request).store.delete_consumer(tenant.id, consumer.id)
    return Response(status_code=204)
