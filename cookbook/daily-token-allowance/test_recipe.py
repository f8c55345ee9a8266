"""The recipe's tests: each runs three times, on SQLite (embedded), one Redis and a real Redis
Cluster (``aiproxy_every_backend``).

The mock upstream counts tokens as words: a prompt "a b" is 2 prompt tokens and its answer
"You said: a b" 4 completion tokens, cut to ``max_tokens`` words when that is lower.
"""

import asyncio
import json
import time

import daily_token_allowance
from daily_token_allowance import Settings, used_today

PLUGIN = {"daily_token_allowance": daily_token_allowance}


def allowance(**settings):
    return [{"name": "daily_token_allowance", "settings": settings}]


async def new_consumer(gw, name="Alice"):
    """A consumer of the harness's tenant and a Proxy API client with its key."""
    base = f"/api/v1/tenants/{gw.tenant['id']}/consumers"
    made = await gw.admin.post(base, headers=gw.tenant_auth, json={"name": name})
    assert made.status_code == 201, made.text
    key = await gw.admin.post(f"{base}/{made.json()['id']}/keys", headers=gw.tenant_auth, json={})
    assert key.status_code == 201, key.text
    return made.json()["id"], gw.proxy_client(key.json()["key"])


async def chat(client, content="a b", **body):
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": content}], **body}
    return await client.post("/v1/chat/completions", json=payload)


async def used(gw, consumer_id, **settings):
    return await used_today(gw.gateway.services, gw.tenant["id"], f"consumer:{consumer_id}", Settings(**settings))


def seconds_to_utc_midnight():
    return 86_400 - int(time.time()) % 86_400


async def test_requests_are_admitted_until_the_allowance_is_spent(aiproxy_gateway_factory, aiproxy_every_backend):
    gw = await aiproxy_gateway_factory(plugins=PLUGIN, chain=allowance(tokens_per_day=60, count="output"), redis=aiproxy_every_backend)
    alice, alice_client = await new_consumer(gw, "Alice")
    bob, bob_client = await new_consumer(gw, "Bob")

    # Each request reserves its max_tokens (10) and uses 5 ("You said: one two three").
    # Before request k, 5(k-1) are used: it fits while 5(k-1) + 10 <= 60, so 11 are admitted.
    for k in range(1, 12):
        answered = await chat(alice_client, "one two three", max_tokens=10)
        assert answered.status_code == 200, answered.text
        assert answered.json()["usage"]["completion_tokens"] == 5
        assert answered.headers["x-tokens-limit-today"] == "60"
        assert answered.headers["x-tokens-remaining-today"] == str(60 - 5 * (k - 1) - 10)
        await gw.settle()  # post_response settles after the client has the answer
    assert await used(gw, alice, tokens_per_day=60) == 55

    refused = await chat(alice_client, "one two three", max_tokens=10)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "daily_tokens_exhausted"
    assert error["request_id"] == refused.headers["x-request-id"]
    assert "up to 10 tokens and 5 of this consumer's 60 tokens for today are left" in error["message"]
    assert abs(int(refused.headers["retry-after"]) - seconds_to_utc_midnight()) <= 5
    assert refused.headers["x-tokens-remaining-today"] == "5"

    # What is left still serves a request that fits in it; then nothing is left.
    last = await chat(alice_client, "one two three", max_tokens=5)
    assert last.status_code == 200 and last.headers["x-tokens-remaining-today"] == "0"
    await gw.settle()
    assert await used(gw, alice, tokens_per_day=60) == 60
    spent = await chat(alice_client, "x", max_tokens=1)
    assert spent.status_code == 429 and spent.json()["error"]["code"] == "daily_tokens_exhausted"

    # Bob, a consumer of the same tenant, has his own allowance.
    for_bob = await chat(bob_client, "one two three", max_tokens=10)
    assert for_bob.status_code == 200 and for_bob.headers["x-tokens-remaining-today"] == "50"
    await gw.settle()
    assert await used(gw, bob, tokens_per_day=60) == 5
    assert await used(gw, alice, tokens_per_day=60) == 60


async def test_admission_is_exact_under_50_concurrent_requests(aiproxy_gateway_factory, aiproxy_every_backend):
    """Each request reserves max_tokens=4 and uses exactly 4, so whatever the interleaving of
    reservations and settlements, exactly 100 / 4 = 25 of 50 fit: a lost or doubled update in
    the store would admit more or fewer. Bob's 10 requests, mixed in, are all served."""
    gw = await aiproxy_gateway_factory(plugins=PLUGIN, chain=allowance(tokens_per_day=100, count="output"), redis=aiproxy_every_backend)
    alice, alice_client = await new_consumer(gw, "Alice")
    bob, bob_client = await new_consumer(gw, "Bob")
    slow = {"X-Mock-Latency-Ms": "50"}  # keeps many requests in flight at once

    async def one(client):
        payload = {"model": "mock-model", "messages": [{"role": "user", "content": "a b"}], "max_tokens": 4}
        return await client.post("/v1/chat/completions", json=payload, headers=slow)

    answers = await asyncio.gather(*[one(alice_client) for _ in range(50)], *[one(bob_client) for _ in range(10)])
    await gw.settle()
    alices, bobs = answers[:50], answers[50:]
    assert sorted(a.status_code for a in alices) == [200] * 25 + [429] * 25
    assert all(a.json()["error"]["code"] == "daily_tokens_exhausted" for a in alices if a.status_code == 429)
    assert sum(a.json()["usage"]["completion_tokens"] for a in alices if a.status_code == 200) == 100
    assert await used(gw, alice, tokens_per_day=100) == 100
    assert [b.status_code for b in bobs] == [200] * 10
    assert await used(gw, bob, tokens_per_day=100) == 40


async def test_the_day_count_is_the_upstreams_usage_under_concurrency(aiproxy_gateway_factory, aiproxy_every_backend):
    """In total mode a request reserves max_tokens plus its body's bytes (a bound on its prompt)
    and is settled to the usage it reports: after 50 concurrent requests the count is exactly
    the sum of the answers' total_tokens, never above the allowance, and a refusal only came
    when what was left was less than one reservation."""
    gw = await aiproxy_gateway_factory(plugins=PLUGIN, chain=allowance(tokens_per_day=1000), redis=aiproxy_every_backend)
    alice, client = await new_consumer(gw)
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": "a b"}], "max_tokens": 8}
    answers = await asyncio.gather(
        *[client.post("/v1/chat/completions", json=payload, headers={"X-Mock-Latency-Ms": "50"}) for _ in range(50)]
    )
    await gw.settle()
    served = [a for a in answers if a.status_code == 200]
    assert all(a.status_code == 429 for a in answers if a.status_code != 200)
    total = sum(a.json()["usage"]["total_tokens"] for a in served)
    assert total == 6 * len(served)  # 2 prompt + 4 answer tokens each
    assert await used(gw, alice, tokens_per_day=1000) == total <= 1000
    # Each refusal saw more than 1000 - reservation counted; what is counted is at most one
    # reservation per admitted request, so at least 1000 // reservation were admitted.
    reservation = 8 + len(client.build_request("POST", "/v1/chat/completions", json=payload).content)
    assert len(served) >= min(50, 1000 // reservation)
    # Once they are settled, the next request sees what they did not use given back.
    after = await client.post("/v1/chat/completions", json=payload)
    assert after.status_code == 200
    assert after.headers["x-tokens-remaining-today"] == str(1000 - total - reservation)


async def test_a_streamed_answer_is_counted_from_its_usage_chunk(aiproxy_gateway_factory, aiproxy_every_backend):
    gw = await aiproxy_gateway_factory(plugins=PLUGIN, chain=allowance(tokens_per_day=10_000), redis=aiproxy_every_backend)
    alice, client = await new_consumer(gw)
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": "one two three"}], "stream": True, "max_tokens": 50}
    async with client.stream("POST", "/v1/chat/completions", json=payload) as response:
        assert response.status_code == 200
        text = (await response.aread()).decode()
    events = [line.removeprefix("data: ") for line in text.split("\n\n") if line.startswith("data: {")]
    usage = json.loads(events[-1])["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (3, 5, 8)
    await gw.settle()
    # Counted from the usage chunk (8), not the reservation (50 + the body's bytes).
    assert await used(gw, alice, tokens_per_day=10_000) == 8


async def test_an_answer_longer_than_its_reservation_is_counted_in_full(aiproxy_gateway_factory, aiproxy_every_backend):
    """The documented limit of the guarantee: a request without max_tokens reserves
    default_max_tokens; if the answer is longer, all of it is counted (the day's count stays
    the upstream's), which may pass the allowance once; the next request is refused."""
    gw = await aiproxy_gateway_factory(
        plugins=PLUGIN, chain=allowance(tokens_per_day=4, count="output", default_max_tokens=2), redis=aiproxy_every_backend
    )
    alice, client = await new_consumer(gw)
    assert (await chat(client, "one two three")).status_code == 200  # reserves 2, uses 5
    await gw.settle()
    assert await used(gw, alice, tokens_per_day=4) == 5
    assert (await chat(client, "x")).status_code == 429


async def test_a_failed_answer_gives_its_reservation_back(aiproxy_gateway_factory, aiproxy_every_backend):
    gw = await aiproxy_gateway_factory(plugins=PLUGIN, chain=allowance(tokens_per_day=100), redis=aiproxy_every_backend)
    alice, client = await new_consumer(gw)
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": "a b"}], "max_tokens": 8}
    failed = await client.post("/v1/chat/completions", json=payload, headers={"X-Mock-Status": "500"})
    assert failed.status_code == 500
    await gw.settle()
    assert await used(gw, alice, tokens_per_day=100) == 0


async def test_deleting_the_tenant_drops_its_allowances_with_no_plugin_code(aiproxy_gateway_factory, aiproxy_every_backend):
    gw = await aiproxy_gateway_factory(plugins=PLUGIN, chain=allowance(tokens_per_day=10, count="output"), redis=aiproxy_every_backend)
    old_tenant = gw.tenant
    alice, client = await new_consumer(gw)
    assert (await chat(client, "one two three four five six", max_tokens=10)).status_code == 200
    await gw.settle()
    assert (await chat(client, "x", max_tokens=10)).status_code == 429
    assert await used(gw, alice, tokens_per_day=10) == 8

    deleted = await gw.admin.delete(f"/api/v1/tenants/{old_tenant['id']}")
    assert deleted.status_code == 204
    # The core dropped the counter (the plugin has no tenant_deleted hook).
    assert await used(gw, alice, tokens_per_day=10) == 0

    # The same subdomain again: a new tenant, a new consumer, a fresh allowance.
    made = await gw.admin.post("/api/v1/tenants", json={"name": "Again", "subdomain": old_tenant["subdomain"]})
    assert made.status_code == 201, made.text
    gw.tenant, gw.api_key = made.json(), made.json()["api_key"]
    rule = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules",
        headers=gw.tenant_auth,
        json={"path": "/v1", "target": gw.rule["target"], "plugin_chain": allowance(tokens_per_day=10, count="output")},
    )
    assert rule.status_code == 201, rule.text
    _, again = await new_consumer(gw)
    fresh = await chat(again, "x", max_tokens=10)
    assert fresh.status_code == 200 and fresh.headers["x-tokens-remaining-today"] == "0"
    await gw.settle()
    fits = await chat(again, "x", max_tokens=7)  # used 3 ("You said: x"), so 7 are left
    assert fits.status_code == 200, fits.text


async def test_bad_settings_are_refused_when_the_rule_is_saved(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins=PLUGIN)
    response = await gw.admin.put(
        f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}",
        headers=gw.tenant_auth,
        json={"path": "/v1", "target": "http://127.0.0.1:9", "plugin_chain": allowance(tokens_per_day=0)},
    )
    assert response.status_code == 422
    assert "settings.tokens_per_day" in response.json()["error"]["message"]


async def test_a_request_larger_than_the_whole_allowance_is_a_bad_request(aiproxy_gateway_factory, aiproxy_every_backend):
    """No Retry-After would help it: the consumer is told to lower max_tokens."""
    gw = await aiproxy_gateway_factory(plugins=PLUGIN, chain=allowance(tokens_per_day=100, count="output"), redis=aiproxy_every_backend)
    alice, client = await new_consumer(gw)
    refused = await chat(client, "a b", max_tokens=101)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "request_exceeds_daily_tokens"
    assert "lower max_tokens" in refused.json()["error"]["message"]
    assert "retry-after" not in refused.headers
    assert (await chat(client, "a b", max_tokens=100)).status_code == 200


async def test_two_gateways_sharing_a_store_admit_exactly_the_allowance(tmp_path, aiproxy_mock_upstream, aiproxy_every_backend):
    """Two gateways, each in its own thread with its own event loop and its own connection to
    the store (the SQLite file, or Redis), take 50 concurrent requests between them: their
    reservations really interleave, and still exactly 25 of 4 tokens fit in 100."""
    import httpx

    from aiproxy_core import GatewayConfig, PluginRegistry
    from aiproxy_sdk import LiveGateway

    settings = {
        "server": {"base_domain": "gateway.test"},
        "storage": {"path": str(tmp_path / "aiproxy.db")},
        "upstream": {"allowed_networks": ["127.0.0.1/32"]},
    } | ({"redis": aiproxy_every_backend} if aiproxy_every_backend else {})

    def live():
        registry = PluginRegistry()
        registry.register(daily_token_allowance, "daily_token_allowance")
        return LiveGateway(GatewayConfig.model_validate(settings), registry=registry)

    with live() as first, live() as second:
        async with httpx.AsyncClient(base_url=first.admin_url) as admin:
            tenant = (await admin.post("/api/v1/tenants", json={"name": "Two", "subdomain": "two"})).json()
            auth = {"Authorization": f"Bearer {tenant['api_key']}"}
            base = f"/api/v1/tenants/{tenant['id']}"
            rule = {"path": "/v1", "target": aiproxy_mock_upstream, "plugin_chain": allowance(tokens_per_day=100, count="output")}
            assert (await admin.post(base + "/rules", headers=auth, json=rule)).status_code == 201
            keys = {}
            for name in ("Alice", "Bob"):
                consumer = (await admin.post(base + "/consumers", headers=auth, json={"name": name})).json()
                keys[name] = (await admin.post(f"{base}/consumers/{consumer['id']}/keys", headers=auth, json={})).json()["key"]
        payload = {"model": "mock-model", "messages": [{"role": "user", "content": "a b"}], "max_tokens": 4}

        async def ask(gateway, key, client):
            headers = {"Host": "two.gateway.test", "Authorization": f"Bearer {key}", "X-Mock-Latency-Ms": "20"}
            return await client.post(gateway.proxy_url + "/v1/chat/completions", json=payload, headers=headers)

        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(200):  # until the second gateway knows the tenant (Bob's own allowance)
                if (await ask(second, keys["Bob"], client)).status_code == 200:
                    break
            else:
                raise AssertionError("the second gateway never served the tenant")
            answers = await asyncio.gather(*[ask((first, second)[i % 2], keys["Alice"], client) for i in range(50)])
        assert sorted(a.status_code for a in answers) == [200] * 25 + [429] * 25
        assert sum(a.json()["usage"]["completion_tokens"] for a in answers if a.status_code == 200) == 100
        assert {a.json()["error"]["code"] for a in answers if a.status_code == 429} == {"daily_tokens_exhausted"}
