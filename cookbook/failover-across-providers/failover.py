#!/usr/bin/env python3
"""Failover across two providers: a rule with an OpenAI-format primary and an Anthropic backup.

Starts two mock upstreams (one stands for OpenAI, one for Anthropic) and a gateway of its own,
then: a request served by the primary; the primary goes down and requests are still answered, by
the backup, translated from Anthropic's format; the primary's circuit opens and requests go
straight to the backup. Run: .venv/bin/python cookbook/failover-across-providers/failover.py
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recipe_support import Admin, RecipeFailed, chat_body, expect, gateway, mock_upstream, proxy_client, scratch, show, step  # noqa: E402

from aiproxy_core import create_mock_upstream  # noqa: E402
from aiproxy_sdk import ServerThread  # noqa: E402


def served(client, content):
    """One chat completion: who served it, in how many attempts, and its answer."""
    answer = expect(client.post("/v1/chat/completions", json=chat_body(content)))
    target, attempts = answer.headers["x-aiproxy-target"], answer.headers["x-aiproxy-attempts"]
    reply = answer.json()
    show("served by", f"{target} in {attempts} attempt(s), model {reply['model']}: {reply['choices'][0]['message']['content']!r}")
    return target, int(attempts)


def main() -> None:
    with scratch() as work, mock_upstream() as anthropic_url, gateway(work) as gw:
        openai_mock = ServerThread(create_mock_upstream()).start()  # stopped halfway: the outage
        try:
            admin = Admin(gw.admin_url)
            tenant = admin.tenant("Acme AI", "acme")

            step("A rule on /v1 with two targets: OpenAI's format first, Anthropic's as the fallback")
            rule = admin.rule(tenant, {
                "path": "/v1",
                "targets": [
                    {"name": "primary", "url": openai_mock.url + "/v1", "provider": "openai",
                     "upstream_headers": {"Authorization": "Bearer sk-demo-openai"}},
                    {"name": "claude", "url": anthropic_url, "provider": "anthropic", "model": "claude-sonnet-4-5",
                     "upstream_headers": {"x-api-key": "sk-ant-demo"}},
                ],
                "routing": {
                    "strategy": "fallback",
                    "retries": {"attempts": 2, "retry_on": ["connect_error", "timeout", 429, "5xx"]},
                    "circuit_breaker": {"failures": 2, "window": 30, "cooldown": 30},
                },
            })
            show("rule", rule["id"])
            _, key = admin.consumer_key(tenant, "Alice")
            client = proxy_client(gw, tenant, key["key"])

            step("Both upstreams up: the primary serves")
            if served(client, "Hello") != ("primary", 1):
                raise RecipeFailed("the primary did not serve while it was up")

            step("The primary goes down: the request fails over to Claude, translated to and from Anthropic's format")
            openai_mock.stop()
            if served(client, "Still there?") != ("claude", 2):
                raise RecipeFailed("the request was not failed over to the backup")

            step("After 2 failures the primary's circuit opens: requests go straight to Claude")
            deadline = time.monotonic() + 10
            while served(client, "And now?") != ("claude", 1):
                if time.monotonic() > deadline:
                    raise RecipeFailed("the primary's circuit did not open")
                time.sleep(0.3)
            targets = admin.call("GET", f"/api/v1/tenants/{tenant.id}/rules/{rule['id']}/targets", tenant)
            for target in targets["data"]:
                show(f"target {target['name']}", f"circuit {target['circuit']}, {target['requests']} requests, {target['failures']} failures")
        finally:
            openai_mock.stop()


if __name__ == "__main__":
    main()
