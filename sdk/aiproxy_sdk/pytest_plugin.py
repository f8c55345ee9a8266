"""pytest fixtures for aiproxy plugin authors (registered through the ``pytest11`` entry point).

* ``aiproxy_mock_upstream``: the URL of the mock OpenAI-compatible upstream (one per session).
* ``aiproxy_gateway_factory``: ``await factory(plugins=..., chain=...)`` gives a started
  :class:`~aiproxy_sdk.GatewayHarness`; every harness is closed after the test.
* ``aiproxy_gateway``: a harness with no plugins, for tests of the core path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

from aiproxy_core.mock_upstream import create_mock_upstream

from .harness import GatewayHarness
from .live import ServerThread

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

