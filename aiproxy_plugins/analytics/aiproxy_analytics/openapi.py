"""How the analytics routes appear in the Admin API's OpenAPI document (the ``admin_openapi`` hook)."""

from __future__ import annotations

from typing import Any

from .buckets import INTERVALS
from .query import GROUP_BY

__all__ = ["analytics_openapi"]

TENANT = "/api/v1/tenants/{tenant_id}"

_TIME = {"type": "string", "description": "A time: ISO 8601 (UTC unless it names a zone) or Unix seconds."}


def _query(grouped: bool) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": "from", "in": "query", "schema": _TIME, "description": "Start (default: a day of hours, an hour of minutes, 30 days)."},
        {"name": "to", "in": "query", "schema": _TIME, "description": "End (default: now)."},
        {"name": "interval", "in": "query", "schema": {"type": "string", "enum": list(INTERVALS), "default": "hour"}},
    ]
    if grouped:
        parameters.append({"name": "group_by", "in": "query", "schema": {"type": "string", "enum": list(GROUP_BY)}})
    return parameters


_GROUPS = {
    "type": "object",
    "required": ["groups"],
    "properties": {
        "groups": {
            "type": "array",
            "description": "One per group value, busiest first: totals, latency and TTFT percentiles, and a series of buckets.",
            "items": {"type": "object", "additionalProperties": True},
        }
    },
    "additionalProperties": True,
}
_ANSWER = {"200": {"description": "The groups.", "content": {"application/json": {"schema": _GROUPS}}},
           "400": {"$ref": "#/components/responses/BadRequest"}}


def analytics_openapi() -> dict[str, Any]:
    return {
        TENANT + "/analytics": {
            "get": {
                "summary": "The tenant's request analytics, per interval, grouped by a dimension",
                "parameters": _query(grouped=True),
                "responses": _ANSWER,
            }
        },
        TENANT + "/consumers/{consumer_id}/analytics": {
            "get": {
                "summary": "One consumer's request analytics (what a consumer portal shows)",
                "parameters": _query(grouped=False),
                "responses": _ANSWER,
            }
        },
    }
