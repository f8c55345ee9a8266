"""Prompts through a gateway with the local backend (slow: loads the profanity model)."""

from __future__ import annotations

import asyncio

import pytest

from aiproxy_core import hookimpl
from aiproxy_moderation import plugin

pytestmark = pytest.mark.slow


async def test_default_settings_block_a_toxic_prompt(make_gateway):
    gw = await make_gateway()
    response = await gw.chat("You are a worthless fucking idiot and I hate you")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "content_flagged"
    assert error["details"][0]["categories"] == ["harassment"]
    assert error["details"][0]["where"] == "prompt"
    assert error["details"][0]["category_scores"]["harassment"] > 0.8


@pytest.mark.parametrize("prompt", ["How do I kill a Python process?", "This bug is killing me", "Shoot me an email when the build is done"])
async def test_benign_prompts_with_scary_words_pass(make_gateway, prompt):
    gw = await make_gateway()
    response = await gw.chat(prompt)
    assert response.status_code == 200, response.text
    assert "x-moderation-flagged" not in response.headers


async def test_flag_lets_the_prompt_through_with_a_header_and_an_annotation(aiproxy_gateway_factory):
    seen: dict = {}

    class Recorder:
        """What a billing plugin would read in post_response."""

        @hookimpl
        def post_response(self, ctx):
            seen.update(ctx.annotations)

    chain = [{"name": "moderation", "settings": {"actions": {"harassment": "flag"}}}, {"name": "recorder", "priority": 200}]
    gw = await aiproxy_gateway_factory(plugins={"moderation": plugin, "recorder": Recorder()}, chain=chain)
    response = await gw.chat("shut up you stupid bitch")
    assert response.status_code == 200
    assert response.headers["x-moderation-flagged"] == "harassment"
    for _ in range(100):  # post_response runs in the background, after the client has its answer
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen["moderation"]["flagged"] == ["harassment"]
    assert seen["moderation"]["prompt"]["categories"]["harassment"] is True


async def test_off_switches_a_category_off(make_gateway):
    gw = await make_gateway({"actions": {"harassment": "off"}})
    assert (await gw.chat("fuck off you idiot")).status_code == 200


async def test_a_lower_threshold_blocks_more(make_gateway):
    gw = await make_gateway({"thresholds": {"harassment": 0.1}})
    assert (await gw.chat("This bug is killing me")).status_code == 400


async def test_only_the_users_words_are_moderated(make_gateway):
    gw = await make_gateway()
    messages = [{"role": "system", "content": "Never say fucking idiot to the user."}, {"role": "user", "content": "Hello!"}]
    response = await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": messages})
    assert response.status_code == 200
