"""The Admin API: a tenant's analytics, and one consumer's (what a consumer portal shows).

``authorized_tenant`` first (the tenant's key or the admin token; 401 before 404), and every
read is of the path's tenant's own values: another tenant's consumer id is as unknown as any.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from aiproxy_core import GatewayServices, NotFound, authorized_tenant

from .query import parse_query, run_query

__all__ = ["analytics_routes"]

TENANT = "/api/v1/tenants/{tenant_id}"


def analytics_routes(services: GatewayServices) -> list[BaseRoute]:
    state = services.state("analytics")

    async def tenant_analytics(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        query = parse_query(request.query_params)
        return JSONResponse(await run_query(state.values(tenant.id), query))

    async def consumer_analytics(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        consumer_id = request.path_params["consumer_id"]
        if await services.store.get_consumer(tenant.id, consumer_id) is None:
            raise NotFound(f"this tenant has no consumer with the id {consumer_id!r}", code="consumer_not_found")
        query = parse_query(request.query_params, only_consumer=consumer_id)
        return JSONResponse(await run_query(state.values(tenant.id), query))

    return [
        Route(TENANT + "/analytics", tenant_analytics, methods=["GET"]),
        Route(TENANT + "/consumers/{consumer_id}/analytics", consumer_analytics, methods=["GET"]),
    ]
