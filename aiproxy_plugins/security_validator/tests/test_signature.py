"""HMAC request signatures: freshness, correctness, replay (on SQLite and on Redis, shared across gateways), secrecy."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

PATH = "/v1/chat/completions"
BODY = json.dumps({"model": "mock-model", "messages": [{"role": "user", "content": "signed hello"}]}).encode()
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def signed_gateway(make_gateway, hmac_secret):
    return await make_gateway({"hmac": {"secret": hmac_secret}})


async def post(gw, headers, body=BODY, path=PATH):
    return await gw.proxy.post(path, content=body, headers={**JSON, **headers})


def assert_refused(response, code):
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "authentication_error"
    assert error["details"][0]["check"] == "hmac"
    return error


async def test_a_correct_signature_passes(signed_gateway, sign):
    response = await post(signed_gateway, sign("POST", PATH, BODY))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "You said: signed hello"


async def test_missing_headers_are_named(signed_gateway, sign):
    error = assert_refused(await post(signed_gateway, {}), "missing_signature")
    assert error["details"][0]["missing"] == ["X-Signature", "X-Timestamp"]
    only_signature = {"X-Signature": sign("POST", PATH, BODY)["X-Signature"]}
    assert_refused(await post(signed_gateway, only_signature), "missing_signature")


async def test_a_wrong_secret_is_refused(signed_gateway, sign):
    assert_refused(await post(signed_gateway, sign("POST", PATH, BODY, secret="not-the-secret-at-all")), "invalid_signature")


async def test_no_refusal_reveals_the_secret_or_the_expected_signature(signed_gateway, sign, hmac_secret):
    good = sign("POST", PATH, BODY)
    refusals = [
        await post(signed_gateway, {**good, "X-Signature": "0" * 64}),
        await post(signed_gateway, sign("POST", PATH, BODY, timestamp=1)),
        await post(signed_gateway, {}),
    ]
    for response in refusals:
        assert response.status_code == 401
        assert hmac_secret not in response.text
        assert good["X-Signature"] not in response.text


async def test_a_changed_body_is_refused(signed_gateway, sign):
    headers = sign("POST", PATH, BODY)
    assert_refused(await post(signed_gateway, headers, body=BODY.replace(b"hello", b"HELLO")), "invalid_signature")


async def test_a_signature_for_another_path_is_refused(signed_gateway, sign):
    headers = sign("POST", "/v1/embeddings", BODY)
    assert_refused(await post(signed_gateway, headers), "invalid_signature")


async def test_a_non_hex_signature_is_refused_not_crashed(signed_gateway, sign):
    headers = {**sign("POST", PATH, BODY), "X-Signature": "\u00e9".encode("latin-1") * 64}
    assert_refused(await post(signed_gateway, headers), "invalid_signature")


async def test_an_uppercase_hex_signature_passes(signed_gateway, sign):
    headers = sign("POST", PATH, BODY)
    headers["X-Signature"] = headers["X-Signature"].upper()
    assert (await post(signed_gateway, headers)).status_code == 200


@pytest.mark.parametrize("offset", [-301, 400, 10_000])
async def test_a_timestamp_outside_the_window_is_refused(signed_gateway, sign, offset):
    headers = sign("POST", PATH, BODY, timestamp=int(time.time()) + offset)
    error = assert_refused(await post(signed_gateway, headers), "signature_expired")
    assert error["details"][0]["tolerance_seconds"] == 300


async def test_a_timestamp_inside_the_window_passes(signed_gateway, sign):
    headers = sign("POST", PATH, BODY, timestamp=int(time.time()) - 250)
    assert (await post(signed_gateway, headers)).status_code == 200


@pytest.mark.parametrize("stamp", ["1.7e9", "+1700000000", "1_700_000_000", "yesterday"])
async def test_a_malformed_timestamp_is_refused(signed_gateway, sign, stamp):
    headers = {**sign("POST", PATH, BODY), "X-Timestamp": stamp}
    assert_refused(await post(signed_gateway, headers), "invalid_timestamp")


async def test_a_replay_is_refused(signed_gateway, sign):
    headers = sign("POST", PATH, BODY)
    assert (await post(signed_gateway, headers)).status_code == 200
    assert_refused(await post(signed_gateway, headers), "signature_replayed")


async def test_a_refused_request_does_not_use_up_its_signature(make_gateway, sign, hmac_secret):
    gw = await make_gateway({"hmac": {"secret": hmac_secret}, "required_headers": ["X-Client"]})
    headers = sign("POST", PATH, BODY)
    assert (await post(gw, headers)).status_code == 400
    assert (await post(gw, {**headers, "X-Client": "web"})).status_code == 200


async def test_custom_headers_algorithm_and_tolerance(make_gateway, sign, hmac_secret):
    gw = await make_gateway(
        {"hmac": {"secret": hmac_secret, "header": "X-Sig", "timestamp_header": "X-Time", "algorithm": "sha512", "tolerance_seconds": 5}}
    )
    made = sign("POST", PATH, BODY, algorithm="sha512")
    headers = {"X-Sig": made["X-Signature"], "X-Time": made["X-Timestamp"]}
    assert (await post(gw, headers)).status_code == 200
    stale = sign("POST", PATH, BODY, algorithm="sha512", timestamp=int(time.time()) - 10)
    response = await post(gw, {"X-Sig": stale["X-Signature"], "X-Time": stale["X-Timestamp"]})
    assert_refused(response, "signature_expired")


async def test_sign_query_covers_the_query_string(make_gateway, sign, hmac_secret):
    gw = await make_gateway({"hmac": {"secret": hmac_secret, "sign_query": True}})
    headers = sign("POST", "/v1/echo?user=alice", b"{}")
    assert (await post(gw, headers, body=b"{}", path="/v1/echo?user=alice")).status_code == 200
    headers = sign("POST", "/v1/echo?user=alice", b"{}")
    assert_refused(await post(gw, headers, body=b"{}", path="/v1/echo?user=mallory"), "invalid_signature")


async def test_without_sign_query_the_path_alone_is_signed(signed_gateway, sign):
    headers = sign("POST", "/v1/echo", b"{}")
    assert (await post(signed_gateway, headers, body=b"{}", path="/v1/echo?any=thing")).status_code == 200


# -- replay memory (the state API: SQLite embedded, Redis shared) ------------------------------


def replay_memory(gw):
    """What the plugin remembers for the harness's tenant, read through the state API."""
    return gw.gateway.services.state("security_validator").values(gw.tenant["id"])


async def test_a_replay_is_refused_on_each_backend(make_gateway, sign, hmac_secret, aiproxy_backend):
    gw = await make_gateway({"hmac": {"secret": hmac_secret}}, redis=aiproxy_backend)
    headers = sign("POST", PATH, BODY)
    assert (await post(gw, headers)).status_code == 200
    assert_refused(await post(gw, headers), "signature_replayed")
    assert await replay_memory(gw).keys("replay:") == [f"replay:{headers['X-Signature']}"]


async def test_a_signature_is_remembered_only_while_its_timestamp_is_in_the_window(
    make_gateway, sign, hmac_secret, aiproxy_backend
):
    # tolerance 2 s and a timestamp 1 s old: remembered for at most 1 s, then gone from the store
    # (the timestamp check refuses it from then on), so replay memory does not pile up.
    gw = await make_gateway({"hmac": {"secret": hmac_secret, "tolerance_seconds": 2}}, redis=aiproxy_backend)
    headers = sign("POST", PATH, BODY, timestamp=int(time.time()) - 1)
    assert (await post(gw, headers)).status_code == 200
    key = f"replay:{headers['X-Signature']}"
    assert await replay_memory(gw).get(key) == 1
    await asyncio.sleep(1.2)
    assert await replay_memory(gw).get(key) is None
    assert await replay_memory(gw).keys("replay:") == []
    assert_refused(await post(gw, headers), "signature_expired")


async def test_two_gateways_on_one_redis_admit_a_replayed_request_once(make_gateway, sign, redis_section, hmac_secret):
    # Two gateways (each its own Redis clients and state service, as two processes would have)
    # serving one tenant from one Redis; the same signed request is sent 20 times at once to both.
    first = await make_gateway({"hmac": {"secret": hmac_secret}}, redis=redis_section)
    second = await make_gateway({"hmac": {"secret": hmac_secret}}, redis=redis_section)
    assert first.gateway.services.state_service is not second.gateway.services.state_service
    into_second = second.proxy_client(first.api_key)
    into_second.base_url = first.proxy.base_url
    headers = sign("POST", PATH, BODY)

    async def send(client):
        return await client.post(PATH, content=BODY, headers={**JSON, **headers})

    answers = await asyncio.gather(*(send(client) for client in [first.proxy, into_second] * 10))
    assert sorted(a.status_code for a in answers) == [200] + [401] * 19
    for refused in (a for a in answers if a.status_code == 401):
        assert_refused(refused, "signature_replayed")
    # A signature one gateway accepted earlier is refused by the other.
    later = sign("POST", PATH, BODY.replace(b"hello", b"again"))
    assert (await first.proxy.post(PATH, content=BODY.replace(b"hello", b"again"), headers={**JSON, **later})).status_code == 200
    replayed = await into_second.post(PATH, content=BODY.replace(b"hello", b"again"), headers={**JSON, **later})
    assert_refused(replayed, "signature_replayed")


async def test_embedded_gateways_do_not_share_replay_memory_but_each_refuses(make_gateway, sign, hmac_secret):
    # Embedded, state is a SQLite file in the gateway's own data directory.
    gw = await make_gateway({"hmac": {"secret": hmac_secret}})
    headers = sign("POST", PATH, BODY)
    assert (await post(gw, headers)).status_code == 200
    assert await replay_memory(gw).get(f"replay:{headers['X-Signature']}") == 1
    assert_refused(await post(gw, headers), "signature_replayed")


async def test_replay_memory_is_per_tenant(make_gateway, sign, hmac_secret, aiproxy_backend):
    # Two tenants sharing a secret and sending the same signed request do not block each other.
    first = await make_gateway({"hmac": {"secret": hmac_secret}}, redis=aiproxy_backend)
    second = await make_gateway({"hmac": {"secret": hmac_secret}}, redis=aiproxy_backend)
    headers = sign("POST", PATH, BODY)
    assert (await post(first, headers)).status_code == 200
    assert (await post(second, headers)).status_code == 200
    assert_refused(await post(second, headers), "signature_replayed")


async def test_a_deleted_tenant_leaves_no_replay_memory(make_gateway, sign, hmac_secret, aiproxy_backend):
    gw = await make_gateway({"hmac": {"secret": hmac_secret}}, redis=aiproxy_backend)
    assert (await post(gw, sign("POST", PATH, BODY))).status_code == 200
    assert len(await replay_memory(gw).keys("replay:")) == 1
    assert (await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}")).status_code == 204
    assert await replay_memory(gw).keys("replay:") == []
