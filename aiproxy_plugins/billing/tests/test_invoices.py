"""Invoices on both backends: lines from the pricing engine, closing, an adjustment, bad input.

Events are written straight into the ledger with past timestamps (a closed month is in the past);
every amount below is computed by hand.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from aiproxy_billing.events import BillingEvent

_ids = itertools.count()


def events(gw: Any, consumer_id: str, day: str, endpoint: str, n: int, model: str = "gpt-x", tokens: tuple[int, int] = (0, 0)) -> list[tuple[str, BillingEvent]]:
    """Events as the worker hands them to the ledger: each with its queue batch (its own, here)."""
    return [
        (f"batch-{next(_ids)}", BillingEvent(
            request_id=f"inv-{next(_ids)}", tenant_id=gw.tenant["id"], consumer_id=consumer_id, key_id="key_1",
            rule_id="rule_1", endpoint=endpoint, model=model, input_tokens=tokens[0], output_tokens=tokens[1],
            status=200, latency_ms=1.0, timestamp=f"{day}T12:00:00.000Z",
        ))
        for _ in range(n)
    ]


async def plan(gw: Any, body: dict[str, Any]) -> str:
    made = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/plans", json=body, headers=gw.tenant_auth)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def lines(invoice: dict[str, Any]) -> list[tuple[str, Any, str, str]]:
    return [(line["type"], line["quantity"], line["unit_price"], line["amount"]) for line in invoice["lines"]]


async def test_pay_per_call_invoice_close_and_adjustment(billing_gateway: Any, consumer: Any, plugin_of: Any) -> None:
    gw = await billing_gateway(run_worker=False)
    plan_id = await plan(gw, {"name": "Calls", "type": "pay_per_call", "price_per_request": "0.015",
                              "endpoint_prices": {"/v1/embeddings": "0.0005"}})
    consumer_id, _ = await consumer(gw, plan_id)
    ledger = plugin_of(gw).backend().ledger
    await ledger.write(events(gw, consumer_id, "2025-05-03", "/v1/chat/completions", 2)
                       + events(gw, consumer_id, "2025-05-31", "/v1/chat/completions", 1)
                       + events(gw, consumer_id, "2025-05-10", "/v1/embeddings", 2)
                       + events(gw, consumer_id, "2025-06-01", "/v1/chat/completions", 1))
    base = f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer_id}/invoices"

    may = (await gw.admin.get(f"{base}/2025-05", headers=gw.tenant_auth)).json()
    # 3 x 0.015 = 0.045; 2 x 0.0005 = 0.001; 0.046 -> 0.05
    assert lines(may) == [("usage", 3, "0.015", "0.045"), ("usage", 2, "0.0005", "0.001")]
    assert [line["description"] for line in may["lines"]] == ["Requests to /v1/chat/completions", "Requests to /v1/embeddings"]
    assert (may["subtotal"], may["total"], may["currency"], may["plan_id"], may["status"]) == ("0.046", "0.05", "USD", plan_id, "open")
    usage = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer_id}/usage?from=2025-05-01&to=2025-05-31",
                                headers=gw.tenant_auth)).json()
    assert usage["cost"] == may["total"] and Decimal(usage["cost_exact"]) == Decimal(may["subtotal"])

    closed = await gw.admin.post(f"{base}/2025-05/close", headers=gw.tenant_auth)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["total"] == "0.05"
    again = await gw.admin.post(f"{base}/2025-05/close", headers=gw.tenant_auth)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invoice_closed"

    # two late May events (a slow worker): May stays as closed, June carries them
    await ledger.write(events(gw, consumer_id, "2025-05-20", "/v1/chat/completions", 2))
    may_again = (await gw.admin.get(f"{base}/2025-05", headers=gw.tenant_auth)).json()
    assert may_again["total"] == "0.05" and may_again["requests"] == 5 and may_again["status"] == "closed"
    june = (await gw.admin.get(f"{base}/2025-06", headers=gw.tenant_auth)).json()
    # 1 x 0.015 = 0.015, adjustment 2 x 0.015 = 0.030: 0.045 -> 0.05 (half up)
    assert lines(june) == [("usage", 1, "0.015", "0.015"), ("adjustment", 1, "0.03", "0.03")]
    assert "2025-05: 2 request(s)" in june["lines"][1]["description"]
    assert (june["subtotal"], june["total"]) == ("0.045", "0.05")

    assert (await gw.admin.post(f"{base}/2025-06/close", headers=gw.tenant_auth)).status_code == 200
    july = (await gw.admin.get(f"{base}/2025-07", headers=gw.tenant_auth)).json()
    assert july["lines"] == [] and july["total"] == "0.00"  # June's close billed May's remainder: nothing twice


async def test_subscription_and_usage_plan_lines(billing_gateway: Any, consumer: Any, plugin_of: Any) -> None:
    gw = await billing_gateway(run_worker=False)
    pro = await plan(gw, {"name": "Pro", "type": "subscription", "fee": "49.00", "included_requests": 2,
                          "overage_per_request": "0.004"})
    tokens = await plan(gw, {"name": "Tokens", "type": "usage", "markup_percent": "20", "use_price_table": False,
                             "prices": {"m": {"input_per_1m": "2.50", "output_per_1m": "10.00"}}})
    sub_id, _ = await consumer(gw, pro, name="Sub")
    tok_id, _ = await consumer(gw, tokens, name="Tok")
    ledger = plugin_of(gw).backend().ledger
    await ledger.write(events(gw, sub_id, "2025-05-02", "/v1/chat/completions", 5)
                       + events(gw, tok_id, "2025-05-02", "/v1/chat/completions", 1, model="m", tokens=(1000, 500)))
    root = f"/api/v1/tenants/{gw.tenant['id']}/consumers"

    sub = (await gw.admin.get(f"{root}/{sub_id}/invoices/2025-05", headers=gw.tenant_auth)).json()
    # 49.00 + 3 x 0.004 = 49.012 -> 49.01
    assert lines(sub) == [("fixed_fee", 1, "49.00", "49.00"), ("usage", 3, "0.004", "0.012")]
    assert (sub["subtotal"], sub["total"]) == ("49.012", "49.01")
    empty = (await gw.admin.get(f"{root}/{sub_id}/invoices/2025-04", headers=gw.tenant_auth)).json()
    assert lines(empty) == [("fixed_fee", 1, "49.00", "49.00")] and empty["total"] == "49.00"

    tok = (await gw.admin.get(f"{root}/{tok_id}/invoices/2025-05", headers=gw.tenant_auth)).json()
    # 1000 x 2.50 / 1M = 0.0025; 500 x 10 / 1M = 0.005; markup 20% of 0.0075 = 0.0015; 0.009 -> 0.01
    assert [(q, a) for _, q, _, a in lines(tok)] == [("0.001", "0.0025"), ("0.0005", "0.005"), (1, "0.0015")]
    assert tok["total"] == "0.01"


async def test_bad_input_is_a_4xx_json_error(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway(run_worker=False)
    pid = await plan(gw, {"name": "Calls", "type": "pay_per_call", "price_per_request": "0.01"})
    consumer_id, _ = await consumer(gw, pid)
    root = f"/api/v1/tenants/{gw.tenant['id']}/consumers"
    for period in ("2025-13", "2025-5", "2025-05-01", "may", "9999-12", "0000-01", "0001-01"):  # the last three: 500 before (fuzzed)
        for method in ("get", "post"):
            suffix = "/close" if method == "post" else ""
            answer = await getattr(gw.admin, method)(f"{root}/{consumer_id}/invoices/{period}{suffix}", headers=gw.tenant_auth)
            assert answer.status_code == 400, (period, answer.text)
            assert answer.json()["error"]["code"] == "invalid_period"
    unknown = await gw.admin.get(f"{root}/con_nobody/invoices/2025-05", headers=gw.tenant_auth)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "consumer_not_found"
    unknown = await gw.admin.post(f"{root}/con_nobody/invoices/2025-05/close", headers=gw.tenant_auth)
    assert unknown.status_code == 404
    current = await gw.admin.post(f"{root}/{consumer_id}/invoices/2999-01/close", headers=gw.tenant_auth)
    assert current.status_code == 409 and current.json()["error"]["code"] == "period_not_over"
    anonymous = await gw.admin.get(f"{root}/{consumer_id}/invoices/2025-05")
    assert anonymous.status_code == 401
