"""With DEBUG logging on, no log record holds a key, token or secret, on success or on refusal.

One gateway carries an upstream credential in ``upstream_headers``, an HMAC secret in
security_validator's settings, a tenant key and a consumer key. Requests that pass, fail each
check, and Admin API calls that read or refuse those secrets all run; then every record
(message, arguments and formatted traceback) is searched for the secrets.
"""

from __future__ import annotations

import copy

import json
import logging

import pytest

PATH = "/v1/chat/completions"
STREAM_BODY = json.dumps({"model": "mock-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
JSON = {"Content-Type": "application/json"}
UPSTREAM_TOKEN = "sk-upstream-origin-credential-5678"


def editable(rule: dict) -> dict:
    """The rule's fields a PUT takes, as a deep copy (tests change nested settings)."""
    return copy.deepcopy({k: v for k, v in rule.items() if k not in {"id", "tenant_id", "created_at", "updated_at"}})


@pytest.mark.parametrize("backend", [None, "redis"])
async def test_no_log_record_holds_a_secret(make_gateway, sign, hmac_secret, caplog, backend, request):
    caplog.set_level(logging.DEBUG)
    options = {"rule": {"upstream_headers": {"Authorization": f"Bearer {UPSTREAM_TOKEN}", "X-Api-Key": UPSTREAM_TOKEN}}}
    if backend:
        options["redis"] = request.getfixturevalue("redis_section")
    gw = await make_gateway({"hmac": {"secret": hmac_secret}}, **options)
    tenant_key = gw.api_key
    base = f"/api/v1/tenants/{gw.tenant['id']}"
    consumer = (await gw.admin.post(f"{base}/consumers", json={"name": "Ada"}, headers=gw.tenant_auth)).json()
    made = await gw.admin.post(f"{base}/consumers/{consumer['id']}/keys", json={}, headers=gw.tenant_auth)
    consumer_key = made.json()["key"]
    as_consumer = gw.proxy_client(consumer_key)
    sent = iter(range(1000))

    def signed() -> tuple[bytes, dict[str, str]]:
        """A fresh body each time: the replay guard refuses a signature seen before."""
        body = json.dumps({"model": "mock-model", "messages": [{"role": "user", "content": f"hello {next(sent)}"}]}).encode()
        return body, {**JSON, **sign("POST", PATH, body)}

    # Requests that pass: plain, streamed, with the consumer's key and the tenant's.
    body, headers = signed()
    assert (await as_consumer.post(PATH, content=body, headers=headers)).status_code == 200
    body, headers = signed()
    assert (await gw.proxy.post(PATH, content=body, headers=headers)).status_code == 200
    streamed = await as_consumer.post(PATH, content=STREAM_BODY, headers={**JSON, **sign("POST", PATH, STREAM_BODY)})
    assert streamed.status_code == 200
    # Refusals: wrong signature, replay, a key one character off, no key, a revoked key.
    body, headers = signed()
    assert (await as_consumer.post(PATH, content=body, headers={**headers, "X-Signature": "0" * 64})).status_code == 401
    assert (await as_consumer.post(PATH, content=body, headers=headers)).status_code == 200
    assert (await as_consumer.post(PATH, content=body, headers=headers)).status_code == 401
    assert (await gw.proxy_client(consumer_key[:-1] + "x").post(PATH, content=body, headers=headers)).status_code == 401
    assert (await gw.proxy_client(None).post(PATH, content=body, headers=headers)).status_code == 401
    # Admin API: reads that mask, a refused masked value, refused bad settings, a wrong admin key.
    rule_url = f"{base}/rules/{gw.rule['id']}"
    shown = (await gw.admin.get(rule_url, headers=gw.tenant_auth)).json()
    foreign = editable(shown)
    foreign["plugin_chain"][0]["settings"]["hmac"]["secret"] = "****nope"
    assert (await gw.admin.put(rule_url, headers=gw.tenant_auth, json=foreign)).status_code == 422
    short = editable(shown)
    short["plugin_chain"][0]["settings"]["hmac"]["secret"] = hmac_secret[:8]
    assert (await gw.admin.put(rule_url, headers=gw.tenant_auth, json=short)).status_code == 422
    kept = await gw.admin.put(rule_url, headers=gw.tenant_auth, json=editable(shown))
    assert kept.status_code == 200, kept.text
    assert (await gw.admin.get(rule_url, headers={"Authorization": f"Bearer {tenant_key}x"})).status_code == 401
    revoke = await gw.admin.delete(f"{base}/consumers/{consumer['id']}/keys/{made.json()['id']}", headers=gw.tenant_auth)
    assert revoke.status_code == 204
    body, headers = signed()
    assert (await as_consumer.post(PATH, content=body, headers=headers)).status_code == 401
    await gw.settle()

    assert caplog.records, "DEBUG logging produced no records: the test would prove nothing"
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    secrets = {"upstream token": UPSTREAM_TOKEN, "HMAC secret": hmac_secret, "tenant key": tenant_key, "consumer key": consumer_key,
               "a short prefix of the HMAC secret": hmac_secret[:8]}
    for record in caplog.records:
        text = formatter.format(record) + repr(record.args)
        for what, secret in secrets.items():
            assert secret not in text, f"{what} in a {record.levelname} record of {record.name}: {text[:300]}"
