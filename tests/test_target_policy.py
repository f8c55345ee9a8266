"""Rule targets (issue #9 items 1, 3, 6, 10, 11): where a rule may send a consumer's request.

Nothing here sends traffic beyond 127.0.0.0/8: public-looking targets (1.1.1.1) are only saved,
never requested through, and every refusal is checked to come before any connection.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Iterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from aiproxy_core import GatewayConfig
from aiproxy_core.config import UpstreamConfig
from aiproxy_core.errors import Forbidden, UpstreamTimeout, UpstreamUnreachable
from aiproxy_core.models import Rule
from aiproxy_core.server.demo import MOCK_PORT, seed_demo
from aiproxy_core.store.opening import store_for
from aiproxy_core.upstream import Http1UpstreamClient, TargetPolicy
from aiproxy_core.upstream.local_addresses import ALWAYS_LOCAL, local_networks
from aiproxy_core.upstream.target_policy import parse_address
from aiproxy_sdk import LiveGateway, ServerThread

#: A public address to save rules with; never requested through (nothing may leave loopback).
PUBLIC = "http://1.1.1.1"
STRICT = {"upstream": {"allowed_networks": []}}  # the default policy (the harness allows 127.0.0.1/32)

# (target, what the 422 message must say) with the default policy.
REFUSED_SPELLINGS = [
    ("http://127.0.0.1:8000/v1", "127.0.0.1:8000 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254:80 is a cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "resolves to 169.254.169.254, which is a cloud metadata address"),
    ("http://METADATA.google.internal./", "cloud metadata address"),
    ("http://0.0.0.0:8000", "0.0.0.0:8000 is an unspecified address"),
    ("http://2130706433/", "127.0.0.1:80 is a loopback address"),
    ("http://0177.0.0.1/", "127.0.0.1:80 is a loopback address"),
    ("http://0x7f.1/", "127.0.0.1:80 is a loopback address"),
    ("http://127.1:8000/", "127.0.0.1:8000 is a loopback address"),
    ("http://[::ffff:127.0.0.1]:8000/", "is a loopback address"),
    ("http://localhost./", "resolves to 127.0.0.1, which is a loopback address"),
    ("http://LOCALHOST:8000/", "resolves to 127.0.0.1, which is a loopback address"),
    ("http://api.localhost/", "resolves to 127.0.0.1, which is a loopback address"),
    ("http://10.0.0.1/", "10.0.0.1:80 is a private address (RFC 1918)"),
    ("http://172.16.5.4/", "is a private address (RFC 1918)"),
    ("http://192.168.1.1/", "is a private address (RFC 1918)"),
    ("http://[fd00::1]/", "[fd00::1]:80 is a unique local (private) address"),
    ("http://[fd00:ec2::254]/", "is a cloud metadata address"),
    ("http://100.64.0.1/", "100.64.0.1:80 is a carrier-grade NAT address"),
    ("http://[::1]:8000/", "[::1]:8000 is a loopback address"),
    ("http://[fe80::1]/", "is a link-local address"),
    ("http://169.254.1.1/", "is a link-local address"),
    ("http://224.0.0.1/", "is a multicast address"),
    ("http://255.255.255.255/", "is the broadcast address"),
    ("http://[2002:7f00:1::]/", "an IPv6 form of 127.0.0.1, which is a loopback address"),  # 6to4
    ("http://[64:ff9b::a9fe:a9fe]/", "an IPv6 form of 169.254.169.254, which is a cloud metadata address"),  # NAT64
]


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"type", "code", "message", "request_id"}
    assert error["code"] == code, error
    return error


async def stored_targets(gw: Any) -> list[str]:
    return sorted(r.target.unicode_string() for r in await gw.gateway.store.list_rules(gw.tenant["id"]))


# -- at save: 422 target_not_allowed, nothing stored ------------------------------------------


@pytest.mark.parametrize(("target", "reason"), REFUSED_SPELLINGS)
async def test_a_rule_aimed_at_a_non_public_address_is_refused_at_save(aiproxy_gateway_factory, target, reason):
    gw = await aiproxy_gateway_factory(upstream_url=PUBLIC, config=STRICT)
    before = await stored_targets(gw)
    rules = f"/api/v1/tenants/{gw.tenant['id']}/rules"
    created = await gw.admin.post(rules, headers=gw.tenant_auth, json={"path": "/evil", "target": target})
    error = assert_error(created, 422, "target_not_allowed")
    assert reason in error["message"]
    assert "upstream.allowed_networks" in error["message"]  # says how an operator would allow it
    replaced = await gw.admin.put(f"{rules}/{gw.rule['id']}", headers=gw.tenant_auth, json={"path": "/v1", "target": target})
    assert_error(replaced, 422, "target_not_allowed")
    assert await stored_targets(gw) == before


async def test_the_refusal_holds_on_both_stores(aiproxy_gateway_factory, aiproxy_backend):
    gw = await aiproxy_gateway_factory(upstream_url=PUBLIC, config=STRICT, redis=aiproxy_backend)
    created = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth, json={"path": "/evil", "target": "http://2130706433:6379"}
    )
    assert_error(created, 422, "target_not_allowed")
    assert await stored_targets(gw) == [PUBLIC + "/"]


async def test_public_targets_and_names_that_do_not_resolve_yet_are_accepted(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(upstream_url=PUBLIC, config=STRICT)
    rules = f"/api/v1/tenants/{gw.tenant['id']}/rules"
    for path, target in (("/a", "https://1.1.1.1:8443/v1"), ("/b", "http://[2606:4700:4700::1111]/"), ("/c", "http://upstream.invalid/")):
        created = await gw.admin.post(rules, headers=gw.tenant_auth, json={"path": path, "target": target})
        assert created.status_code == 201, created.text


# -- the operator's allowances; the gateway's own sockets never -------------------------------


@pytest.fixture
def recording_upstream() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback upstream that records what reaches it (and answers 200)."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        seen.append({"method": request.method, "path": scope["path"], "query": scope["query_string"].decode()})
        await JSONResponse({"ok": True})(scope, receive, send)

    with ServerThread(app) as url:
        yield url, seen


def live_config(tmp_path: Any, backend: dict[str, Any] | None, networks: list[str]) -> GatewayConfig:
    config: dict[str, Any] = {
        "server": {"base_domain": "gateway.test"},
        "storage": {"path": str(tmp_path / "live.db")},
        "upstream": {"allowed_networks": networks},
    }
    if backend is not None:
        config["redis"] = backend
    return GatewayConfig.model_validate(config)


def new_tenant(admin: httpx.Client, subdomain: str) -> dict[str, Any]:
    made = admin.post("/api/v1/tenants", json={"name": subdomain, "subdomain": subdomain})
    assert made.status_code == 201, made.text
    return made.json()


def host_address() -> str | None:
    """One of this host's own (non-loopback) addresses, if it has one."""
    for network in local_networks():
        if network not in ALWAYS_LOCAL and network.version == 4:
            return str(network.network_address)
    return None


def test_allowed_networks_admit_loopback_but_never_the_gateways_own_sockets(tmp_path, aiproxy_backend, recording_upstream):
    upstream, seen = recording_upstream
    # The widest allowance there is: every address. The gateway's own sockets stay refused.
    config = live_config(tmp_path, aiproxy_backend, ["0.0.0.0/0", "::/0"])
    with LiveGateway(config) as live, httpx.Client(base_url=live.admin_url, timeout=10) as admin:
        tenant = new_tenant(admin, "t1")
        rules, auth = f"/api/v1/tenants/{tenant['id']}/rules", {"Authorization": f"Bearer {tenant['api_key']}"}
        admin_port, proxy_port = live.admin_url.rsplit(":", 1)[1], live.proxy_url.rsplit(":", 1)[1]
        own = [(f"127.0.0.1:{admin_port}", "own Admin listener"), (f"127.0.0.1:{proxy_port}", "own Proxy listener")]
        for spelling in ("2130706433", "[::ffff:127.0.0.1]", "0x7f.1", "127.0.0.2", "0.0.0.0", "[::1]", "localhost."):
            own.append((f"{spelling}:{admin_port}", "own Admin listener"))
        if host_address() is not None:  # the host's LAN address reaches a listener on 0.0.0.0
            own.append((f"{host_address()}:{admin_port}", "own Admin listener"))
        if aiproxy_backend is not None:
            own += [("127.0.0.1:6379", "own Redis"), ("localhost:6379", "own Redis")]
        for i, (authority, reason) in enumerate(own):
            refused = admin.post(rules, headers=auth, json={"path": f"/own{i}", "target": f"http://{authority}/"})
            error = assert_error(refused, 422, "target_not_allowed")
            assert reason in error["message"] and "never allowed" in error["message"], (authority, error)
        assert admin.get(rules, headers=auth).json()["data"] == []

        made = admin.post(rules, headers=auth, json={"path": "/v1", "target": upstream})
        assert made.status_code == 201, made.text
        answer = httpx.post(live.proxy_url + "/v1/x", headers={"Host": "t1.gateway.test", **auth}, json={}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert [s["path"] for s in seen] == ["/v1/x"]


def test_a_consumer_cannot_reach_the_admin_api_through_a_rule(tmp_path, aiproxy_backend):
    """The attack of the issue: a rule aimed at the Admin API, then a consumer's DELETE of another tenant."""
    config = live_config(tmp_path, aiproxy_backend, ["127.0.0.1/32"])  # the operator allows a local model server
    with LiveGateway(config) as live, httpx.Client(base_url=live.admin_url, timeout=10) as admin:
        attacker, victim = new_tenant(admin, "attacker"), new_tenant(admin, "victim")
        auth = {"Authorization": f"Bearer {attacker['api_key']}"}
        rules = f"/api/v1/tenants/{attacker['id']}/rules"
        spellings = ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]")
        for target in (live.admin_url.replace("127.0.0.1", spelling) for spelling in spellings):
            refused = admin.post(rules, headers=auth, json={"path": "/v1", "target": target, "strip_path": True})
            assert "own Admin listener" in assert_error(refused, 422, "target_not_allowed")["message"]

        # A rule stored before this check existed (written to the store directly) meets the
        # connect-time check: the consumer gets 403 and the Admin API sees no request.
        asyncio.run(_store_rule(config, attacker["id"], live.admin_url))
        consumer = admin.post(f"/api/v1/tenants/{attacker['id']}/consumers", headers=auth, json={"name": "c"}).json()
        consumer_key = admin.post(f"/api/v1/tenants/{attacker['id']}/consumers/{consumer['id']}/keys", headers=auth, json={}).json()["key"]
        answer = httpx.delete(
            f"{live.proxy_url}/v1/api/v1/tenants/{victim['id']}",
            headers={"Host": "attacker.gateway.test", "Authorization": f"Bearer {consumer_key}"},
            timeout=10,
        )
        error = assert_error(answer, 403, "target_not_allowed")
        admin_port = live.admin_url.rsplit(":", 1)[1]
        assert admin_port not in error["message"] and "127.0.0.1" not in error["message"]
        assert victim["id"] in [t["id"] for t in admin.get("/api/v1/tenants").json()["data"]]


async def _store_rule(config: GatewayConfig, tenant_id: str, target: str) -> None:
    store = store_for(config)
    await store.open()
    now = datetime.now(timezone.utc)
    try:
        rule_id = "rul_" + uuid.uuid4().hex[:16]
        await store.put_rule(
            Rule(id=rule_id, tenant_id=tenant_id, path="/v1", target=target, strip_path=True, created_at=now, updated_at=now)
        )
    finally:
        await store.close()


# -- at connect: every resolved address, every time --------------------------------------------


async def test_a_rule_saved_under_a_wider_policy_is_refused_at_connect_after_a_restart(
    aiproxy_gateway_factory, aiproxy_backend, recording_upstream, tmp_path
):
    upstream, seen = recording_upstream
    state = {"storage": {"path": str(tmp_path / "shared.db")}}
    first = await aiproxy_gateway_factory(upstream_url=upstream, redis=aiproxy_backend, config=state)
    assert (await first.chat("hi")).status_code == 200 and len(seen) == 1
    await first.close()

    # The operator narrows the policy and restarts on the same state.
    second = await aiproxy_gateway_factory(upstream_url=PUBLIC, redis=aiproxy_backend, config={**state, **STRICT})
    old_tenant = second.proxy_client(first.api_key)
    old_tenant.headers["Host"] = first.host
    answer = await old_tenant.post(f"http://{first.host}/v1/chat/completions", json={"model": "m", "messages": []})
    error = assert_error(answer, 403, "target_not_allowed")
    assert upstream.rsplit(":", 1)[1] not in error["message"]
    assert len(seen) == 1  # the upstream received nothing more


class FixedDns:
    """A DNS that answers from a table: stands in for a name an attacker controls."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[host]


async def test_a_name_that_resolves_to_refused_space_is_refused_at_connect(recording_upstream):
    upstream, seen = recording_upstream
    port = int(upstream.rsplit(":", 1)[1])
    dns = FixedDns({"rebind.test": ["127.0.0.1"], "mixed.test": ["10.1.2.3", "127.0.0.1"]})
    policy = TargetPolicy()
    await policy.check_target(f"http://rebind.test:{port}/")  # not resolvable at save: accepted, judged at connect
    client = Http1UpstreamClient(UpstreamConfig(), policy, dns=dns)
    await client.start()
    try:
        with pytest.raises(Forbidden) as refused:
            await client.send("GET", f"http://rebind.test:{port}/x", [], b"")
        assert refused.value.code == "target_not_allowed" and refused.value.status == 403
        assert "rebind.test" not in refused.value.message and str(port) not in refused.value.message
        assert "127.0.0.1 is a loopback address" in refused.value.log_detail  # type: ignore[attr-defined]
        assert dns.asked == ["rebind.test"] and seen == []
    finally:
        await client.close()

    # Allowed loopback: the same name connects (only to the allowed address of a mixed answer).
    client = Http1UpstreamClient(UpstreamConfig(), TargetPolicy(["127.0.0.1/32"]), dns=dns)
    await client.start()
    try:
        for name in ("rebind.test", "mixed.test"):
            response = await client.send("GET", f"http://{name}:{port}/ok", [], b"")
            assert response.status == 200
            await response.read()
        assert [s["path"] for s in seen] == ["/ok", "/ok"]
    finally:
        await client.close()


async def test_ip_literals_are_refused_before_any_connection(recording_upstream):
    upstream, seen = recording_upstream
    port = upstream.rsplit(":", 1)[1]
    client = Http1UpstreamClient(UpstreamConfig(), TargetPolicy())
    await client.start()
    try:
        for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "localhost", "0x7f.1", "2130706433"):
            with pytest.raises(Forbidden) as refused:
                await client.send("GET", f"http://{host}:{port}/x", [], b"")
            assert refused.value.code == "target_not_allowed", host
    finally:
        await client.close()
    assert seen == []


async def test_only_the_allowed_addresses_of_a_name_are_dialled(recording_upstream):
    upstream, seen = recording_upstream
    port = int(upstream.rsplit(":", 1)[1])
    # 10.1.2.3 first: were it dialled, the request would fail (nothing answers there) or leave loopback.
    dns = FixedDns({"mixed.test": ["10.1.2.3", "::1", "127.0.0.1"]})
    client = Http1UpstreamClient(UpstreamConfig(connect_timeout=2), TargetPolicy(["127.0.0.1/32"]), dns=dns)
    await client.start()
    try:
        response = await client.send("GET", f"http://mixed.test:{port}/only-loopback", [], b"")
        assert response.status == 200
        await response.read()
    finally:
        await client.close()
    assert [s["path"] for s in seen] == ["/only-loopback"]


def test_every_spelling_is_one_address():
    for spelling in ("2130706433", "0177.0.0.1", "0x7f.1", "0x7F.0.0.1", "127.1", "[::ffff:127.0.0.1]", "::FFFF:7F00:1", "127.0.0.1."):
        assert str(parse_address(spelling)) == "127.0.0.1", spelling
    for name in ("example.com", "127.0.0.1 evil", "1.2.3.4.5", "localhost", ""):
        assert parse_address(name) is None, name


def test_a_wildcard_listener_is_refused_on_every_local_address():
    policy = TargetPolicy(["0.0.0.0/0", "::/0"])
    policy.refuse_own_endpoint("Admin listener", "0.0.0.0", 8080)
    for network in local_networks():
        why = policy.refusal(network.network_address, 8080)
        assert why is not None and "own Admin listener" in why, network
        assert policy.refusal(network.network_address, 8081) is None


async def test_the_demo_allows_exactly_its_mock_upstream(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(upstream_url=PUBLIC, config=STRICT)
    loopback = parse_address("127.0.0.1")
    assert gw.gateway.target_policy.refusal(loopback, MOCK_PORT) is not None
    await seed_demo(gw.gateway)
    assert gw.gateway.target_policy.refusal(loopback, MOCK_PORT) is None
    assert gw.gateway.target_policy.refusal(loopback, MOCK_PORT + 1) is not None
    assert gw.gateway.target_policy.refusal(parse_address("10.0.0.1"), MOCK_PORT) is not None


# -- credentials and control characters in what a rule sends ----------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://user:secret@1.1.1.1/v1",
        "http://:secret@1.1.1.1/v1",
        "https://1.1.1.1/v1?api_key=sk-123",
        "https://1.1.1.1/v1?KEY=AIza123",
        "https://1.1.1.1/v1?a=1&access_token=t",
        "https://1.1.1.1/v1?sig=abc&se=2030",
        "https://1.1.1.1/v1?subscription-key=abc",
        "https://1.1.1.1/v1?Password=p",
    ],
)
async def test_credentials_in_a_target_are_refused_at_save(aiproxy_gateway_factory, target):
    gw = await aiproxy_gateway_factory(upstream_url=PUBLIC, config=STRICT)
    before = await stored_targets(gw)
    made = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth, json={"path": "/c", "target": target})
    error = assert_error(made, 422, "validation_error")
    assert error["details"][0]["field"] == "target" and "upstream_headers" in error["message"]
    assert "secret" not in made.text and "sk-123" not in made.text and "AIza123" not in made.text
    assert await stored_targets(gw) == before


async def test_a_target_query_without_credentials_is_kept(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(upstream_url=PUBLIC, config=STRICT)
    target = "https://1.1.1.1/openai/deployments/gpt?api-version=2024-06-01"
    made = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth, json={"path": "/az", "target": target})
    assert made.status_code == 201, made.text
    assert made.json()["target"] == target


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"X-Upstream": "a\r\nX-Injected: 1"}, "X-Upstream"),
        ({"X-Upstream": "a\nb"}, "X-Upstream"),
        ({"X-Upstream": "a\x00b"}, "X-Upstream"),
        ({"X-Upstream": "a\x85b"}, "X-Upstream"),
        ({"X-Bad\r\nName": "a"}, "X-Bad"),
        ({"X Space": "a"}, "X Space"),
        ({"X:Colon": "a"}, "X:Colon"),
    ],
)
async def test_control_characters_in_upstream_headers_are_refused_at_save(aiproxy_gateway_factory, headers, named):
    gw = await aiproxy_gateway_factory(upstream_url=PUBLIC, config=STRICT)
    before = await stored_targets(gw)
    made = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules",
        headers=gw.tenant_auth,
        json={"path": "/h", "target": PUBLIC, "upstream_headers": headers},
    )
    error = assert_error(made, 422, "validation_error")
    assert error["details"][0]["field"] == "upstream_headers" and named in error["message"]
    assert await stored_targets(gw) == before


# -- timeouts and what a consumer is told ------------------------------------------------------


@pytest.fixture
def silent_upstream() -> Iterator[str]:
    """Accepts connections, reads, and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_the_configured_read_timeout_applies_without_a_rule_timeout(tmp_path, silent_upstream):
    config = live_config(tmp_path, None, ["127.0.0.1/32"]).model_copy(
        update={"upstream": UpstreamConfig(read_timeout=0.5, allowed_networks=["127.0.0.1/32"])}
    )
    with LiveGateway(config) as live, httpx.Client(base_url=live.admin_url, timeout=10) as admin:
        tenant = new_tenant(admin, "slow")
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        made = admin.post(f"/api/v1/tenants/{tenant['id']}/rules", headers=auth, json={"path": "/v1", "target": silent_upstream})
        assert made.status_code == 201, made.text
        # Without the fix this waits forever: httpx gives up after 15 s and the test fails.
        answer = httpx.post(live.proxy_url + "/v1/chat", headers={"Host": "slow.gateway.test", **auth}, json={}, timeout=15)
        error = assert_error(answer, 504, "upstream_timeout")
        assert error["message"] == "the upstream of this route did not answer in time"


async def test_upstream_errors_name_no_url_credential_or_library(aiproxy_gateway_factory):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    gw = await aiproxy_gateway_factory()
    # A rule stored before credentials in targets were refused (written to the store directly).
    legacy = Rule(**{**gw.rule, "target": f"http://admin:hunter2@127.0.0.1:{closed}/v1?token=tk-999"})
    await gw.gateway.store.put_rule(legacy)
    answer = await gw.chat("hi")
    error = assert_error(answer, 502, "upstream_unreachable")
    assert error["message"] == "the upstream of this route is unreachable"
    for leaked in ("hunter2", "admin:", "tk-999", str(closed), "127.0.0.1", "Client", "aiohttp"):
        assert leaked not in answer.text, leaked


async def test_the_log_detail_names_the_origin_without_credentials(recording_upstream):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    client = Http1UpstreamClient(UpstreamConfig(), TargetPolicy(["127.0.0.1/32"]))
    await client.start()
    try:
        with pytest.raises(UpstreamUnreachable) as unreachable:
            await client.send("GET", f"http://admin:hunter2@127.0.0.1:{closed}/v1?token=tk-999", [], b"")
    finally:
        await client.close()
    detail = unreachable.value.log_detail  # type: ignore[attr-defined]
    assert detail.startswith(f"http://127.0.0.1:{closed}: ConnectionRefusedError"), detail
    assert "hunter2" not in detail and "tk-999" not in detail and "admin" not in detail
    assert unreachable.value.message == "the upstream of this route is unreachable"
    assert UpstreamTimeout("x").status == 504


# -- item 11: a target with a query string -------------------------------------------------------


async def test_a_target_query_is_kept_and_the_path_goes_before_it(aiproxy_gateway_factory, recording_upstream):
    upstream, seen = recording_upstream
    gw = await aiproxy_gateway_factory(upstream_url=upstream, rule={"target": f"{upstream}/api?api-version=1"})
    answer = await gw.proxy.post("/v1/chat/completions?x=2", json={})
    assert answer.status_code == 200, answer.text
    assert seen == [{"method": "POST", "path": "/api/v1/chat/completions", "query": "api-version=1&x=2"}]
