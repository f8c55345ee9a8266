"""HMAC request signatures: freshness, correctness, replay (in process and in Redis), secrecy."""

from __future__ import annotations

import json
import time

import pytest

from aiproxy_security_validator import plugin
from aiproxy_security_validator.replay import MemoryReplayGuard, RedisReplayGuard

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


# -- replay memory ----------------------------------------------------------------------------


async def test_memory_guard_forgets_after_the_window():
    now = [1000.0]
    guard = MemoryReplayGuard(clock=lambda: now[0])
    assert await guard.first_sighting("k", 10)
    assert not await guard.first_sighting("k", 10)
    now[0] += 10.5
    assert await guard.first_sighting("k", 10)
    now[0] += 100
    await guard.first_sighting("other", 10)  # sweeps expired entries
    assert len(guard) == 1


async def test_replays_are_remembered_in_redis(make_gateway, sign, redis_section, redis_client, hmac_secret):
    gw = await make_gateway({"hmac": {"secret": hmac_secret}}, redis=redis_section)
    assert isinstance(plugin.process.replay, RedisReplayGuard)
    headers = sign("POST", PATH, BODY)
    assert (await post(gw, headers)).status_code == 200

    key = f"{redis_section['prefix']}:sv:replay:{gw.tenant['id']}:{headers['X-Signature']}"
    assert await redis_client.exists(key)
    assert 0 < await redis_client.pttl(key) <= 300_000
    assert_refused(await post(gw, headers), "signature_replayed")


async def test_a_signature_another_process_saw_is_refused(make_gateway, sign, redis_section, redis_client, hmac_secret):
    # Another gateway process on the same Redis accepted this signature first: it wrote the key.
    gw = await make_gateway({"hmac": {"secret": hmac_secret}}, redis=redis_section)
    headers = sign("POST", PATH, BODY)
    key = f"{redis_section['prefix']}:sv:replay:{gw.tenant['id']}:{headers['X-Signature']}"
    await redis_client.set(key, b"1", px=60_000)
    assert_refused(await post(gw, headers), "signature_replayed")


async def test_replay_memory_is_per_tenant(make_gateway, sign, hmac_secret):
    # Two tenants sharing a secret and sending the same signed request do not block each other.
    first = await make_gateway({"hmac": {"secret": hmac_secret}})
    second = await make_gateway({"hmac": {"secret": hmac_secret}})
    headers = sign("POST", PATH, BODY)
    assert (await post(first, headers)).status_code == 200
    assert (await post(second, headers)).status_code == 200
