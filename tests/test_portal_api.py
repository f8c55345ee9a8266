"""The developer portal's core: the page, sign-in with a consumer key, key rotation, opt-in
self-serve signup (throttled, capped, on the tenant's terms), refusals in the error envelope, and
the ``portal_routes`` hook through which plugins add sections."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aiproxy_core import PORTAL_API, PortalSection, hookimpl, portal_consumer, portal_tenant
from aiproxy_sdk import GatewayHarness

SECRET = "sk-upstream-credential-0000000000"


async def _consumer(gw: GatewayHarness, name: str = "Alice", **fields: Any) -> tuple[str, str]:
    base = f"/api/v1/tenants/{gw.tenant['id']}/consumers"
    made = await gw.admin.post(base, json={"name": name, **fields}, headers=gw.tenant_auth)
    assert made.status_code == 201, made.text
    key = await gw.admin.post(f"{base}/{made.json()['id']}/keys", json={}, headers=gw.tenant_auth)
    assert key.status_code == 201, key.text
    return made.json()["id"], key.json()["key"]


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["request_id"], error
    return error


async def _expect_json(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


async def _set_portal(gw: GatewayHarness, **portal: Any) -> httpx.Response:
    return await gw.admin.patch(f"/api/v1/tenants/{gw.tenant['id']}", json={"portal": portal})


async def test_the_page_shows_apis_and_never_targets_or_credentials(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory(rule={"description": "Chat <b>completions</b>", "upstream_headers": {"Authorization": f"Bearer {SECRET}"}})
    anonymous = gw.proxy_client()
    page = await anonymous.get("/-/portal")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"] and "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "<code>/v1</code>" in html and "Chat &lt;b&gt;completions&lt;/b&gt;" in html  # escaped, the tenant's words
    assert 'href="/-/docs"' in html and 'href="/-/openapi.json"' in html and 'value="/v1/chat/completions"' in html
    assert SECRET not in html and "127.0.0.1" not in html and "upstream" not in html.lower()
    assert 'id="signup"' not in html  # self-serve is off unless the tenant turns it on
    for name in ("portal.js", "portal.css"):
        asset = await anonymous.get(f"/-/portal/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-security-policy"]
    _error(await anonymous.get("/-/portal/assets/app.py"), 404, "not_found")
    assert "/-/portal" in (await anonymous.get("/-/")).json()["pages"]


async def test_a_consumer_signs_in_and_others_are_refused(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory()
    consumer_id, key = await _consumer(gw, metadata={"crm_note": "late payer"})
    me = await gw.proxy_client(key).get(PORTAL_API + "/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["consumer"]["id"] == consumer_id and body["consumer"]["name"] == "Alice" and body["key"]["prefix"] == key[:12]
    assert "crm_note" not in me.text and "metadata" not in body["consumer"] and "hash" not in body["key"]
    assert me.headers["cache-control"] == "no-store"

    _error(await gw.proxy_client().get(PORTAL_API + "/me"), 401, "missing_api_key")
    _error(await gw.proxy_client(gw.api_key).get(PORTAL_API + "/me"), 403, "consumer_key_required")  # a tenant key
    # Another tenant of the same gateway: its own key and its consumer's key are both unknown here.
    other = await _expect_json(await gw.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "other" + gw.tenant["subdomain"]}))
    other_auth = {"Authorization": f"Bearer {other['api_key']}"}
    theirs = await _expect_json(await gw.admin.post(f"/api/v1/tenants/{other['id']}/consumers", json={"name": "Mallory"}, headers=other_auth))
    stranger = await _expect_json(await gw.admin.post(f"/api/v1/tenants/{other['id']}/consumers/{theirs['id']}/keys", json={}, headers=other_auth))
    _error(await gw.proxy_client(stranger["key"]).get(PORTAL_API + "/me"), 401, "invalid_api_key")
    _error(await gw.proxy_client(other["api_key"]).get(PORTAL_API + "/me"), 401, "invalid_api_key")
    at_home = gw.proxy_client(stranger["key"])
    at_home.base_url = httpx.URL(f"http://{other['subdomain']}.{gw.gateway.config.server.base_domain}")
    assert (await at_home.get(PORTAL_API + "/me")).json()["consumer"]["name"] == "Mallory"


async def test_wrong_keys_from_one_address_are_throttled(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory(config={"server": {"admin_auth_failures_per_minute": 3}})
    _, key = await _consumer(gw)
    for _ in range(3):
        _error(await gw.proxy_client("aip_guess").get(PORTAL_API + "/me"), 401, "invalid_api_key")
    refused = _error(await gw.proxy_client(key).get(PORTAL_API + "/me"), 429, "too_many_auth_failures")
    assert "try again" in refused["message"]


async def test_rotation_shows_the_new_key_once_and_ends_the_old_one(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory()
    _, key = await _consumer(gw)
    client = gw.proxy_client(key)
    _error(await client.post(PORTAL_API + "/key/rotate", json={"grace_seconds": 3600}), 422, "validation_error")
    _error(await client.post(PORTAL_API + "/key/rotate", content=b"{nope", headers={"content-type": "application/json"}), 400, "invalid_json")
    rotated = await client.post(PORTAL_API + "/key/rotate")
    assert rotated.status_code == 201, rotated.text
    new_key = rotated.json()["key"]
    assert new_key != key and rotated.json()["prefix"] == new_key[:12] and rotated.headers["cache-control"] == "no-store"
    _error(await gw.proxy_client(key).get(PORTAL_API + "/me"), 401, "revoked_api_key")
    _error(await gw.proxy_client(key).post("/v1/chat/completions", json={"model": "m", "messages": []}), 401, "revoked_api_key")
    assert (await gw.proxy_client(new_key).get(PORTAL_API + "/me")).status_code == 200
    chat = await gw.proxy_client(new_key).post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200, chat.text


async def test_signup_is_off_by_default(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory()
    _error(await gw.proxy_client().post(PORTAL_API + "/signup", json={"name": "Eve"}), 403, "self_serve_disabled")
    listed = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/consumers", headers=gw.tenant_auth)
    assert listed.json()["data"] == []


async def test_signup_on_the_tenants_terms_only(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory()
    assert (await _set_portal(gw, self_serve=True, signup_plan="plan_free")).status_code == 200
    anonymous = gw.proxy_client()
    assert 'id="signup"' in (await anonymous.get("/-/portal")).text
    for body in ({"name": "Eve", "plan_id": "plan_gold"}, {"name": "Eve", "metadata": {"vip": True}}, {"name": "Eve", "id": "con_x"}, {"name": " "}, {}):
        _error(await anonymous.post(PORTAL_API + "/signup", json=body), 422, "validation_error")
    _error(await anonymous.post(PORTAL_API + "/signup", json=["Eve"]), 400, "invalid_body")
    made = await anonymous.post(PORTAL_API + "/signup", json={"name": "Eve"})
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    stored = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/consumers/{made.json()['consumer']['id']}", headers=gw.tenant_auth)
    assert stored.json()["plan_id"] == "plan_free" and stored.json()["metadata"] == {"self_serve": True}
    chat = await gw.proxy_client(key).post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200, chat.text
    assert len((await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/consumers", headers=gw.tenant_auth)).json()["data"]) == 1


async def test_signups_are_throttled_per_address_and_capped_per_tenant(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory(config={"server": {"trusted_proxies": ["203.0.113.0/24"]}})
    assert (await _set_portal(gw, self_serve=True, signups_per_hour=2, max_self_serve_consumers=3)).status_code == 200
    first = gw.proxy_client(headers={"X-Forwarded-For": "198.51.100.1"})
    for name in ("a", "b"):
        assert (await first.post(PORTAL_API + "/signup", json={"name": name})).status_code == 201
    refused = await first.post(PORTAL_API + "/signup", json={"name": "c"})
    _error(refused, 429, "too_many_signups")
    assert int(refused.headers["retry-after"]) > 0
    second = gw.proxy_client(headers={"X-Forwarded-For": "198.51.100.2"})
    assert (await second.post(PORTAL_API + "/signup", json={"name": "c"})).status_code == 201
    _error(await second.post(PORTAL_API + "/signup", json={"name": "d"}), 403, "signup_limit_reached")
    assert len((await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/consumers", headers=gw.tenant_auth)).json()["data"]) == 3


async def test_portal_settings_are_validated(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory()
    for bad in ({"self_serve": "maybe"}, {"signup_plan": "plan_free"}, {"self_serve": True, "max_self_serve_consumers": 0},
                {"self_serve": True, "signups_per_hour": 100000}, {"self_serve": True, "plan": "x"}):
        response = await _set_portal(gw, **bad)
        _error(response, 422, "validation_error")
    tenant = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}")).json()
    assert tenant["portal"] == {"self_serve": False, "signup_plan": None, "max_self_serve_consumers": 1000, "signups_per_hour": 5}


class Badges:
    """A third-party plugin adding a public section, a signed-in one, and a route it may not have."""

    @hookimpl
    def portal_routes(self) -> list[Any]:
        async def badges(request: Request) -> Response:
            caller = await portal_consumer(request)
            return JSONResponse({"consumer": caller.consumer.name, "badges": ["early adopter"]})

        async def motto(request: Request) -> Response:
            return JSONResponse({"motto": f"{portal_tenant(request).name} answers fast"})

        async def takeover(request: Request) -> Response:
            return JSONResponse({"owned": True})

        return [
            PortalSection(PORTAL_API + "/badges", badges, title="Your badges"),
            PortalSection(PORTAL_API + "/motto", motto, title="Our motto", signed_in=False),
            Route("/-/portal", takeover),  # outside /-/portal/api/: left out
        ]


async def test_hook_portal_routes_adds_sections_and_endpoints(aiproxy_gateway_factory: Any) -> None:
    plain = await aiproxy_gateway_factory()
    assert (await plain.proxy_client().get(PORTAL_API + "/sections")).json()["sections"] == []
    _error(await plain.proxy_client().get(PORTAL_API + "/badges"), 404, "not_found")

    gw = await aiproxy_gateway_factory(plugins={"badges": Badges()})
    anonymous = gw.proxy_client()
    listed = (await anonymous.get(PORTAL_API + "/sections")).json()["sections"]
    assert listed == [
        {"title": "Your badges", "path": PORTAL_API + "/badges", "signed_in": True},
        {"title": "Our motto", "path": PORTAL_API + "/motto", "signed_in": False},
    ]
    page = (await anonymous.get("/-/portal")).text
    assert "Your badges" in page and "Our motto" in page and "owned" not in page
    assert (await anonymous.get(PORTAL_API + "/motto")).json() == {"motto": f"{gw.tenant['name']} answers fast"}
    _error(await anonymous.get(PORTAL_API + "/badges"), 401, "missing_api_key")
    _error(await gw.proxy_client(gw.api_key).get(PORTAL_API + "/badges"), 403, "consumer_key_required")
    _error(await anonymous.post(PORTAL_API + "/badges"), 405, "method_not_allowed")
    _, key = await _consumer(gw, "Bob")
    assert (await gw.proxy_client(key).get(PORTAL_API + "/badges")).json() == {"consumer": "Bob", "badges": ["early adopter"]}
