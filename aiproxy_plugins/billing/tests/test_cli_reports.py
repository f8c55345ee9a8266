"""``aiproxy billing-usage`` and ``aiproxy billing-invoice`` against a real embedded gateway's files."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import httpx
import yaml

from aiproxy_sdk import GatewayProcess, run_aiproxy


def test_usage_and_invoice_commands_print_the_admin_api_numbers(aiproxy_mock_upstream: str, tmp_path: Path) -> None:
    config = {"storage": {"path": str(tmp_path / "aiproxy.db")}}
    with GatewayProcess(config, workdir=tmp_path) as gateway:
        admin = httpx.Client(base_url=gateway.admin_url, timeout=10)
        tenant = admin.post("/api/v1/tenants", json={"name": "Acme", "subdomain": "acme"}).json()
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        base = f"/api/v1/tenants/{tenant['id']}"
        plan = admin.post(f"{base}/plans", headers=auth, json={"name": "Calls", "type": "pay_per_call", "price_per_request": "0.015"}).json()
        rule = admin.post(f"{base}/rules", headers=auth, json={"path": "/v1", "target": aiproxy_mock_upstream,
                                                              "plugin_chain": [{"name": "billing", "settings": {}}]})
        assert rule.status_code == 201, rule.text
        consumer = admin.post(f"{base}/consumers", headers=auth, json={"name": "Alice", "plan_id": plan["id"]}).json()
        key = admin.post(f"{base}/consumers/{consumer['id']}/keys", headers=auth, json={}).json()["key"]
        proxy = httpx.Client(base_url=gateway.proxy_url, headers={"Host": "acme.localhost", "Authorization": f"Bearer {key}"})
        for _ in range(3):
            answer = proxy.post("/v1/chat/completions", json={"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]})
            assert answer.status_code == 200, answer.text
    # stopped: its shutdown drained the outbox; --once finds nothing more, and is harmless
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert run_aiproxy("billing-worker", "--config", str(path), "--once", cwd=tmp_path).returncode == 0

    today = datetime.now(timezone.utc).date()
    who = ("--config", str(path), "--tenant", tenant["id"], "--consumer", consumer["id"])
    usage = run_aiproxy("billing-usage", *who, "--from", today.replace(day=1).isoformat(), "--to", today.isoformat(), cwd=tmp_path)
    assert usage.returncode == 0, usage.stderr
    report = json.loads(usage.stdout)
    assert (report["requests"], report["cost_exact"], report["cost"], report["plan_id"]) == (3, "0.045", "0.05", plan["id"])

    invoice = run_aiproxy("billing-invoice", *who, "--period", today.strftime("%Y-%m"), cwd=tmp_path)
    assert invoice.returncode == 0, invoice.stderr
    bill = json.loads(invoice.stdout)
    # 3 x 0.015 = 0.045 -> 0.05 (half up)
    assert [(l["quantity"], l["unit_price"], l["amount"]) for l in bill["lines"]] == [(3, "0.015", "0.045")]
    assert (bill["subtotal"], bill["total"], bill["status"]) == ("0.045", "0.05", "open")

    bad = run_aiproxy("billing-invoice", *who[:-1], "con_nobody", "--period", "2025-05", cwd=tmp_path)
    assert bad.returncode == 1 and json.loads(bad.stderr)["error"]["code"] == "consumer_not_found"
    bad = run_aiproxy("billing-invoice", *who, "--period", "2025-5", cwd=tmp_path)
    assert bad.returncode == 1 and json.loads(bad.stderr)["error"]["code"] == "invalid_period"
