"""Settings: the seed's rule is accepted as it is, and bad values are 422s naming plugin and field."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from pydantic import ValidationError

from aiproxy_rate_limiter import RateLimiter, RateLimiterSettings
from aiproxy_rate_limiter.windows import window_seconds
from aiproxy_sdk.seed_examples import SEED_RULE

SEED = {"limit": 100, "window": "1m"}


def test_the_seed_rule_is_a_complete_setting() -> None:
    settings = RateLimiterSettings.model_validate(SEED)
    (policy,) = settings.policies("free")
    assert (policy.name, policy.limit, policy.seconds, str(policy.item)) == ("default", 100, 60, "100 per 1 minute")
    assert (settings.key, settings.cost, settings.on_error, settings.per_endpoint) == ("consumer", "requests", "closed", False)
    assert settings.algorithm == "sliding"


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("1m", 60), ("1h", 3600), ("1d", 86400), ("90s", 90), ("15m", 900)])
def test_windows(text: str, seconds: int) -> None:
    assert window_seconds(text) == seconds


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({}, "limit"),
        ({"limit": 100}, "window"),
        ({"limit": 0, "window": "1m"}, "limit"),
        ({"limit": "100", "window": "1m"}, "limit"),
        ({"limit": True, "window": "1m"}, "limit"),
        ({"limit": 100, "window": "1 minute"}, "window"),
        ({"limit": 100, "window": "0s"}, "window"),
        ({"limit": 100, "window": "2w"}, "window"),
        ({"limit": 100, "window": "400d"}, "window"),
        ({"limit": 100, "window": "1m", "key": "user"}, "key"),
        ({"limit": 100, "window": "1m", "key": "header:"}, "key"),
        ({"limit": 100, "window": "1m", "cost": "dollars"}, "cost"),
        ({"limit": 100, "window": "1m", "on_error": "maybe"}, "on_error"),
        ({"limit": 100, "window": "1m", "algorithm": "leaky"}, "algorithm"),
        ({"limit": 100, "window": "1m", "per_endpoint": "yes"}, "per_endpoint"),
        ({"limit": 100, "window": "1m", "burst": {"limit": 0}}, "burst.limit"),
        ({"limits": [{"limit": 5}]}, "limits.0.window"),
        ({"plans": {"pro": {"limit": 5, "window": "1y"}}}, "plans.pro.window"),
        ({"limit": 100, "window": "1m", "limt": 5}, "limt"),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RateLimiterSettings.model_validate(settings)
    fields = [".".join(str(p) for p in error["loc"]) for error in caught.value.errors()]
    assert fields == [field]


def test_burst_defaults_to_one_second_and_plans_add_a_limit_for_their_tier() -> None:
    settings = RateLimiterSettings.model_validate(
        {"limit": 100, "window": "1m", "burst": {"limit": 10}, "plans": {"free": {"limit": 20, "window": "1m"}}}
    )
    assert [(p.name, p.limit, p.seconds) for p in settings.policies("free")] == [
        ("default", 100, 60),
        ("burst", 10, 1),
        ("plan.free", 20, 60),
    ]
    assert [p.name for p in settings.policies("pro")] == ["default", "burst"]


def test_a_limit_given_twice_counts_once() -> None:
    settings = RateLimiterSettings.model_validate({"limit": 5, "window": "1m", "limits": [{"limit": 5, "window": "60s"}]})
    assert [p.name for p in settings.policies("free")] == ["default"]


# The seed README's rule entry, verbatim.
SEED_ENTRY = json.dumps(json.loads(SEED_RULE)["plugin_chain"][0])


async def test_the_seed_rule_is_saved_and_enforced(
    aiproxy_gateway_factory: Any,
    backend: dict[str, Any] | None,
    assert_limit_headers: Callable[..., None],
    before_a_boundary: Any,
) -> None:
    entry = json.loads(SEED_ENTRY)
    gw = await aiproxy_gateway_factory(plugins={"rate_limiter": RateLimiter()}, chain=[entry], redis=backend)
    await before_a_boundary(entry["settings"], needed=15.0)
    assert gw.rule["plugin_chain"] == [{**entry, "on_error": "closed"}]
    first = await gw.chat()
    # Narrowed to pre_request, the entry still labels successful answers (ctx.response_headers).
    assert_limit_headers(first, limit=100, window=60, remaining=99)
    statuses = [(await gw.chat()).status_code for _ in range(99)]
    assert statuses == [200] * 99
    refused = await gw.chat()
    assert refused.status_code == 429
    assert_limit_headers(refused, limit=100, window=60, remaining=0)
    assert 1 <= int(refused.headers["retry-after"]) <= 120  # sliding: up to two windows


async def test_without_a_stage_every_response_is_labelled(
    aiproxy_gateway_factory: Any, assert_limit_headers: Callable[..., None]
) -> None:
    entry = {**json.loads(SEED_ENTRY), "stage": None}
    gw = await aiproxy_gateway_factory(plugins={"rate_limiter": RateLimiter()}, chain=[entry])
    assert_limit_headers(await gw.chat(), limit=100, window=60, remaining=99)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"limit": 100, "window": "5 minutes"}, "plugin_chain.0.settings.window"),
        ({"limit": -1, "window": "1m"}, "plugin_chain.0.settings.limit"),
        ({"limit": 100, "window": "1m", "key": "user"}, "plugin_chain.0.settings.key"),
    ],
)
async def test_the_admin_api_refuses_bad_settings_with_a_422(
    aiproxy_gateway_factory: Any, settings: dict[str, Any], field: str
) -> None:
    gw = await aiproxy_gateway_factory(plugins={"rate_limiter": RateLimiter()})
    response = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules",
        headers=gw.tenant_auth,
        json={"path": "/v2", "target": "http://127.0.0.1:9", "plugin_chain": [{"name": "rate_limiter", "settings": settings}]},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_plugin_settings"
    assert "rate_limiter" in error["message"] and field in error["message"]
    assert error["details"][0] == {"field": field, "plugin": "rate_limiter", "message": error["details"][0]["message"]}
    rules = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth)).json()["data"]
    assert [r["path"] for r in rules] == ["/v1"]  # nothing was saved
