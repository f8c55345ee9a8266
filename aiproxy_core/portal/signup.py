"""Self-serve signup: a stranger becomes a consumer of the tenant, on the tenant's terms only.

Opt-in per tenant (``portal.self_serve``). The body names the consumer and nothing else: the plan is
the tenant's ``signup_plan``, the metadata is ``{"self_serve": true}``, the id is the gateway's.
Each client address may sign up ``signups_per_hour`` times (a sliding window in the state API, so
every gateway process counts together), and the tenant holds at most ``max_self_serve_consumers``.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from ..admin.json_body import read_model
from ..auth import new_key
from ..errors import Forbidden, RateLimited
from ..models import Consumer
from ..tenant_pages.app import gateway_of, tenant_of
from .caller import client_address
from .consumer_api import MAX_BODY, shown_consumer, shown_key
from .responses import private_json

__all__ = ["SELF_SERVE_MARK", "signup"]

#: The metadata every self-serve consumer gets, and how the cap finds them.
SELF_SERVE_MARK = "self_serve"
#: The core's own namespace in the state API.
STATE_NAMESPACE = "portal"
HOUR = 3600.0


class SignupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"\S")


async def signup(request: Request) -> Response:
    gateway = gateway_of(request)
    tenant = tenant_of(request)
    terms = tenant.portal
    if not terms.self_serve:
        raise Forbidden("this API does not take signups here; ask its provider for a key", code="self_serve_disabled")
    body = await read_model(request, SignupBody, MAX_BODY)
    counters = gateway.state.for_plugin(STATE_NAMESPACE).counters(tenant.id)
    verdict = await counters.add(f"signup:{client_address(request)}", 1, limit=terms.signups_per_hour, window=HOUR)
    if not verdict.allowed:
        wait = max(1, math.ceil(verdict.retry_after))
        raise RateLimited(f"too many signups from this address; try again in {wait} s", code="too_many_signups", headers={"Retry-After": str(wait)})
    # Counted at signup time: concurrent signups near the cap may pass it by a few, never by more
    # than the signups in flight at once (each also limited per address above).
    existing = sum(1 for c in await gateway.store.list_consumers(tenant.id) if c.metadata.get(SELF_SERVE_MARK) is True)
    if existing >= terms.max_self_serve_consumers:
        raise Forbidden("this API takes no more signups right now; ask its provider for a key", code="signup_limit_reached")
    now = datetime.now(timezone.utc)
    consumer = Consumer(
        id="con_" + uuid.uuid4().hex[:16], tenant_id=tenant.id, name=body.name.strip(), plan_id=terms.signup_plan,
        metadata={SELF_SERVE_MARK: True}, created_at=now, updated_at=now,
    )
    await gateway.store.put_consumer(consumer)
    raw_key, key = new_key(tenant.id, consumer.id, name="portal signup")
    await gateway.store.create_key(key)
    return private_json({"consumer": shown_consumer(consumer), **shown_key(key), "key": raw_key}, status_code=201)
