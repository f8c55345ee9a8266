"""A private corner of a shared Redis for one test: a unique key prefix, emptied afterwards.

Every prefix :func:`new_prefix` hands out is remembered for the session, so the SDK's pytest
plugin can check at the end that none of them still holds keys (``leftover_keys``): a test, a
bench or a plugin that writes after its corner was emptied, or outside it, shows up there.
"""

from __future__ import annotations

import os
import uuid

import redis

REDIS_URL = "redis://127.0.0.1:6379/0"

#: The prefixes handed out in this process, in order; only these are checked for leftovers, so
#: keys of other sessions sharing the server are never counted.
handed_out: list[str] = []


def new_prefix(label: str = "aiproxy-test") -> str:
    prefix = f"{label}-{uuid.uuid4().hex[:12]}"
    handed_out.append(prefix)
    return prefix


def drop_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Delete every key under ``prefix:`` (the gateway's and its plugins')."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def leftover_keys(prefixes: list[str], url: str = REDIS_URL) -> dict[str, list[str]]:
    """The keys still under each of ``prefixes`` (``prefix:...`` or ``prefix`` itself), by prefix.

    One SCAN of the keyspace for all prefixes, not one per prefix: a session hands out hundreds.
    """
    wanted = set(prefixes)
    found: dict[str, list[str]] = {}
    client = redis.Redis.from_url(url)
    try:
        for raw in client.scan_iter(count=1000):
            name = raw.decode(errors="replace")
            # A prefix is "<label>-<12 hex>" and keys are "<prefix>:<rest>"; a Redis Cluster hash
            # tag may wrap it ("{<prefix>}:...").
            head = name.partition(":")[0].strip("{}")
            if head in wanted:
                found.setdefault(head, []).append(name)
    finally:
        client.close()
    return found


def redis_missing_reason(url: str | None = None) -> str | None:
    """None when Redis answers at ``url`` (default: :data:`REDIS_URL`), else why not."""
    url = url or REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"no Redis server at {url} ({type(exc).__name__}: {exc})"
    finally:
        client.close()
    return None


def under_ci() -> bool:
    """True when the ``CI`` environment variable is set to anything but an explicit no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_redis(url: str | None = None) -> None:
    """Skip the calling test when Redis is not running, but fail it under CI (``CI`` set).

    A CI run that silently skips every Redis test proves nothing about the shared store, so
    there a missing server is an error of the run, not of the code.
    """
    reason = redis_missing_reason(url)
    if reason is None:
        return
    import pytest

    if under_ci():
        pytest.fail(f"{reason}: the CI environment (CI is set) must run Redis on 127.0.0.1:6379 for these tests", pytrace=False)
    pytest.skip(reason)
