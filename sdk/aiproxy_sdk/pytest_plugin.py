"""pytest fixtures for aiproxy plugin authors (registered through the ``pytest11`` entry point).

* ``aiproxy_mock_upstream``: the URL of the mock OpenAI-compatible upstream (one per session).
* ``aiproxy_gateway_factory``: ``await factory(plugins=..., chain=...)`` gives a started
  :class:`~aiproxy_sdk.GatewayHarness`; every harness is closed after the test.
* ``aiproxy_gateway``: a harness with no plugins, for tests of the core path.
* ``aiproxy_backend``: runs a test twice, with ``None`` (embedded: SQLite) and with a ``redis``
  config section on 127.0.0.1:6379 under a fresh prefix; pass it as the factory's ``redis=``.
* ``aiproxy_redis_prefix``: a fresh key prefix on that Redis, emptied after the test.
* ``aiproxy_private_redis`` / ``aiproxy_durable_redis``: a redis-server of the test's own (the
  durable one with an append-only file), which the test may kill or restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

from aiproxy_core.mock_upstream import create_mock_upstream

from .harness import GatewayHarness
from .live import ServerThread
from .private_redis import PrivateRedis
from .redis_space import drop_prefix, new_prefix

GatewayFactory = Callable[..., Awaitable[GatewayHarness]]


@pytest.fixture(scope="session")
def aiproxy_mock_upstream() -> Iterator[str]:
    with ServerThread(create_mock_upstream()) as url:
        yield url


@pytest.fixture
async def aiproxy_gateway_factory(aiproxy_mock_upstream: str, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    made: list[GatewayHarness] = []

    async def factory(**options: Any) -> GatewayHarness:
        upstream = options.pop("upstream_url", aiproxy_mock_upstream)
        data_dir = tmp_path / f"gateway-{len(made)}"
        data_dir.mkdir()
        harness = await GatewayHarness.start(upstream, data_dir, **options)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        await harness.close()


@pytest.fixture
async def aiproxy_gateway(aiproxy_gateway_factory: GatewayFactory) -> GatewayHarness:
    return await aiproxy_gateway_factory()



@pytest.fixture
def aiproxy_redis_prefix() -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    drop_prefix(prefix)


@pytest.fixture(params=["sqlite", "redis"])
def aiproxy_backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any] | None]:
    if request.param == "sqlite":
        yield None
        return
    prefix = new_prefix()
    yield {"host": "127.0.0.1", "port": 6379, "prefix": prefix}
    drop_prefix(prefix)


def _own_redis(directory: Path, durable: bool) -> Iterator[PrivateRedis]:
    directory.mkdir(parents=True, exist_ok=True)
    server = PrivateRedis(directory, durable=durable)
    try:
        yield server.start()
    finally:
        server.kill()


@pytest.fixture
def aiproxy_private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    yield from _own_redis(tmp_path / "private-redis", durable=False)


@pytest.fixture
def aiproxy_durable_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    yield from _own_redis(tmp_path / "durable-redis", durable=True)
