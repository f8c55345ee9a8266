"""The operator's ``plugins.billing`` section: where the ledger worker runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml

from aiproxy_sdk import run_aiproxy


async def test_run_worker_false_queues_events_for_a_separate_billing_worker(
    billing_gateway: Any, plugin_of: Any, backend: dict[str, Any] | None, tmp_path: Path
) -> None:
    gw = await billing_gateway(run_worker=None, config={"plugins": {"billing": {"run_worker": False}}})
    for n in range(5):
        assert (await gw.chat(f"question {n}")).status_code == 200
    await gw.settle()
    await asyncio.sleep(0.6)  # longer than an in-process worker's poll: it would have moved them by now
    ledger = plugin_of(gw).backend().ledger
    assert await ledger.count(gw.tenant["id"]) == 0, "this gateway was told not to run the worker"

    config = tmp_path / "worker.yaml"
    section: dict[str, Any] = {"storage": {"path": str(gw.gateway.config.storage.path)}}
    if backend is not None:
        section["redis"] = backend
    config.write_text(yaml.safe_dump(section))

    def status() -> dict[str, Any]:
        shown = run_aiproxy("billing-status", "--config", str(config), "--tenant", gw.tenant["id"], cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)

    before = status()
    assert before["ledger"]["events"] == 0
    assert before["queue"].get("events_waiting", before["queue"].get("entries_waiting")) >= 1
    done = run_aiproxy("billing-worker", "--config", str(config), "--once", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "moved 5 event(s)" in done.stdout
    assert await ledger.count(gw.tenant["id"]) == 5
    after = status()
    assert after["ledger"]["events"] == 5
    assert after["queue"].get("events_waiting", after["queue"].get("entries_waiting")) == 0


async def test_the_config_default_runs_the_worker_in_the_gateway(billing_gateway: Any, plugin_of: Any, wait_for: Any) -> None:
    gw = await billing_gateway(run_worker=None)
    assert (await gw.chat("hello")).status_code == 200
    ledger = plugin_of(gw).backend().ledger

    async def billed() -> bool:
        return await ledger.count(gw.tenant["id"]) == 1

    await wait_for(billed)


def test_aiproxy_serve_refuses_a_misspelt_billing_option(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("plugins:\n  billing:\n    run_workers: false\n")
    done = run_aiproxy("serve", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "plugins.billing.run_workers: unknown option (check its spelling)" in done.stderr
    assert "Traceback" not in done.stderr


def test_aiproxy_plugins_lists_the_billing_options() -> None:
    done = run_aiproxy("plugins")
    assert done.returncode == 0, done.stderr
    assert "config:   plugins.billing.claim_idle, plugins.billing.dedupe_seconds, plugins.billing.run_worker" in done.stdout
