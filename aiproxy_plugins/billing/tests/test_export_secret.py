"""The export signing secret is write-only: answers mask it, sending an answer back keeps it, deliveries
are still signed with it, and a mask of anything else is refused without changing the target."""

from __future__ import annotations

import json
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aiproxy_billing.export import signature
from aiproxy_sdk import ServerThread

FAST = {"export_min_backoff": 0.02, "export_max_backoff": 0.1, "export_poll": 0.02}
SECRET = "whsec-0123456789-abcd"


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            self.deliveries.append({"headers": dict(request.headers), "body": body})
        return JSONResponse({"ok": True})


async def test_the_export_secret_is_masked_kept_when_sent_back_and_still_signs(
    billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any
) -> None:
    receiver = Receiver()
    with ServerThread(receiver.app) as url:
        gw = await billing_gateway(plugin_options=FAST)
        path = f"/api/v1/tenants/{gw.tenant['id']}/billing/export"
        put = await gw.admin.put(path, json={"url": url + "/hook", "secret": SECRET}, headers=gw.tenant_auth)
        assert put.status_code == 200, put.text
        shown = {"url": url + "/hook", "signed": True, "secret": "****abcd"}
        assert put.json() == shown
        got = await gw.admin.get(path, headers=gw.tenant_auth)
        assert got.json() == shown and SECRET not in got.text

        # A foreign mask is refused and the target is unchanged.
        refused = await gw.admin.put(path, json={"url": "https://elsewhere.example/x", "secret": "****wxyz"}, headers=gw.tenant_auth)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "masked_secret"
        assert refused.json()["error"]["details"][0]["field"] == "secret"
        assert (await gw.admin.get(path, headers=gw.tenant_auth)).json() == shown

        # The answer sent back as shown (``signed`` included) keeps the secret.
        again = await gw.admin.put(path, json=got.json(), headers=gw.tenant_auth)
        assert again.status_code == 200, again.text
        assert again.json() == shown
        stored = await plugin_of(gw).backend().exports.get_target(gw.tenant["id"])
        assert stored.secret.get_secret_value() == SECRET

        _, key = await consumer(gw)
        answer = await gw.proxy_client(key).post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert answer.status_code == 200, answer.text

        async def delivered() -> bool:
            return len(receiver.deliveries) == 1

        await wait_for(delivered, 15)
    delivery = receiver.deliveries[0]
    stamp = int(delivery["headers"]["x-aiproxy-signature"].split(",")[0].removeprefix("t="))
    assert delivery["headers"]["x-aiproxy-signature"] == signature(SECRET, stamp, delivery["body"])
    assert json.loads(delivery["body"])["source"] == f"aiproxy/{gw.tenant['id']}"


async def test_a_masked_secret_without_a_stored_one_is_refused(billing_gateway: Any, plugin_of: Any) -> None:
    gw = await billing_gateway()
    path = f"/api/v1/tenants/{gw.tenant['id']}/billing/export"
    refused = await gw.admin.put(path, json={"url": "https://example.com/hook", "secret": "****abcd"}, headers=gw.tenant_auth)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "masked_secret"
    assert (await gw.admin.get(path, headers=gw.tenant_auth)).status_code == 404
    # An unsigned target shows no secret, and a new secret replaces none.
    unsigned = await gw.admin.put(path, json={"url": "https://example.com/hook"}, headers=gw.tenant_auth)
    assert unsigned.json() == {"url": "https://example.com/hook", "signed": False, "secret": None}
    assert (await plugin_of(gw).backend().exports.get_target(gw.tenant["id"])).secret is None
