"""Billing's ``metric_readings``: its queues' backlogs in ``GET /metrics``."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from aiproxy_billing.plugin import Billing


def _gauges(text: str) -> dict[str, float]:
    return {sample.name: sample.value for family in text_string_to_metric_families(text) for sample in family.samples if not sample.labels}


async def test_the_backlog_is_in_metrics_and_drains_to_zero(aiproxy_gateway_factory):
    stopped = await aiproxy_gateway_factory(plugins={"billing": Billing()}, chain=[{"name": "billing"}], config={"plugins": {"billing": {"run_worker": False}}})
    for _ in range(3):
        assert (await stopped.chat()).status_code == 200
    await stopped.settle()
    gauges = _gauges((await stopped.admin.get("/metrics")).text)
    assert gauges["aiproxy_billing_events_waiting"] == 3  # no worker runs: the events wait
    assert gauges["aiproxy_billing_exports_waiting"] == 0
