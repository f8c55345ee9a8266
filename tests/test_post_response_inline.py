"""post_response hooks that are all plain ``def`` run inline once the answer is sent (no task per
request); a chain with an ``async def`` one runs them in the background as before."""

from __future__ import annotations

import asyncio
from typing import Any

from aiproxy_core import RequestContext, hookimpl
from aiproxy_core.chain.executor import post_response_failures


class Seen:
    def __init__(self) -> None:
        self.statuses: list[int] = []

    @hookimpl
    def post_response(self, ctx: RequestContext) -> None:
        assert ctx.response is not None
        self.statuses.append(ctx.response.status)


class Broken:
    @hookimpl
    def post_response(self, ctx: RequestContext) -> None:
        raise RuntimeError("the meter broke")


class Slow:
    def __init__(self) -> None:
        self.done = 0

    @hookimpl
    async def post_response(self, ctx: Any) -> None:
        await asyncio.sleep(0.05)
        self.done += 1


async def test_plain_hooks_run_inline_and_a_failure_only_counts(aiproxy_gateway_factory):
    seen = Seen()
    gw = await aiproxy_gateway_factory(plugins={"seen": seen, "broken": Broken()}, chain=[{"name": "broken"}, {"name": "seen"}])
    before = post_response_failures.get("broken", 0)
    response = await gw.chat()
    assert response.status_code == 200
    # No settle(): the hooks ran before the request's handler returned.
    assert seen.statuses == [200]
    assert post_response_failures.get("broken", 0) == before + 1
    assert not gw.gateway._background


async def test_a_chain_with_an_async_hook_runs_them_in_the_background(aiproxy_gateway_factory):
    seen, slow = Seen(), Slow()
    gw = await aiproxy_gateway_factory(plugins={"seen": seen, "slow": slow}, chain=[{"name": "slow"}, {"name": "seen"}])
    assert (await gw.chat()).status_code == 200
    await gw.settle()
    assert slow.done == 1 and seen.statuses == [200]
