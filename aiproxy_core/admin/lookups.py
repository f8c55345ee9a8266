"""Finding the tenant a call is about, after checking the caller may touch it."""

from __future__ import annotations

from starlette.requests import Request

from ..errors import NotFound
from ..models import Tenant
from .access import require_tenant_access
from .state import gateway_of


async def tenant_or_404(request: Request, tenant_id: str) -> Tenant:
    tenant = await gateway_of(request).store.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant has the id {tenant_id!r}", code="tenant_not_found")
    return tenant


async def authorized_tenant(request: Request) -> Tenant:
    """The path's tenant, for callers holding its key or the admin token.

    Access is checked before existence (401 before 404), so a caller without a key cannot probe
    which tenant ids exist.
    """
    tenant_id = request.path_params["tenant_id"]
    await require_tenant_access(request, gateway_of(request), tenant_id)
    return await tenant_or_404(request, tenant_id)
