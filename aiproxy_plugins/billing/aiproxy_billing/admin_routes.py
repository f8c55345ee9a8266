"""The plugin's Admin API: plans (create, list, get, replace, delete) and a consumer's usage.

Every endpoint first calls ``authorized_tenant`` (tenant key or admin token; 401 before 404), and
bodies are read with ``read_model`` (400 bad JSON, 413 too large, 422 naming the bad field), so a
bad request is refused before anything stored changes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Callable

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, RootModel, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from aiproxy_core import BadRequest, GatewayServices, NotFound, ValidationFailed, authorized_tenant, read_model

from .backend import BillingBackend
from .export import ExportStore, ExportTargetInput
from .credits import MAX_BALANCE_MICROS, PrepaidCredits, from_micros, to_micros
from .money import money_text, parse_credit_amount
from .plans import Plan, PlanSpec
from .invoices import close_invoice, get_invoice, usage_report
from .usage import MAX_DAYS

__all__ = ["billing_routes"]

TENANT = "/api/v1/tenants/{tenant_id}"


class PlanBody(RootModel[PlanSpec]):
    """A plan as the Admin API receives it: one of the plan types, chosen by ``type``."""


class TopUpBody(BaseModel):
    """A top-up: ``{"amount": "10.00"}``, a decimal string (or integer) above 0, at most 6 places."""

    model_config = ConfigDict(extra="forbid")

    amount: Decimal

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return parse_credit_amount(value, "amount")


def billing_routes(
    services: GatewayServices, backend: Callable[[], BillingBackend], credits: Callable[[], PrepaidCredits]
) -> list[BaseRoute]:
    limit = services.config.server.max_admin_body_bytes

    async def create_plan(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        body = await read_model(request, PlanBody, limit)
        now = datetime.now(timezone.utc)
        plan = Plan(id="plan_" + uuid.uuid4().hex[:16], tenant_id=tenant.id, created_at=now, updated_at=now, spec=body.root)
        await backend().plans.put(plan)
        return JSONResponse(plan.public(), status_code=201)

    async def list_plans(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        return JSONResponse({"data": [plan.public() for plan in await backend().plans.list(tenant.id)]})

    async def get_plan(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        return JSONResponse((await _plan_or_404(backend(), tenant.id, request.path_params["plan_id"])).public())

    async def replace_plan(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        current = await _plan_or_404(backend(), tenant.id, request.path_params["plan_id"])
        body = await read_model(request, PlanBody, limit)
        plan = current.model_copy(update={"spec": body.root, "updated_at": datetime.now(timezone.utc)})
        await backend().plans.put(plan)
        return JSONResponse(plan.public())

    async def delete_plan(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        if not await backend().plans.delete(tenant.id, request.path_params["plan_id"]):
            raise _no_plan(request.path_params["plan_id"])
        return Response(status_code=204)

    async def consumer_usage(request: Request) -> Response:
        tenant_id = (await authorized_tenant(request)).id
        first, last = _range(request)
        subject = request.path_params["consumer_id"]
        if not subject.startswith("key:"):  # key:<key id> is a tenant key's own usage
            await consumer_or_404(request)  # another tenant's consumer id is as unknown as any other
        found = await usage_report(backend(), services.store, tenant_id, subject, first, last, request.query_params.get("plan_id"))
        return JSONResponse(found.as_json())

    async def invoice(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        params = request.path_params
        return JSONResponse(await get_invoice(backend(), services.store, tenant.id, params["consumer_id"], params["period"]))

    async def close(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        params = request.path_params
        return JSONResponse(await close_invoice(backend(), services.store, tenant.id, params["consumer_id"], params["period"]))

    async def consumer_or_404(request: Request) -> tuple[str, str]:
        tenant = await authorized_tenant(request)
        consumer_id = request.path_params["consumer_id"]
        get_consumer = getattr(services.store, "get_consumer", None)
        if get_consumer is not None and await get_consumer(tenant.id, consumer_id) is None:
            raise NotFound(f"this tenant has no consumer with the id {consumer_id!r}", code="consumer_not_found")
        return tenant.id, consumer_id

    async def top_up_credits(request: Request) -> Response:
        tenant_id, consumer_id = await consumer_or_404(request)
        body = await read_model(request, TopUpBody, limit)
        balance = await credits().top_up(tenant_id, consumer_id, to_micros(body.amount))
        if balance is None:
            raise ValidationFailed(
                f"the balance may not pass {money_text(from_micros(MAX_BALANCE_MICROS))}", code="balance_too_high"
            )
        return JSONResponse(_credits(consumer_id, balance))

    async def get_credits(request: Request) -> Response:
        tenant_id, consumer_id = await consumer_or_404(request)
        return JSONResponse(_credits(consumer_id, await credits().balance(tenant_id, consumer_id)))

    def exports() -> ExportStore:
        store = backend().exports
        assert store is not None
        return store

    async def put_export(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        body = await read_model(request, ExportTargetInput, limit)
        # A secret sent back masked, as an answer showed it, keeps the stored one.
        target = body.target().keeping_secret_of(await exports().get_target(tenant.id))
        await exports().put_target(tenant.id, target)
        return JSONResponse(target.public())

    async def get_export(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        target = await exports().get_target(tenant.id)
        if target is None:
            raise NotFound("this tenant exports no billing events", code="export_not_configured")
        return JSONResponse(target.public())

    async def delete_export(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        if not await exports().delete_target(tenant.id):
            raise NotFound("this tenant exports no billing events", code="export_not_configured")
        return Response(status_code=204)

    return [
        Route(TENANT + "/billing/export", put_export, methods=["PUT"]),
        Route(TENANT + "/billing/export", get_export, methods=["GET"]),
        Route(TENANT + "/billing/export", delete_export, methods=["DELETE"]),
        Route(TENANT + "/consumers/{consumer_id}/credits", top_up_credits, methods=["POST"]),
        Route(TENANT + "/consumers/{consumer_id}/credits", get_credits, methods=["GET"]),
        Route(TENANT + "/plans", create_plan, methods=["POST"]),
        Route(TENANT + "/plans", list_plans, methods=["GET"]),
        Route(TENANT + "/plans/{plan_id}", get_plan, methods=["GET"]),
        Route(TENANT + "/plans/{plan_id}", replace_plan, methods=["PUT"]),
        Route(TENANT + "/plans/{plan_id}", delete_plan, methods=["DELETE"]),
        Route(TENANT + "/consumers/{consumer_id}/usage", consumer_usage, methods=["GET"]),
        Route(TENANT + "/consumers/{consumer_id}/invoices/{period}", invoice, methods=["GET"]),
        Route(TENANT + "/consumers/{consumer_id}/invoices/{period}/close", close, methods=["POST"]),
    ]


def _credits(consumer_id: str, balance: int) -> dict[str, str]:
    return {"consumer_id": consumer_id, "balance": money_text(from_micros(balance))}


def _no_plan(plan_id: str) -> NotFound:
    return NotFound(f"this tenant has no plan with the id {plan_id!r}", code="plan_not_found")


async def _plan_or_404(backend: BillingBackend, tenant_id: str, plan_id: str) -> Plan:
    plan = await backend.plans.get(tenant_id, plan_id)
    if plan is None:
        raise _no_plan(plan_id)
    return plan


def _range(request: Request) -> tuple[date, date]:
    """``from`` and ``to`` (inclusive, YYYY-MM-DD); both default to today (UTC)."""
    today = datetime.now(timezone.utc).date()
    bounds: list[date] = []
    for name in ("from", "to"):
        raw = request.query_params.get(name)
        if raw is None:
            bounds.append(today)
            continue
        try:
            bounds.append(date.fromisoformat(raw))
        except ValueError:
            raise BadRequest(f"{name} must be a date as YYYY-MM-DD, not {raw!r}", code="invalid_date") from None
    first, last = bounds
    if "from" not in request.query_params and "to" in request.query_params:
        first = last
    if first > last:
        raise BadRequest("from must not be after to", code="invalid_date_range")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(f"a usage report covers at most {MAX_DAYS} days", code="invalid_date_range")
    return first, last


