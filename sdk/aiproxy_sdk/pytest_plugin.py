"""pytest fixtures for aiproxy plugin authors (registered through the ``pytest11`` entry point).

* ``aiproxy_mock_upstream``: the URL of the mock OpenAI-compatible upstream (one per session).
* ``aiproxy_gateway_factory``: ``await factory(plugins=..., chain=...)`` gives a started
  :class:`~aiproxy_sdk.GatewayHarness`; every harness is closed after the test.
* ``aiproxy_gateway``: a harness with no plugins, for tests of the core path.
* ``aiproxy_backend``: runs a test twice, with ``None`` (embedded: SQLite) and with a ``redis``
  config section on 127.0.0.1:6379 under a fresh prefix; pass it as the factory's ``redis=``.
* ``aiproxy_every_backend``: the same, and a third time on the session's real Redis Cluster (a
  ``redis`` section with ``cluster: true`` naming one of its nodes, under a fresh prefix): for a
  stateful plugin that must hold on every store the gateway runs on.
* ``aiproxy_redis_prefix``: a fresh key prefix on that Redis, emptied after the test.
* ``aiproxy_private_redis`` / ``aiproxy_durable_redis``: a redis-server of the test's own (the
  durable one with an append-only file), which the test may kill or restart.
* ``aiproxy_redis_cluster``: a real 3-master Redis Cluster on loopback ports, one per session
  (a :class:`~aiproxy_sdk.private_cluster.PrivateCluster`: ``nodes``, ``client()``); skipped
  when it cannot start, except under CI, where the tests that need it fail.
* ``aiproxy_postgresql``: a real PostgreSQL server of the session's own (Debian's binaries, a
  :class:`~aiproxy_sdk.private_postgresql.PrivatePostgresql`), skipped or failed like the cluster;
  ``aiproxy_postgresql_url``: the URL of a fresh, empty database on it, dropped after the test
  (a gateway's ``records.postgresql``).

* ``aiproxy_browser``: a real headless Chromium (:class:`~aiproxy_sdk.browser.Browser`; Debian's
  ``chromium`` driven by Playwright) whose pages may only reach loopback: ``page = await
  aiproxy_browser.new_page()``; at the end of the test, a request to anywhere else fails it.
  Skipped when chromium or Playwright is missing, except under CI.

Tests that need the shared Redis skip when it is not running, except under CI (``CI=true``),
where they fail: a green CI run must have exercised the Redis store. At the end of the session
every prefix handed out by :func:`~aiproxy_sdk.redis_space.new_prefix` is checked: keys still
under one fail the session (they are listed, then removed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis

from aiproxy_core import create_mock_upstream

from .harness import GatewayHarness
from .live import ServerThread
from .private_cluster import ClusterStartError, PrivateCluster
from .private_postgresql import PostgresqlStartError, PrivatePostgresql
from .private_redis import PrivateRedis
from .redis_space import REDIS_URL, drop_prefix, handed_out, leftover_keys, new_prefix, require_redis, under_ci

GatewayFactory = Callable[..., Awaitable[GatewayHarness]]


@pytest.fixture
async def aiproxy_browser() -> AsyncIterator[Any]:
    from .browser import Browser, chromium_path

    try:
        import playwright  # noqa: F401
    except ImportError:
        playwright_missing = True
    else:
        playwright_missing = False
    if chromium_path() is None or playwright_missing:
        if under_ci():
            pytest.fail("the web pages' tests need Debian's chromium and Playwright (scripts/test.sh installs both)")
        pytest.skip("no chromium or Playwright here (scripts/ensure_chromium.sh, pip install playwright)")
    async with Browser() as browser:
        yield browser
    assert browser.outside == [], f"the page tried to reach beyond loopback: {browser.outside}"


@pytest.fixture(scope="session")
def aiproxy_mock_upstream() -> Iterator[str]:
    with ServerThread(create_mock_upstream()) as url:
        yield url


@pytest.fixture
async def aiproxy_gateway_factory(aiproxy_mock_upstream: str, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    made: list[GatewayHarness] = []
    corners: list[str] = []

    async def factory(**options: Any) -> GatewayHarness:
        upstream = options.pop("upstream_url", aiproxy_mock_upstream)
        redis_section = options.get("redis") or {}
        if redis_section.get("prefix") in handed_out and redis_section.get("port", 6379) == 6379:
            corners.append(redis_section["prefix"])
        data_dir = tmp_path / f"gateway-{len(made)}"
        data_dir.mkdir()
        harness = await GatewayHarness.start(upstream, data_dir, **options)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        await harness.close()
    # Emptied again once the gateways are closed: ``aiproxy_backend`` is torn down before the
    # factory when a test asks for the factory first, and a closing gateway may still write.
    for prefix in dict.fromkeys(corners):
        drop_prefix(prefix)


@pytest.fixture
async def aiproxy_gateway(aiproxy_gateway_factory: GatewayFactory) -> GatewayHarness:
    return await aiproxy_gateway_factory()



@pytest.fixture
def aiproxy_redis_prefix() -> Iterator[str]:
    require_redis()
    prefix = new_prefix()
    yield prefix
    drop_prefix(prefix)


@pytest.fixture(params=["sqlite", "redis"])
def aiproxy_backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any] | None]:
    yield from _backend(request)


def _backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any] | None]:
    """None (embedded), or a ``redis`` section under a fresh prefix emptied afterwards."""
    if request.param == "sqlite":
        yield None
        return
    if request.param == "cluster":
        cluster: PrivateCluster = request.getfixturevalue("aiproxy_redis_cluster")
        prefix = new_prefix()
        node = cluster.startup_node
        yield {"host": node.host, "port": node.port, "cluster": True, "prefix": prefix}
        cluster.drop_prefix(prefix)
        return
    require_redis()
    prefix = new_prefix()
    yield {"host": "127.0.0.1", "port": 6379, "prefix": prefix}
    drop_prefix(prefix)


@pytest.fixture(params=["sqlite", "redis", "cluster"])
def aiproxy_every_backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any] | None]:
    yield from _backend(request)


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


def _session_server(what: str, start: Callable[[], Any], failure: type[Exception]) -> Iterator[Any]:
    """A server of the session's own, stopped at its end: skipped when it cannot start, except
    under CI, where the tests that need it fail (a green CI run must have run them on it)."""
    try:
        server = start()
    except failure as exc:
        if under_ci():
            pytest.fail(f"the {what} for these tests did not start (CI is set, so this fails): {exc}", pytrace=False)
        pytest.skip(f"no {what} for these tests: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aiproxy_redis_cluster() -> Iterator[PrivateCluster]:
    """One real Redis Cluster for the session (a few seconds to start); tests use fresh prefixes.

    A cluster that cannot start skips the tests that need it, but fails them under CI: a green
    CI run must have run them on a cluster.
    """
    yield from _session_server("Redis Cluster", PrivateCluster().start, ClusterStartError)


@pytest.fixture(scope="session")
def aiproxy_postgresql() -> Iterator[PrivatePostgresql]:
    """One private PostgreSQL server for the session; tests take fresh databases on it."""
    yield from _session_server("PostgreSQL server", PrivatePostgresql().start, PostgresqlStartError)


@pytest.fixture
def aiproxy_postgresql_url(aiproxy_postgresql: PrivatePostgresql) -> Iterator[str]:
    """A fresh, empty database on the session's server (its URL), dropped after the test."""
    database = aiproxy_postgresql.create_database()
    yield aiproxy_postgresql.dsn(database)
    aiproxy_postgresql.drop_database(database)


# -- the session's own check: no keys left behind in the shared Redis -------------------------

_LEFTOVERS = pytest.StashKey[dict[str, list[str]]]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if a prefix it handed out still holds keys, then remove them."""
    if not handed_out:
        return
    try:
        leftovers = leftover_keys(handed_out)
    except redis.RedisError:  # Redis gone by now: the tests that needed it have said so
        return
    if not leftovers:
        return
    session.config.stash[_LEFTOVERS] = leftovers
    for prefix in leftovers:
        drop_prefix(prefix)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    leftovers = terminalreporter.config.stash.get(_LEFTOVERS, None)
    if not leftovers:
        return
    terminalreporter.section("aiproxy: keys left in the shared Redis", sep="=", red=True)
    terminalreporter.write_line(
        f"these keys were still in {REDIS_URL} under prefixes this session handed out after every test had"
        " finished (a test or plugin wrote after its prefix was emptied, or a test dropped the wrong prefix);"
        " they have now been removed:"
    )
    for prefix, keys in leftovers.items():
        shown = ", ".join(sorted(keys)[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        terminalreporter.write_line(f"  {prefix}: {shown}")
