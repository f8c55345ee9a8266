"""Promises that hold across real gateway processes: revocation, restart, keys never kept in full."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from aiproxy_core.mock_upstream import create_mock_upstream
from aiproxy_sdk import GatewayProcess, ServerThread

BASE_DOMAIN = "gw.test"


@pytest.fixture(scope="module")
def upstream():
    with ServerThread(create_mock_upstream()) as url:
        yield url


def create_tenant_and_rule(admin_url: str, upstream: str, subdomain: str = "acme") -> dict:
    tenant = httpx.post(admin_url + "/api/v1/tenants", json={"name": subdomain.title(), "subdomain": subdomain}).json()
    rule = httpx.post(
        f"{admin_url}/api/v1/tenants/{tenant['id']}/rules",
        headers={"Authorization": f"Bearer {tenant['api_key']}"},
        json={"path": "/v1", "target": upstream},
    )
    assert rule.status_code == 201, rule.text
    return tenant


def chat(proxy_url: str, key: str, subdomain: str = "acme") -> httpx.Response:
    return httpx.post(
        proxy_url + "/v1/chat/completions",
        headers={"Host": f"{subdomain}.{BASE_DOMAIN}", "Authorization": f"Bearer {key}"},
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )


def test_revocation_reaches_a_second_process_within_one_second(upstream, aiproxy_redis_prefix, tmp_path):
    config = {"server": {"base_domain": BASE_DOMAIN}, "redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}}
    assert_revocation_reaches_a_second_process(config, upstream, tmp_path)


def assert_revocation_reaches_a_second_process(config: dict, upstream: str, workdir) -> None:
    """A key cached as valid in a second ``aiproxy serve`` is refused there within 1 s of the revoke
    returning on the first, and the tenant's other key keeps working (any shared store)."""
    with GatewayProcess(config, workdir=workdir) as first, GatewayProcess(config, workdir=workdir) as second:
        tenant = create_tenant_and_rule(first.admin_url, upstream)
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        key = httpx.post(f"{first.admin_url}/api/v1/tenants/{tenant['id']}/keys", headers=auth, json={}).json()
        assert chat(second.proxy_url, key["key"]).status_code == 200  # now cached as valid in the second process
        assert chat(second.proxy_url, key["key"]).status_code == 200

        revoked = httpx.delete(f"{first.admin_url}/api/v1/tenants/{tenant['id']}/keys/{key['id']}", headers=auth)
        assert revoked.status_code == 204
        deadline = time.monotonic() + 1.0
        statuses = []
        while time.monotonic() < deadline:
            statuses.append(chat(second.proxy_url, key["key"]).status_code)
            if statuses[-1] == 401:
                break
            time.sleep(0.02)
        assert statuses[-1] == 401, f"still accepted 1 s after the revoke returned: {statuses}"
        # The tenant's other key is untouched.
        assert chat(second.proxy_url, tenant["api_key"]).status_code == 200


def test_embedded_restart_keeps_tenants_rules_and_keys(upstream, tmp_path):
    config = {"server": {"base_domain": BASE_DOMAIN}, "storage": {"path": str(tmp_path / "state.db")}}
    with GatewayProcess(config, workdir=tmp_path) as gateway:
        tenant = create_tenant_and_rule(gateway.admin_url, upstream)
        assert chat(gateway.proxy_url, tenant["api_key"]).status_code == 200
    with GatewayProcess(config, workdir=tmp_path) as restarted:
        assert chat(restarted.proxy_url, tenant["api_key"]).status_code == 200
        listed = httpx.get(restarted.admin_url + "/api/v1/tenants").json()["data"]
        assert [t["id"] for t in listed] == [tenant["id"]]
        rules = httpx.get(
            f"{restarted.admin_url}/api/v1/tenants/{tenant['id']}/rules", headers={"Authorization": f"Bearer {tenant['api_key']}"}
        ).json()["data"]
        assert [r["path"] for r in rules] == ["/v1"]


def redis_contents(prefix: str) -> bytes:
    """Every name and value under ``prefix``, read as plain values (DUMP may compress them)."""
    client = redis.Redis()
    readers = {b"string": client.get, b"hash": client.hgetall, b"set": client.smembers, b"zset": lambda n: client.zrange(n, 0, -1), b"list": lambda n: client.lrange(n, 0, -1)}
    out = b""
    for name in client.scan_iter(f"{prefix}:*"):
        reader = readers.get(client.type(name))
        out += name + (repr(reader(name)).encode() if reader else b"")
    client.close()
    assert out, "nothing was stored under the prefix: the check would prove nothing"
    return out


def test_full_keys_are_never_stored_or_logged(upstream, aiproxy_redis_prefix, tmp_path):
    sqlite_config = {
        "server": {"base_domain": BASE_DOMAIN},
        "storage": {"path": str(tmp_path / "keys.db")},
        "logging": {"level": "debug", "access_log": True},
    }
    redis_config = {**sqlite_config, "redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}}
    keys: list[str] = []
    logs = []
    for config in (sqlite_config, redis_config):
        with GatewayProcess(config, workdir=tmp_path) as gateway:
            tenant = create_tenant_and_rule(gateway.admin_url, upstream, subdomain=f"k{len(keys)}")
            keys.append(tenant["api_key"])
            auth = {"Authorization": f"Bearer {tenant['api_key']}"}
            extra = httpx.post(f"{gateway.admin_url}/api/v1/tenants/{tenant['id']}/keys", headers=auth, json={}).json()
            keys.append(extra["key"])
            chat(gateway.proxy_url, extra["key"], subdomain=f"k{len(keys) - 2}")
            chat(gateway.proxy_url, extra["key"] + "x", subdomain=f"k{len(keys) - 2}")  # a failed attempt is not logged either
            listed = httpx.get(f"{gateway.admin_url}/api/v1/tenants/{tenant['id']}/keys", headers=auth).text
            assert all(k not in listed for k in keys)
        logs.append(gateway.log.read_text())
    stored = (tmp_path / "keys.db").read_bytes()
    for wal in tmp_path.glob("keys.db-*"):
        stored += wal.read_bytes()
    stored += redis_contents(aiproxy_redis_prefix)
    for key in keys:
        secret_part = key[len("aip_") + 8:]
        assert secret_part.encode() not in stored
        assert all(secret_part not in log for log in logs)


def test_consumer_key_rotation_and_revocation_across_processes(upstream, aiproxy_redis_prefix, tmp_path):
    config = {"server": {"base_domain": BASE_DOMAIN}, "redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}}
    with GatewayProcess(config, workdir=tmp_path) as first, GatewayProcess(config, workdir=tmp_path) as second:
        tenant = create_tenant_and_rule(first.admin_url, upstream)
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        consumers = f"{first.admin_url}/api/v1/tenants/{tenant['id']}/consumers"
        consumer = httpx.post(consumers, headers=auth, json={"name": "Ada", "plan_id": "pro"}).json()
        old = httpx.post(f"{consumers}/{consumer['id']}/keys", headers=auth).json()
        assert chat(second.proxy_url, old["key"]).status_code == 200  # cached as valid in the second process

        new = httpx.post(f"{consumers}/{consumer['id']}/keys/{old['id']}/rotate", headers=auth, json={"grace_seconds": 2}).json()
        assert chat(second.proxy_url, old["key"]).status_code == 200  # the grace period
        assert chat(second.proxy_url, new["key"]).status_code == 200
        time.sleep(2.0)
        deadline = time.monotonic() + 1.0
        while chat(second.proxy_url, old["key"]).status_code != 401:
            assert time.monotonic() < deadline, "the old key still worked 1 s after its grace period ended"
            time.sleep(0.05)

        assert httpx.delete(f"{consumers}/{consumer['id']}/keys/{new['id']}", headers=auth).status_code == 204
        deadline = time.monotonic() + 1.0
        while chat(second.proxy_url, new["key"]).status_code != 401:
            assert time.monotonic() < deadline, "a revoked consumer key still worked on another process after 1 s"
            time.sleep(0.02)
