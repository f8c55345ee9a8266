"""``/api/v1/tenants/{tenant_id}/rules``: forwarding rules, managed with a tenant key."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import Conflict, NotFound
from ..models import Rule, RuleInput, Tenant
from .chain_checks import check_entries, check_references
from .json_body import read_model
from .lookups import authorized_tenant
from .secret_headers import masked_headers, with_kept_secrets
from .secret_settings import entries_with_kept_secrets, masked_entry
from .state import gateway_of
from ..routing.plan import RoutePlan


async def _checked_input(request: Request, tenant: Tenant, replacing: str | None = None) -> RuleInput:
    gateway = gateway_of(request)
    body = await read_model(request, RuleInput, gateway.config.server.max_admin_body_bytes)
    for url in rule_urls(body):  # SSRF: 422 target_not_allowed
        await gateway.target_policy.check_target(url)
    # Secrets in plugin settings sent back masked (as a GET showed them) keep the stored value.
    stored = await gateway.store.get_rule(tenant.id, replacing) if replacing else None
    entries_with_kept_secrets(
        ((f"plugin_chain.{i}", i, e) for i, e in enumerate(body.plugin_chain)),
        enumerate(stored.plugin_chain) if stored else (),
        gateway.registry,
    )
    check_entries(
        ((f"plugin_chain.{i}", e) for i, e in enumerate(body.plugin_chain)),
        gateway.registry,
        allowed=tenant.enabled_plugins,
        required=tenant.required_plugins,
    )
    await check_references(((f"plugin_chain.{i}", e) for i, e in enumerate(body.plugin_chain)), gateway, tenant.id)
    for other in await gateway.store.list_rules(tenant.id):
        if other.id == replacing or other.path != body.path:
            continue
        if other.methods is None or body.methods is None or set(other.methods) & set(body.methods):
            raise Conflict(
                f"rule {other.id} already forwards {body.path} for {', '.join(other.methods or ['every method'])}; "
                "change that rule, or give this one other methods",
                code="rule_conflict",
            )
    return body


def rule_urls(rule: RuleInput | Rule) -> list[str]:
    """Every upstream URL a rule names: its ``target`` or each of its ``targets``."""
    if rule.targets is not None:
        return [str(t.url) for t in rule.targets]
    return [str(rule.target)]


def _keep_secrets(body: RuleInput, current: Rule | None) -> None:
    """Masked credentials sent back (as a GET showed them) keep the stored values they mask:
    the rule's headers by name, a target's by name at the same position in the list."""
    body.upstream_headers = with_kept_secrets(body.upstream_headers, current.upstream_headers if current else None)
    stored = current.targets if current is not None and current.targets is not None else []
    for index, target in enumerate(body.targets or ()):
        before = stored[index].upstream_headers if index < len(stored) else None
        target.upstream_headers = with_kept_secrets(target.upstream_headers, before)


def _shown(rule: Rule, request: Request) -> dict[str, Any]:
    """A rule as the Admin API answers it: credentials in ``upstream_headers`` and plugin settings masked."""
    shown = rule.model_dump(mode="json")
    shown["upstream_headers"] = masked_headers(rule.upstream_headers)
    for target in shown.get("targets") or ():
        target["upstream_headers"] = masked_headers(target["upstream_headers"])
    registry = gateway_of(request).registry
    shown["plugin_chain"] = [masked_entry(entry, registry) for entry in shown["plugin_chain"]]
    return shown


async def create_rule(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    body = await _checked_input(request, tenant)
    _keep_secrets(body, None)
    now = datetime.now(timezone.utc)
    rule = Rule(id="rul_" + uuid.uuid4().hex[:16], tenant_id=tenant.id, created_at=now, updated_at=now, **body.model_dump())
    await gateway_of(request).store.put_rule(rule)
    return JSONResponse(_shown(rule, request), status_code=201)


async def list_rules(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    rules = await gateway_of(request).store.list_rules(tenant.id)
    return JSONResponse({"data": [_shown(r, request) for r in rules]})


async def _rule_or_404(request: Request, tenant: Tenant) -> Rule:
    rule_id = request.path_params["rule_id"]
    rule = await gateway_of(request).store.get_rule(tenant.id, rule_id)
    if rule is None:
        raise NotFound(f"tenant {tenant.id} has no rule {rule_id!r}", code="rule_not_found")
    return rule


async def get_rule(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    return JSONResponse(_shown(await _rule_or_404(request, tenant), request))


async def replace_rule(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    current = await _rule_or_404(request, tenant)
    body = await _checked_input(request, tenant, replacing=current.id)
    _keep_secrets(body, current)
    rule = Rule(
        id=current.id,
        tenant_id=tenant.id,
        created_at=current.created_at,
        updated_at=datetime.now(timezone.utc),
        **body.model_dump(),
    )
    await gateway_of(request).store.put_rule(rule)
    return JSONResponse(_shown(rule, request))


async def delete_rule(request: Request) -> Response:
    tenant = await authorized_tenant(request)
    rule = await _rule_or_404(request, tenant)
    await gateway_of(request).store.delete_rule(tenant.id, rule.id)
    return Response(status_code=204)


async def rule_targets(request: Request) -> Response:
    """Each target of a rule with its health as every gateway process shares it: circuit state,
    requests and failures in the current window, error rate and average latency."""
    tenant = await authorized_tenant(request)
    rule = await _rule_or_404(request, tenant)
    gateway = gateway_of(request)
    plan = RoutePlan(rule)
    urls = rule_urls(rule)
    shown = []
    for target in plan.targets:
        health = await gateway.target_health.describe(tenant.id, target.health_key, plan.circuit)
        shown.append(
            {
                "index": target.index,
                "name": target.name,
                "url": urls[target.index],
                "provider": target.provider or None,
                "model": target.model,
                "weight": target.weight,
                "priority": target.priority,
                **health,
            }
        )
    return JSONResponse({"rule_id": rule.id, "strategy": plan.strategy, "data": shown})
