"""How billing appears in the OpenAPI documents.

* ``admin_openapi``: its Admin API routes (plans, usage, invoices, credits, export), with the
  models the endpoints validate bodies with;
* ``tenant_openapi``: on a tenant's public document, the 402 and 429 a consumer may meet and the
  tenant's plans with their prices (``x-aiproxy-plans``), which is what a consumer chooses from.
  The chain entry's own settings (its default plan, the reserve) are not shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, create_model

from .admin_routes import TENANT, PlanBody, TopUpBody
from .backend import BillingBackend
from .export import ExportTargetInput
from .plans import FreePlan, PayPerCallPlan, SubscriptionPlan, TieredPlan, UsagePlan

__all__ = ["billing_admin_openapi", "billing_tenant_openapi"]

_CONSUMER = TENANT + "/consumers/{consumer_id}"
_OBJECT = {"type": "object", "additionalProperties": True}
_MONEY = {"type": "string", "description": "A decimal amount, e.g. \"10.00\"."}


def _shown(plan_type: type[BaseModel]) -> type[BaseModel]:
    """A plan type as the Admin API answers it: its fields beside the stored plan's id and times."""
    return create_model(  # type: ignore[call-overload,no-any-return]
        plan_type.__name__ + "Shown", __base__=plan_type, id=(str, ...), tenant_id=(str, ...), created_at=(datetime, ...), updated_at=(datetime, ...)
    )


_PLAN = {"oneOf": [_shown(kind) for kind in (FreePlan, PayPerCallPlan, SubscriptionPlan, TieredPlan, UsagePlan)]}
_EXPORT = {
    "type": "object",
    "required": ["url", "signed"],
    "properties": {
        "url": {"type": "string"},
        "signed": {"type": "boolean"},
        "secret": {"type": ["string", "null"], "description": "Masked: `****` and the last four characters; send it back as shown to keep it."},
    },
}
_CREDITS = {"type": "object", "required": ["consumer_id", "balance"], "properties": {"consumer_id": {"type": "string"}, "balance": _MONEY}}
_DATE = {"type": "string", "format": "date"}


def _json(schema: Any, description: str = "The answer.") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(model: Any) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": model}}}


_DONE = {"204": {"description": "Done."}}
_PERIOD = {"name": "period", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
           "description": "A month, YYYY-MM."}


def _with_path(*extra: dict[str, Any], consumer: bool = False, plan: bool = False) -> list[dict[str, Any]]:
    names = ["tenant_id", *(["consumer_id"] if consumer else []), *(["plan_id"] if plan else [])]
    found = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}} for name in names]
    return found + list(extra)


def billing_admin_openapi() -> dict[str, Any]:
    plans = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": _PLAN}}}
    return {
        TENANT + "/plans": {
            "post": {"summary": "Create a plan", "tags": ["billing"], "requestBody": _body(PlanBody), "responses": {"201": _json(_PLAN)}},
            "get": {"summary": "List the tenant's plans", "tags": ["billing"], "responses": {"200": _json(plans)}},
        },
        TENANT + "/plans/{plan_id}": {
            "get": {"summary": "Get a plan", "tags": ["billing"], "responses": {"200": _json(_PLAN)}},
            "put": {"summary": "Replace a plan", "tags": ["billing"], "requestBody": _body(PlanBody), "responses": {"200": _json(_PLAN)}},
            "delete": {"summary": "Delete a plan", "tags": ["billing"], "responses": _DONE},
        },
        TENANT + "/billing/export": {
            "put": {"summary": "Send the tenant's billing events to a webhook (CloudEvents)", "tags": ["billing"],
                    "requestBody": _body(ExportTargetInput), "responses": {"200": _json(_EXPORT)}},
            "get": {"summary": "The export target", "tags": ["billing"], "responses": {"200": _json(_EXPORT)}},
            "delete": {"summary": "Stop exporting", "tags": ["billing"], "responses": _DONE},
        },
        _CONSUMER + "/credits": {
            "post": {"summary": "Top up a consumer's prepaid credits", "tags": ["billing"], "requestBody": _body(TopUpBody),
                     "responses": {"200": _json(_CREDITS)}},
            "get": {"summary": "A consumer's prepaid balance", "tags": ["billing"], "responses": {"200": _json(_CREDITS)}},
        },
        _CONSUMER + "/usage": {
            "get": {
                "summary": "A consumer's usage and its price over a range of days",
                "description": "`consumer_id` may also be `key:<key id>`: a tenant key's own usage.",
                "tags": ["billing"],
                "parameters": _with_path(
                    {"name": "from", "in": "query", "schema": _DATE, "description": "First day (default: today, UTC)."},
                    {"name": "to", "in": "query", "schema": _DATE, "description": "Last day, inclusive (default: today)."},
                    {"name": "plan_id", "in": "query", "schema": {"type": "string"}, "description": "Price it on this plan instead."},
                    consumer=True,
                ),
                "responses": {"200": _json(_OBJECT)},
            }
        },
        _CONSUMER + "/invoices/{period}": {
            "get": {"summary": "A consumer's invoice for a month", "tags": ["billing"], "parameters": _with_path(_PERIOD, consumer=True),
                    "responses": {"200": _json(_OBJECT)}},
        },
        _CONSUMER + "/invoices/{period}/close": {
            "post": {"summary": "Close a month's invoice (it no longer changes)", "tags": ["billing"],
                     "parameters": _with_path(_PERIOD, consumer=True),
                     "responses": {"200": _json(_OBJECT), "409": {"$ref": "#/components/responses/Conflict"}},
                     "description": "409 `period_not_over` before the month's last day (UTC) has passed, `invoice_closed` when it is closed already."},
        },
    }


_REFUSALS = {
    "402": {"description": "Billing: the consumer's prepaid credits are too low (`insufficient_credits`) or its free plan's quota is used up "
                           "(`quota_exceeded`, with Retry-After) and the plan says 402."},
    "429": {"description": "Billing: the free plan's quota is used up (`quota_exceeded`); Retry-After says when the period ends.",
            "headers": {"Retry-After": {"description": "Seconds until the quota's period ends.", "schema": {"type": "integer"}}}},
}


async def billing_tenant_openapi(backend: BillingBackend, tenant_id: str) -> dict[str, Any]:
    # Only the plans the tenant put on sale (``public: true``), as the portal shows them: a plan
    # negotiated with one customer is nobody else's business.
    plans = [plan.on_portal() for plan in await backend.plans.list(tenant_id) if plan.spec.public]
    return {"responses": _REFUSALS, "extensions": {"x-aiproxy-plans": plans}}
