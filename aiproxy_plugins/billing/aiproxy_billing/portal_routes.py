"""The plugin's developer-portal sections: the plans on sale (public), and for a signed-in consumer
its usage this month, its invoices and its prepaid credits.

Each reuses the Admin API's queries (``usage_report``, ``get_invoice``, ``PrepaidCredits``) with the
consumer that ``portal_consumer`` proved, so a consumer reads only its own figures of its own tenant.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from aiproxy_core import PORTAL_API, GatewayServices, PortalSection, portal_consumer, portal_tenant

from .backend import BillingBackend
from .credits import PrepaidCredits, from_micros
from .invoices import get_invoice, previous_period, usage_report
from .money import money_text

__all__ = ["billing_portal_routes"]

_PRIVATE = {"Cache-Control": "no-store"}


def billing_portal_routes(
    services: GatewayServices, backend: Callable[[], BillingBackend], credits: Callable[[], PrepaidCredits]
) -> list[BaseRoute]:
    async def plans(request: Request) -> Response:
        tenant = portal_tenant(request)
        shown = [plan.on_portal() for plan in await backend().plans.list(tenant.id) if plan.spec.public]
        return JSONResponse({"data": shown})

    async def usage(request: Request) -> Response:
        caller = await portal_consumer(request)
        today = datetime.now(timezone.utc).date()
        found = await usage_report(backend(), services.store, caller.tenant.id, caller.consumer.id, today.replace(day=1), today)
        return JSONResponse(_without_tenant(found.as_json()), headers=_PRIVATE)

    async def invoices(request: Request) -> Response:
        caller = await portal_consumer(request)
        this_month = datetime.now(timezone.utc).strftime("%Y-%m")
        shown = [
            _without_tenant(await get_invoice(backend(), services.store, caller.tenant.id, caller.consumer.id, period))
            for period in (this_month, previous_period(this_month))
        ]
        return JSONResponse({"data": shown}, headers=_PRIVATE)

    async def balance(request: Request) -> Response:
        caller = await portal_consumer(request)
        micros = await credits().balance(caller.tenant.id, caller.consumer.id)
        return JSONResponse({"balance": money_text(from_micros(micros))}, headers=_PRIVATE)

    return [
        PortalSection(PORTAL_API + "/billing/plans", plans, title="Plans and prices", signed_in=False),
        PortalSection(PORTAL_API + "/billing/usage", usage, title="Your usage this month"),
        PortalSection(PORTAL_API + "/billing/invoices", invoices, title="Your invoices"),
        PortalSection(PORTAL_API + "/billing/credits", balance, title="Your prepaid credits"),
    ]


def _without_tenant(answer: dict[str, Any]) -> dict[str, Any]:
    """The Admin API's answer as a consumer sees it: its tenant is the page's, not a field."""
    return {name: value for name, value in answer.items() if name != "tenant_id"}
