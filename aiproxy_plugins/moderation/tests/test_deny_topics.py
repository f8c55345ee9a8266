"""Deny topics matched by meaning with the embedding model (slow: loads all-MiniLM-L6-v2)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

TOPICS = {"deny_topics": ["competitor products and pricing", "election politics and candidates"]}


@pytest.mark.parametrize(
    "prompt",
    ["Which is cheaper, your product or the one from AcmeCorp?", "What do you think of the candidates in the presidential race?"],
)
async def test_prompts_on_a_deny_topic_are_blocked(make_gateway, prompt):
    gw = await make_gateway(TOPICS)
    response = await gw.chat(prompt)
    assert response.status_code == 400, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["categories"] == ["deny_topic"]
    assert detail["category_scores"]["deny_topic"] >= 0.45


@pytest.mark.parametrize("prompt", ["How do I reset my password?", "Write a poem about spring", "How do I kill a Python process?"])
async def test_prompts_off_the_topics_pass(make_gateway, prompt):
    gw = await make_gateway(TOPICS)
    assert (await gw.chat(prompt)).status_code == 200


async def test_a_deny_topic_can_be_flagged_instead(make_gateway):
    gw = await make_gateway({**TOPICS, "actions": {"deny_topic": "flag"}})
    response = await gw.chat("Who should I vote for in the election?")
    assert response.status_code == 200
    assert response.headers["x-moderation-flagged"] == "deny_topic"
