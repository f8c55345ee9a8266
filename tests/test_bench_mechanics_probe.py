"""bench/mechanics_probe's plugins make the state-API calls ``bench/mechanics.sh`` measures: a
benchmark that silently measured nothing (a probe whose calls broke with the state API) would
read as "the calls cost nothing"."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "mechanics_probe"))
from aiproxy_mechanics_probe import ProbeAppend, ProbeBoth, ProbeCount, ProbeStage  # noqa: E402


async def _claimed(queue: Any, wanted: int) -> list[Any]:
    """What the probe queued, once ``wanted`` items are there (post_response runs after the answer);
    with ``wanted`` 0, what is there now."""
    items = [entry.item for entry in await queue.claim("test", "reader")]
    for _ in range(100):
        if len(items) >= wanted:
            break
        await asyncio.sleep(0.05)
        items += [entry.item for entry in await queue.claim("test", "reader")]
    return items


@pytest.mark.parametrize(
    ("probe", "counts", "appends"),
    [(ProbeCount, True, False), (ProbeAppend, False, True), (ProbeBoth, True, True), (ProbeStage, False, False)],
)
async def test_each_probe_makes_exactly_its_own_calls(aiproxy_gateway_factory, aiproxy_backend, probe, counts, appends):
    gw = await aiproxy_gateway_factory(plugins={"probe": probe()}, chain=[{"name": "probe"}], redis=aiproxy_backend)
    for _ in range(3):
        assert (await gw.chat()).status_code == 200

    state = gw.gateway.services.state("mechanics_probe")
    counted = await state.counters(gw.tenant["id"]).peek("probe", limit=100_000_000, window=60.0)
    assert counted.count == (3 if counts else 0)
    queued = await _claimed(state.queue("probe"), 3 if appends else 0)
    assert queued == ([{"probe": 1}] * 3 if appends else [])
