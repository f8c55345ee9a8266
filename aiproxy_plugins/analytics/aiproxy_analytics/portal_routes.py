"""The plugin's developer-portal section: a signed-in consumer's own analytics.

The same query as the Admin API's ``GET .../consumers/{cid}/analytics``, with the consumer that
``portal_consumer`` proved rather than one named in the path: a consumer reads only its own.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from aiproxy_core import PORTAL_API, GatewayServices, PortalSection, portal_consumer

from .query import parse_query, run_query

__all__ = ["analytics_portal_routes"]


def analytics_portal_routes(services: GatewayServices) -> list[BaseRoute]:
    state = services.state("analytics")

    async def own_analytics(request: Request) -> Response:
        caller = await portal_consumer(request)
        query = parse_query(request.query_params, only_consumer=caller.consumer.id)
        return JSONResponse(await run_query(state.values(caller.tenant.id), query), headers={"Cache-Control": "no-store"})

    return [PortalSection(PORTAL_API + "/analytics", own_analytics, title="Your analytics")]
