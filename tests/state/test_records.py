"""``PluginState.records(name)``: kept records (billing's ledger) in the SQLite state file, on a
real PostgreSQL server (``records.postgresql``), or nowhere (Redis without one).

Idempotent writes, reads by time with pagination, tenant isolation, concurrent writers of the
same ids, an outage of PostgreSQL and its return, and the URL kept out of errors and logs.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import AsyncIterator

import pytest
from redis.asyncio import Redis

from aiproxy_core import ConfigError, GatewayConfig, load_config
from aiproxy_core.gateway import Gateway
from aiproxy_core.plugins import PluginRegistry
from aiproxy_core.state import Record, StateService
from aiproxy_sdk.private_postgresql import PrivatePostgresql
from aiproxy_sdk.redis_space import drop_prefix, new_prefix, require_redis


@pytest.fixture(params=["sqlite", "postgresql"])
async def kept(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateService]:
    """A state service whose records are kept: in its state file, or on a fresh PostgreSQL database."""
    url = request.getfixturevalue("aiproxy_postgresql_url") if request.param == "postgresql" else None
    service = StateService(tmp_path, records_url=url)
    service.open()
    await service.start()
    yield service
    await service.stop()
    service.close()


def ledger_event(tenant: str, request_id: str, time: float, tokens: int = 1) -> Record:
    return Record(tenant, request_id, time, {"request_id": request_id, "tokens": tokens, "model": "gpt-4o-mini"})


async def test_records_are_kept_once_and_read_back_equal(kept: StateService) -> None:
    ledger = kept.for_plugin("billing").records("ledger")
    assert ledger.sink == ("postgresql" if kept.records_server else "sqlite")
    batch = [ledger_event("t1", f"req-{i}", 1_000 + i, tokens=i) for i in range(5)]
    assert await ledger.write(batch) == 5
    assert await ledger.write(batch + [ledger_event("t1", "req-5", 1_005)]) == 1  # a replay adds only the new one
    assert await ledger.count("t1") == 6
    assert await ledger.read("t1", limit=2) == batch[:2]
    assert [r.id for r in await ledger.read("t1")] == [f"req-{i}" for i in range(6)]


async def test_reads_by_time_range_and_pages(kept: StateService) -> None:
    ledger = kept.for_plugin("billing").records("ledger")
    # Equal times are ordered by id, so pages never skip or repeat a record.
    await ledger.write([ledger_event("t1", f"r{i:02d}", 100 + i // 3) for i in range(12)])
    assert [r.id for r in await ledger.read("t1", since=101, until=103)] == [f"r{i:02d}" for i in range(3, 9)]
    pages, after = [], None
    while True:
        page = await ledger.read("t1", limit=5, after=after)
        if not page:
            break
        pages.append([r.id for r in page])
        after = page[-1].id
    assert pages == [[f"r{i:02d}" for i in range(0, 5)], [f"r{i:02d}" for i in range(5, 10)], ["r10", "r11"]]


async def test_tenants_plugins_and_names_are_apart(kept: StateService) -> None:
    await kept.for_plugin("billing").records("ledger").write([ledger_event("t1", "same-id", 1)])
    assert await kept.for_plugin("billing").records("ledger").count("t2") == 0
    assert await kept.for_plugin("billing").records("other").count("t1") == 0
    assert await kept.for_plugin("analytics").records("ledger").count("t1") == 0
    assert await kept.for_plugin("billing").records("ledger").write([ledger_event("t2", "same-id", 1)]) == 1


async def test_concurrent_writers_of_the_same_ids_keep_each_once(kept: StateService) -> None:
    ledger = kept.for_plugin("billing").records("ledger")
    batch = [ledger_event("t1", f"req-{i}", i) for i in range(200)]
    written = await asyncio.gather(*(ledger.write(batch) for _ in range(4)))
    assert sum(written) == 200
    assert await ledger.count("t1") == 200


async def test_dropping_a_tenant_keeps_its_records(kept: StateService) -> None:
    ledger = kept.for_plugin("billing").records("ledger")
    await ledger.write([ledger_event("t1", "req-1", 1)])
    await kept.drop_tenant("t1")
    assert await ledger.count("t1") == 1


@pytest.mark.parametrize(
    "bad, named",
    [
        ([Record("t{1}", "id", 1, {})], "tenant id"),
        ([Record("t1", "x\x00", 1, {})], "state key"),
        ([Record("t1", "id", float("nan"), {})], "finite"),
        ([Record("t1", "id", 1, ["not", "an", "object"])], "JSON object"),  # type: ignore[arg-type]
        ([Record("t1", "id", 1, {"bad": {1, 2}})], "set"),
        ([{"tenant_id": "t1"}], "Record"),
    ],
)
async def test_bad_records_are_refused_and_nothing_of_the_batch_is_kept(kept: StateService, bad, named) -> None:
    ledger = kept.for_plugin("billing").records("ledger")
    with pytest.raises(ValueError, match=named):
        await ledger.write([ledger_event("t1", "good", 1), *bad])
    assert await ledger.count("t1") == 0


async def test_on_redis_without_a_records_server_nothing_is_kept(tmp_path: Path) -> None:
    require_redis()
    prefix = new_prefix("aiproxy-records-test")
    redis = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    service = StateService(tmp_path, redis=redis, prefix=prefix)
    try:
        ledger = service.for_plugin("billing").records("ledger")
        assert service.record_sink == ledger.sink == "none"
        assert await ledger.write([ledger_event("t1", "req-1", 1)]) == 0
        assert await ledger.count("t1") == 0 and await ledger.read("t1") == []
        with pytest.raises(ValueError, match="tenant id"):  # still checked, as everywhere
            await ledger.write([Record("t{1}", "id", 1, {})])
        assert [key async for key in redis.scan_iter(match=f"{prefix}:*")] == []  # nothing went to Redis
    finally:
        await redis.aclose()
        drop_prefix(prefix)


async def test_a_postgresql_outage_raises_connection_error_then_writes_resume(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with PrivatePostgresql() as server:
        url = server.dsn("postgres").replace("postgres@", "postgres:hunter2-secret@")  # trust auth ignores it
        service = StateService(tmp_path, records_url=url)
        service.open()
        await service.start()
        ledger = service.for_plugin("billing").records("ledger")
        try:
            assert await ledger.write([ledger_event("t1", "before", 1)]) == 1
            server.kill()
            with pytest.raises(ConnectionError) as refused:
                await ledger.write([ledger_event("t1", "during", 2)])
            assert "hunter2" not in str(refused.value) and str(server.port) not in str(refused.value)
            server.restart()
            # The pool's connections died with the server; the next write reconnects.
            for _ in range(3):
                try:
                    assert await ledger.write([ledger_event("t1", "during", 2), ledger_event("t1", "after", 3)]) == 2
                    break
                except ConnectionError:
                    await asyncio.sleep(0.2)
            assert [r.id for r in await ledger.read("t1")] == ["before", "during", "after"]
        finally:
            await service.stop()
            service.close()
    assert "hunter2" not in caplog.text


def test_a_records_url_that_is_not_postgresql_is_a_config_error_naming_the_key_not_the_url(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text('records: {postgresql: "mysql://root:s3cret-pass@db/aiproxy"}\n')
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert "records.postgresql: Value error, records.postgresql is a URL starting with postgresql://" in str(refused.value)
    assert "s3cret-pass" not in str(refused.value)
    # The same from the environment, as operators set secrets.
    with pytest.raises(ConfigError) as refused:
        load_config(None, {"AIPROXY_RECORDS__POSTGRESQL": "redis://:s3cret-pass@db"})
    assert "AIPROXY_RECORDS__POSTGRESQL" in str(refused.value) and "s3cret-pass" not in str(refused.value)
    assert load_config(None, {"AIPROXY_RECORDS__POSTGRESQL": "postgresql://a@db/x"}).records.postgresql is not None


async def test_a_gateway_with_a_records_server_gives_plugins_postgresql_records(aiproxy_postgresql_url: str, tmp_path: Path) -> None:
    config = GatewayConfig.model_validate({"storage": {"path": str(tmp_path / "aiproxy.db")}, "records": {"postgresql": aiproxy_postgresql_url}})
    assert aiproxy_postgresql_url not in repr(config)  # a secret: never in a repr or a log line
    gateway = Gateway(config, registry=PluginRegistry())
    await gateway.start()
    try:
        ledger = gateway.services.state("billing").records("ledger")
        assert ledger.sink == "postgresql"
        assert await ledger.write([ledger_event("t1", "req-1", 1)]) == 1
    finally:
        await gateway.stop()
