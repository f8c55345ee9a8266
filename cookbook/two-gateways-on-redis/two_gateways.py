#!/usr/bin/env python3
"""Two gateway processes on one Redis: what one of them changes, the other enforces.

Starts the mock upstream and two `aiproxy serve` processes sharing the Redis on 127.0.0.1:6379
(REDIS_URL to change it) under a fresh key prefix, then: a tenant and a rule made through gateway
A are served by gateway B; a rate limit of 5 requests a minute counts the requests of both; a key
revoked through A is refused by B within a second. Every key under the prefix is deleted at exit.
Run: .venv/bin/python cookbook/two-gateways-on-redis/two_gateways.py
"""

import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recipe_support import Admin, RecipeFailed, chat_body, error_text, expect, gateways, mock_upstream, proxy_client, scratch, show, step  # noqa: E402

import redis  # noqa: E402

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def drop_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key of this run: the store's, the plugins' (hash-tagged ones too) and the events'."""
    keys = [key for pattern in (f"{prefix}:*", f"{{{prefix}}}*") for key in client.scan_iter(pattern, count=1000)]
    if keys:
        client.delete(*keys)
    return len(keys)


def main() -> None:
    server = urlparse(REDIS_URL)
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RecipeFailed(f"no Redis at {REDIS_URL} ({exc}); start one, e.g. redis-server --daemonize yes") from None
    prefix = f"aiproxy-recipe-{uuid.uuid4().hex[:12]}"  # a corner of the Redis of this run only
    redis_section = {"host": server.hostname or "127.0.0.1", "port": server.port or 6379, "password": server.password or "",
                     "db": int((server.path or "/0").strip("/") or 0), "prefix": prefix}
    show("redis prefix", prefix)
    config = {"redis": redis_section}
    try:
        step("Two gateway processes, one Redis")
        with scratch() as work, mock_upstream() as upstream, gateways(work, (config, "gateway-a"), (config, "gateway-b")) as (a, b):
            for name, gw in (("gateway A", a), ("gateway B", b)):
                show(name, f"admin {gw.admin_url}, proxy {gw.proxy_url}")

            step("Tenant, rule (rate limit: 5 requests a minute per consumer) and key, all made through A")
            admin_a = Admin(a.admin_url)
            tenant = admin_a.tenant("Acme AI", "acme")
            admin_a.rule(tenant, {"path": "/v1", "target": upstream,
                                  "plugin_chain": [{"name": "rate_limiter", "settings": {"limit": 5, "window": "1m"}}]})
            consumer_id, key = admin_a.consumer_key(tenant, "Alice")
            via = {"A": proxy_client(a, tenant, key["key"]), "B": proxy_client(b, tenant, key["key"])}

            step("The limit counts the requests of both gateways: the 6th is refused, whichever serves it")
            for n, name in enumerate("ABABAB", start=1):
                answer = via[name].post("/v1/chat/completions", json=chat_body(f"request {n}"))
                if n <= 5:
                    expect(answer, 200)
                    show(f"request {n} via {name}", f"200, X-RateLimit-Remaining {answer.headers['x-ratelimit-remaining']}")
                else:
                    expect(answer, 429)
                    show(f"request {n} via {name}", error_text(answer))

            step("A key revoked through A is refused by B (each process's key cache is told through Redis)")
            admin_a.call("DELETE", f"/api/v1/tenants/{tenant.id}/consumers/{consumer_id}/keys/{key['id']}", tenant)
            revoked_at = time.monotonic()
            while (answer := via["B"].post("/v1/chat/completions", json=chat_body("after revocation"))).status_code != 401:
                if time.monotonic() - revoked_at > 5:
                    raise RecipeFailed(f"gateway B still accepts the revoked key: {error_text(answer)}")
                time.sleep(0.05)
            show("B refuses the key", f"{error_text(answer)} (after {time.monotonic() - revoked_at:.2f} s)")
    finally:
        show("keys deleted", drop_prefix(client, prefix))
        client.close()


if __name__ == "__main__":
    main()
