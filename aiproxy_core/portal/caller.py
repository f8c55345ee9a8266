"""Who is calling a portal endpoint: a consumer of this tenant, proven by its own key.

Plugins' portal endpoints call :func:`portal_consumer` too, so every ``/-/portal/api/...`` endpoint
refuses the same callers the same way: no key (401), a key of another tenant or a made-up one (401,
counted against the address like the Admin API's failed credentials), a tenant key (403: the portal
is the consumer's view, and a tenant key would see no consumer of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ..admin.auth_throttle import AuthFailureThrottle
from ..auth import presented_key
from ..errors import Forbidden, RateLimited, Unauthorized
from ..models import ApiKey, Consumer, Tenant
from ..tenant_pages.app import gateway_of, tenant_of

__all__ = ["PortalCaller", "client_address", "portal_consumer", "portal_tenant"]

_THROTTLE = "portal_sign_in_throttle"


@dataclass(frozen=True, slots=True)
class PortalCaller:
    """The consumer a portal request is from, with the key it presented and its tenant."""

    tenant: Tenant
    consumer: Consumer
    key: ApiKey


def portal_tenant(request: Request) -> Tenant:
    """The tenant whose portal this is (the Host's), for public sections that need no key."""
    return tenant_of(request)


def client_address(request: Request) -> str:
    """The client's address as the Proxy API decides it (``server.trusted_proxies`` honoured)."""
    addresses = gateway_of(request).proxy_app.addresses
    peer = request.client.host if request.client else ""
    if not addresses.any_trusted:
        return peer
    return addresses.client_of(peer, request.headers.getlist("x-forwarded-for")) or peer


def _throttle(request: Request) -> AuthFailureThrottle:
    # One per portal app (one per gateway process), made on first use: the same per-process
    # memory throttle as the Admin API's, with the same limit.
    state = request.app.state
    throttle: AuthFailureThrottle | None = getattr(state, _THROTTLE, None)
    if throttle is None:
        throttle = AuthFailureThrottle(gateway_of(request).config.server.admin_auth_failures_per_minute)
        setattr(state, _THROTTLE, throttle)
    return throttle


async def portal_consumer(request: Request) -> PortalCaller:
    """The consumer whose key the request presents (``Authorization: Bearer`` or ``X-API-Key``).

    401 without a live key of this tenant, 403 ``consumer_key_required`` for a tenant key, 429
    ``too_many_auth_failures`` after too many wrong keys from one address in a minute.
    """
    gateway = gateway_of(request)
    tenant = tenant_of(request)
    raw_key = presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if raw_key is None:
        raise Unauthorized("sign in with your API key: send it as 'Authorization: Bearer <key>'", code="missing_api_key")
    throttle, address = _throttle(request), client_address(request)
    wait = throttle.retry_after(address)
    if wait is not None:
        raise RateLimited(
            f"too many wrong keys from this address; try again in {wait} s", code="too_many_auth_failures", headers={"Retry-After": str(wait)}
        )
    try:
        key = await gateway.auth.authenticate(tenant.id, raw_key)
    except Unauthorized:
        throttle.failed(address)
        raise
    if key.consumer_id is None:
        raise Forbidden(
            "this is a tenant key; the portal is for consumers: sign in with a consumer's key (the Admin API manages the tenant)",
            code="consumer_key_required",
        )
    consumer = await gateway.consumers.get(tenant.id, key.consumer_id)
    if consumer is None:
        raise Unauthorized("this key's consumer no longer exists", code="invalid_api_key")
    return PortalCaller(tenant=tenant, consumer=consumer, key=key)
