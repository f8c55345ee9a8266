"""Runs two_gateways.py as its README says, on the Redis at 127.0.0.1:6379, and checks that it
left no key behind."""

from pathlib import Path

import redis

from aiproxy_sdk.redis_space import require_redis
from recipe_support import lines_starting, run_script


def test_two_gateways_share_the_rate_limit_and_revocations():
    require_redis()
    done = run_script(Path(__file__).parent / "two_gateways.py", timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for n, via in enumerate("ABABA", start=1):
        assert lines_starting(out, f"request {n} via {via}") == [f"200, X-RateLimit-Remaining {5 - n}"]
    assert lines_starting(out, "request 6 via B")[0].startswith("429 rate_limited: ")
    assert lines_starting(out, "B refuses the key")[0].startswith("401 ")
    prefix = lines_starting(out, "redis prefix")[0]
    assert int(lines_starting(out, "keys deleted")[0]) > 0
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        assert list(client.scan_iter(f"*{prefix}*", count=1000)) == []
    finally:
        client.close()
