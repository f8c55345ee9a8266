"""Who may call what on the Admin API.

Tenant-level calls (create, list, change, delete tenants) need ``server.admin_token`` as a Bearer
token when one is set. Calls inside a tenant (rules, keys) need the admin token or one of that
tenant's own live keys.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from starlette.requests import Request

from ..auth import presented_key
from ..errors import Forbidden, GatewayError, Unauthorized
from ..models import ApiKey

if TYPE_CHECKING:
    from ..gateway import Gateway


def _bearer(request: Request) -> str | None:
    return presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))


def _is_admin(gateway: "Gateway", token: str | None) -> bool:
    admin_token = gateway.config.server.admin_token
    return bool(admin_token and token and hmac.compare_digest(admin_token.encode(), token.encode()))


def require_admin(request: Request, gateway: "Gateway") -> None:
    if gateway.config.server.admin_token is None:
        return
    token = _bearer(request)
    if token is None:
        raise Unauthorized("this call needs the admin token: 'Authorization: Bearer <server.admin_token>'", code="missing_admin_token")
    if not _is_admin(gateway, token):
        raise Unauthorized("the admin token is wrong", code="invalid_admin_token")


async def require_tenant_access(request: Request, gateway: "Gateway", tenant_id: str) -> ApiKey | None:
    """The tenant key used (None for the admin token); 401/403 otherwise."""
    token = _bearer(request)
    if _is_admin(gateway, token):
        return None
    if token is None:
        raise Unauthorized(
            "this call needs the tenant's API key: 'Authorization: Bearer <api_key>' "
            "(the key returned when the tenant was created)",
            code="missing_api_key",
        )
    try:
        key = await gateway.auth.authenticate(tenant_id, token)
    except GatewayError:
        raise Unauthorized("the API key is not a live key of this tenant") from None
    if key.consumer_id is not None:
        raise Forbidden("consumer keys cannot manage a tenant; use a tenant key", code="consumer_key_not_allowed")
    return key
