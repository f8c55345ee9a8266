"""The core's portal endpoints for a signed-in consumer: who it is, and rotating its own key."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from ..admin.json_body import read_model
from ..auth.rotation import rotate_stored_key
from ..models import ApiKey, Consumer
from ..tenant_pages.app import gateway_of, tenant_of
from .caller import portal_consumer
from .plugin_routes import plugin_sections
from .responses import private_json

__all__ = ["me", "rotate_own_key", "sections"]

#: Portal bodies are tiny; anything bigger is a mistake or an attack.
MAX_BODY = 4096


class RotateBody(BaseModel):
    """Nothing to choose: the old key stops at once (a consumer has no grace period to manage)."""

    model_config = ConfigDict(extra="forbid")


def shown_consumer(consumer: Consumer) -> dict[str, Any]:
    """What a consumer sees of itself: never its ``metadata``, which is the tenant's notes about it."""
    return {"id": consumer.id, "name": consumer.name, "plan_id": consumer.plan_id, "created_at": consumer.created_at.isoformat()}


def shown_key(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "prefix": key.prefix,
        "name": key.name,
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "scopes": key.scopes,
    }


async def me(request: Request) -> Response:
    caller = await portal_consumer(request)
    tenant = caller.tenant
    return private_json({
        "tenant": {"name": tenant.name, "subdomain": tenant.subdomain},
        "consumer": shown_consumer(caller.consumer),
        "key": shown_key(caller.key),
    })


async def rotate_own_key(request: Request) -> Response:
    """A new key for the caller, shown once; the presented key is revoked at once, on every process."""
    caller = await portal_consumer(request)
    await read_model(request, RotateBody, MAX_BODY, optional=True)
    raw_key, new = await rotate_stored_key(gateway_of(request).store, caller.key)
    return private_json({**shown_key(new), "key": raw_key}, status_code=201)


async def sections(request: Request) -> Response:
    """The plugins' sections the page shows (public ones and those needing sign-in)."""
    tenant = tenant_of(request)
    return private_json({
        "tenant": {"name": tenant.name, "subdomain": tenant.subdomain},
        "self_serve": tenant.portal.self_serve,
        "sections": [section.describe() for section in plugin_sections(request)],
    })
