"""allowed_methods, allowed_content_types and max_body_bytes."""

from __future__ import annotations

import json


async def test_allowed_method_passes(make_gateway):
    gw = await make_gateway({"allowed_methods": ["post"]})
    assert (await gw.chat("hi")).status_code == 200


async def test_other_method_gets_405_with_allow(make_gateway):
    gw = await make_gateway({"allowed_methods": ["POST", "PUT"]})
    response = await gw.proxy.get("/v1/models")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST, PUT"
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed_by_policy"
    assert error["details"][0] == {"plugin": "security_validator", "check": "allowed_methods", "method": "GET", "allowed": ["POST", "PUT"]}


async def test_allowed_content_type_passes_with_parameters(make_gateway):
    gw = await make_gateway({"allowed_content_types": ["application/json"]})
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    response = await gw.proxy.post(
        "/v1/chat/completions", content=body, headers={"Content-Type": "Application/JSON; charset=utf-8"}
    )
    assert response.status_code == 200, response.text


async def test_wildcard_content_type(make_gateway):
    gw = await make_gateway({"allowed_content_types": ["text/*"]})
    response = await gw.proxy.post("/v1/echo", content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert response.json()["body"] == "hello"


async def test_other_content_type_is_refused(make_gateway):
    gw = await make_gateway({"allowed_content_types": ["application/json"]})
    response = await gw.proxy.post("/v1/echo", content=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "content_type_not_allowed"
    assert error["details"][0]["content_type"] == "application/x-www-form-urlencoded"


async def test_body_without_content_type_is_refused(make_gateway):
    gw = await make_gateway({"allowed_content_types": ["application/json"]})
    response = await gw.proxy.post("/v1/echo", content=b"{}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_type_not_allowed"


async def test_bodiless_request_has_nothing_to_type(make_gateway):
    gw = await make_gateway({"allowed_content_types": ["application/json"]})
    assert (await gw.proxy.get("/v1/models")).status_code == 200


async def test_body_within_limit_passes(make_gateway):
    gw = await make_gateway({"max_body_bytes": 1000})
    assert (await gw.chat("hi")).status_code == 200


async def test_body_over_limit_gets_413(make_gateway):
    gw = await make_gateway({"max_body_bytes": 100})
    response = await gw.chat("x" * 200)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "body_too_large"
    assert error["details"][0]["check"] == "max_body_bytes"
    assert error["details"][0]["limit"] == 100


async def test_zero_limit_allows_only_empty_bodies(make_gateway):
    gw = await make_gateway({"max_body_bytes": 0})
    assert (await gw.proxy.get("/v1/models")).status_code == 200
    assert (await gw.proxy.post("/v1/echo", content=b"x")).status_code == 413


async def test_ip_is_checked_before_the_envelope(make_gateway):
    # A refused address should learn nothing about the route's other rules.
    gw = await make_gateway({"allow_ips": ["10.0.0.0/8"], "required_headers": ["X-Secret-Header"], "max_body_bytes": 1})
    response = await gw.chat("hi")
    assert response.status_code == 403
    assert "X-Secret-Header" not in response.text
