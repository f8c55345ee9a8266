"""The remote backend against a tiny OpenAI-compatible moderation endpoint on a real socket."""

from __future__ import annotations

import pytest

from aiproxy_moderation.remote_backend import ModerationUnavailable
from aiproxy_moderation.settings import ModerationSettings


def remote(url: str, **more) -> dict:
    return {"backend": "remote", "remote_url": f"{url}/v1/moderations", "api_key": "sk-remote-test", **more}


async def test_a_flagged_prompt_is_blocked_with_the_endpoints_categories(make_gateway, remote_moderation):
    gw = await make_gateway(remote(remote_moderation))
    response = await gw.chat("a story full of violence")
    assert response.status_code == 400
    detail = response.json()["error"]["details"][0]
    assert detail["categories"] == ["violence"]
    assert detail["category_scores"] == {"violence": 0.97}


async def test_a_clean_prompt_passes_and_pii_never_reaches_the_endpoint(make_gateway, remote_moderation, remote_calls):
    gw = await make_gateway(remote(remote_moderation, remote_model="omni-moderation-latest"))
    before = len(remote_calls)
    response = await gw.chat("hello, I am ann@example.com")
    assert response.status_code == 200
    sent = remote_calls[before]
    assert sent == {"input": ["hello, I am [EMAIL_1]"], "model": "omni-moderation-latest"}


async def test_thresholds_override_the_endpoints_decision(remote_moderation, moderate):
    settings = ModerationSettings.model_validate(remote(remote_moderation, thresholds={"hate": 0.25}))
    result = await moderate(["calm words"], settings)
    assert result.flagged_categories == ["hate"]
    assert result.as_dict()["category_scores"]["hate"] == 0.3


async def test_an_endpoint_failure_fails_closed_naming_the_plugin(make_gateway, remote_moderation):
    gw = await make_gateway(remote(remote_moderation) | {"remote_url": f"{remote_moderation}/broken"})
    response = await gw.chat("hello")
    assert response.status_code == 500
    assert response.json()["error"]["details"] == [{"plugin": "moderation", "hook": "pre_request"}]


async def test_on_error_open_skips_a_failing_endpoint(aiproxy_gateway_factory, remote_moderation):
    from aiproxy_moderation import plugin

    settings = remote(remote_moderation) | {"api_key": "wrong"}
    chain = [{"name": "moderation", "settings": settings, "on_error": "open"}]
    gw = await aiproxy_gateway_factory(plugins={"moderation": plugin}, chain=chain)
    assert (await gw.chat("hello")).status_code == 200


async def test_a_bad_answer_is_unavailable_not_a_pass(remote_moderation, moderate):
    settings = ModerationSettings.model_validate(remote(remote_moderation, api_key="wrong"))
    with pytest.raises(ModerationUnavailable, match="401"):
        await moderate(["x"], settings)
