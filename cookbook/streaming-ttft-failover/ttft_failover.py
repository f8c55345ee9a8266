#!/usr/bin/env python3
"""Streaming with time-to-first-token failover: a stream whose upstream is slow to start is moved
to another target before the client received a byte.

Starts the mock upstream and a gateway of its own. Two rules, each with a slow target first (its
first event comes 2 s after its headers: `X-Mock-First-Event-Delay-Ms`) and a fast one after it:
/plain has no `ttft_timeout` and waits for the slow one; /v1 has `ttft_timeout: 0.5` and fails
over. Then a stream that breaks midway, which is never retried: it ends without `[DONE]`.
Run: .venv/bin/python cookbook/streaming-ttft-failover/ttft_failover.py
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recipe_support import Admin, RecipeFailed, chat_body, error_text, gateway, mock_upstream, proxy_client, scratch, show, step  # noqa: E402


SLOW_START = {"X-Mock-First-Event-Delay-Ms": "2000"}  # headers at once, the first event 2 s later
BREAKS = {"X-Mock-Fault": "close-mid-stream"}  # cut after two events: no final chunk, no [DONE]


def targets(upstream, first_name, first_faults):
    """The mock upstream twice: first with a fault (in its upstream_headers), then healthy."""
    return [
        {"name": first_name, "url": upstream + "/v1", "provider": "openai", "upstream_headers": first_faults},
        {"name": "fast", "url": upstream + "/v1", "provider": "openai"},
    ]


def stream(client, path, content):
    """A streamed chat completion: time to its first token, its text, and how it ended."""
    started = time.monotonic()
    first_token = None
    text, done, error = [], False, None
    body = chat_body(content, stream=True, stream_options={"include_usage": True})
    with client.stream("POST", path, json=body) as answer:
        if answer.status_code != 200:
            answer.read()
            raise RecipeFailed(f"POST {path} answered {error_text(answer)}")
        for line in answer.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                continue
            event = json.loads(line[6:])
            if "error" in event:
                error = event["error"]["code"]
                continue
            for choice in event.get("choices", []):
                if choice["delta"].get("content"):
                    first_token = first_token or time.monotonic() - started
                    text.append(choice["delta"]["content"])
        headers = answer.headers
    ending = "[DONE]" if done else f"no [DONE], error event {error}"
    show(f"{path} stream", f"target {headers['x-aiproxy-target']} in {headers['x-aiproxy-attempts']} attempt(s), "
                          f"first token after {first_token or 0:.1f} s: {''.join(text)!r}, ended with {ending}")
    return headers["x-aiproxy-target"], first_token, done


def main() -> None:
    with scratch() as work, mock_upstream() as upstream, gateway(work) as gw:
        admin = Admin(gw.admin_url)
        tenant = admin.tenant("Acme AI", "acme")

        step("Rules with a faulty target first and a fast one after: /plain without ttft_timeout, /v1 and /broken with 0.5 s")
        admin.rule(tenant, {"path": "/plain", "targets": targets(upstream, "slow", SLOW_START), "routing": {"strategy": "fallback"}})
        admin.rule(tenant, {"path": "/v1", "targets": targets(upstream, "slow", SLOW_START),
                            "routing": {"strategy": "fallback", "ttft_timeout": 0.5}})
        admin.rule(tenant, {"path": "/broken", "targets": targets(upstream, "flaky", BREAKS),
                            "routing": {"strategy": "fallback", "ttft_timeout": 0.5}})
        _, key = admin.consumer_key(tenant, "Alice")
        client = proxy_client(gw, tenant, key["key"])

        step("Without ttft_timeout the client waits for the slow target's first token")
        stream(client, "/plain/chat/completions", "Hello there")

        step("With ttft_timeout 0.5 the stream moves to the fast target before any byte reached the client")
        stream(client, "/v1/chat/completions", "Hello there")

        step("A stream that breaks after it began is not retried (no second answer is spliced in)")
        stream(client, "/broken/chat/completions", "one two three four five six")


if __name__ == "__main__":
    main()
