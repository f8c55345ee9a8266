"""Token limits: an estimate is reserved before the call, and the real usage replaces it after.

The mock upstream counts words as tokens, so usage is exact; the estimate for these requests is
``max_tokens`` plus a quarter of the prompt's characters, rounded up.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import httpx

LIMIT = 1000
PROMPT = "please count these words"
MAX_TOKENS = 50
ESTIMATE = MAX_TOKENS + math.ceil(len(PROMPT) / 4)
SETTINGS = {"limit": LIMIT, "window": "1m", "cost": "tokens"}


def remaining(response: httpx.Response) -> int:
    return int(response.headers["x-ratelimit-remaining"])


async def after_settlement() -> None:
    # Settlement runs in post_response, after the client has its answer; give it its turn.
    await asyncio.sleep(0.2)


def streamed_usage(text: str) -> int:
    usages = [
        json.loads(line[5:])["usage"]["total_tokens"]
        for line in text.splitlines()
        if line.startswith("data: {") and '"usage"' in line
    ]
    assert len(usages) == 1
    return usages[0]


async def test_a_plain_answer_settles_to_its_real_usage(limited_gateway: Any) -> None:
    gw = await limited_gateway(SETTINGS)
    first = await gw.chat(PROMPT, max_tokens=MAX_TOKENS)
    assert first.status_code == 200
    assert remaining(first) == LIMIT - ESTIMATE  # the reservation
    used = first.json()["usage"]["total_tokens"]
    assert used != ESTIMATE
    await after_settlement()
    second = await gw.chat(PROMPT, max_tokens=MAX_TOKENS)
    assert remaining(second) == LIMIT - used - ESTIMATE


async def test_a_streamed_answer_settles_to_the_usage_of_its_last_chunk(limited_gateway: Any) -> None:
    gw = await limited_gateway(SETTINGS)
    first = await gw.chat(PROMPT, max_tokens=MAX_TOKENS, stream=True)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/event-stream")
    assert remaining(first) == LIMIT - ESTIMATE
    used = streamed_usage(first.text)
    await after_settlement()
    second = await gw.chat(PROMPT, max_tokens=MAX_TOKENS)
    assert remaining(second) == LIMIT - used - ESTIMATE


async def test_a_failed_call_is_refunded(limited_gateway: Any) -> None:
    gw = await limited_gateway(SETTINGS)
    failed = await gw.chat(PROMPT, max_tokens=MAX_TOKENS, headers={"X-Mock-Status": "500"})
    assert failed.status_code == 500
    assert remaining(failed) == LIMIT - ESTIMATE
    await after_settlement()
    second = await gw.chat(PROMPT, max_tokens=MAX_TOKENS)
    assert remaining(second) == LIMIT - ESTIMATE


async def test_a_request_over_the_token_limit_is_refused_and_uses_nothing(limited_gateway: Any) -> None:
    gw = await limited_gateway({**SETTINGS, "limit": 100})
    first = await gw.chat(PROMPT, max_tokens=60)  # reserves 66 of 100
    assert first.status_code == 200
    refused = await gw.chat(PROMPT, max_tokens=60)  # would need 66 more before the first settles
    assert refused.status_code == 429
    assert refused.json()["error"]["message"].startswith("rate limit of 100 tokens per 1m exceeded")
    await after_settlement()
    # The first settled to a handful of tokens, and the refusal reserved nothing: room again.
    assert (await gw.chat(PROMPT, max_tokens=60)).status_code == 200
