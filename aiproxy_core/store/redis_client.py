"""The gateway's Redis client for a ``redis`` config section: one server, or a Redis Cluster.

Both keep one promise to the code above them: at most ``max_connections`` commands of this
process are in flight, and a burst beyond it waits (up to 5 s) instead of failing. A single
server gets it from redis-py's ``BlockingConnectionPool``. redis-py's cluster client has no
waiting pool (a node's pool raises ``MaxConnectionsError`` at its limit), so
:class:`BoundedRedisCluster` waits on a semaphore before each command instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import MaxConnectionsError

from ..config.schema import RedisConfig

__all__ = ["BoundedRedisCluster", "POOL_WAIT_SECONDS", "redis_client"]

#: How long a command waits for a free connection before it fails.
POOL_WAIT_SECONDS = 5.0


def _retry() -> Retry:
    # A dead server should cost a request well under a second, not many backoff rounds.
    return Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2)


class BoundedRedisCluster(RedisCluster):
    """A ``RedisCluster`` whose commands wait for one of ``in_flight`` slots, like a blocking pool.

    Pipelines (the state queue's batched appends) bypass the semaphore; each node's own pool
    allows twice ``in_flight`` connections, so they fit beside a full semaphore.
    """

    def __init__(self, *, in_flight: int, **options: Any) -> None:
        super().__init__(max_connections=2 * in_flight, **options)
        self._limit = in_flight
        self._in_flight = asyncio.Semaphore(in_flight)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(POOL_WAIT_SECONDS):
                await self._in_flight.acquire()
        except TimeoutError:
            raise MaxConnectionsError(
                f"all {self._limit} Redis Cluster connections of this process stayed busy"
                f" for {POOL_WAIT_SECONDS:g}s"
            ) from None
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            self._in_flight.release()


def redis_client(config: RedisConfig, client_name: str) -> "Redis":
    """A client for ``config`` (not connected yet). On a cluster it is a :class:`BoundedRedisCluster`,
    which has the same command API; call ``await client.initialize()`` before concurrent use
    (:meth:`RedisStore.open` does: a lazy cluster client that gets concurrent first commands may
    run a script twice, redis-py #3935)."""
    common: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "password": config.password or None,
        "decode_responses": True,
        # An unreachable host should fail open() in seconds, not hang on the OS timeout.
        "socket_connect_timeout": 5.0,
        # Lets a dead pub/sub connection be noticed even while nothing is published.
        "socket_keepalive": True,
        # Names this instance's connections in CLIENT LIST, for operators (and tests).
        "client_name": client_name,
        "retry": _retry(),
    }
    if config.cluster:
        return BoundedRedisCluster(in_flight=config.max_connections, **common)  # type: ignore[return-value]
    pool = BlockingConnectionPool(
        # Under a burst, requests wait up to `timeout` for a free connection instead of
        # failing at the pool's limit (the non-blocking pool raises MaxConnectionsError).
        max_connections=config.max_connections,
        timeout=POOL_WAIT_SECONDS,
        db=config.db,
        **common,
    )
    return Redis(connection_pool=pool)
