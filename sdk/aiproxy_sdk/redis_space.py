"""A private corner of a shared Redis for one test: a unique key prefix, emptied afterwards."""

from __future__ import annotations

import uuid

import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


def new_prefix(label: str = "aiproxy-test") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def drop_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Delete every key under ``prefix:`` (the gateway's and its plugins')."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
