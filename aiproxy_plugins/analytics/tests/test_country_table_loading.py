"""The country table (~0.3 s, ~40 MB) is loaded only by a gateway whose chains use analytics."""

from __future__ import annotations

from aiproxy_analytics import Analytics
from aiproxy_analytics.settings import AnalyticsConfig


async def test_the_table_waits_for_a_chain_that_uses_analytics(aiproxy_gateway_factory):
    plugin = Analytics(config=AnalyticsConfig(flush_seconds=60, keep_records=True))
    gw = await aiproxy_gateway_factory(plugins={"analytics": plugin}, chain=[])
    assert (await gw.chat()).status_code == 200
    await gw.settle()
    assert plugin._countries is None, "loaded though no chain uses analytics"

    await gw.set_chain([{"name": "analytics"}])
    assert (await gw.chat()).status_code == 200
    await gw.settle()
    # The request left its row; the table is the flush's to load (off the event loop), not the request's.
    assert plugin._countries is None
    assert plugin.recorder is not None and plugin.recorder.held[0] == 1
    assert await plugin.flush_now() == 18  # the request in 3 intervals x 6 dimensions
    assert plugin._countries is not None
