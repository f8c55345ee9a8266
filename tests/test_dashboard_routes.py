"""``/ui`` over plain HTTP: the page and its files are served with a self-only Content-Security-
Policy, hold no secret and no outside address, pass the Admin API's Host check, and an unknown
file is the JSON envelope like any other Admin 404."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from aiproxy_core.dashboard.assets import asset
from aiproxy_core.dashboard.security_headers import CONTENT_SECURITY_POLICY

ADMIN_TOKEN = "dashboard-routes-admin-token-0123456789"
#: What the Admin API fuzzer (tests/test_fuzz_admin.py) refuses in any answer, the dashboard's
#: files included, since it fetches every Admin route: a traceback or an exception class name.
LEAKED_INTERNALS = re.compile(r'Traceback \(most recent call last\)|File "|\b[A-Z][A-Za-z]*(?:Error|Exception)\b')
_IMPORTS = re.compile(r'from "\./([\w.]+)"')
_LINKS = re.compile(r'(?:src|href)="/ui/static/([\w.]+)"')


@pytest.fixture
async def gw(aiproxy_gateway_factory):  # type: ignore[no-untyped-def]
    return await aiproxy_gateway_factory(config={"server": {"admin_token": ADMIN_TOKEN}})


def shipped_files(page: str) -> set[str]:
    """Every file the page loads: its links, then each script's imports, transitively."""
    found: set[str] = set()
    pending = _LINKS.findall(page)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        shipped = asset(name)
        assert shipped is not None, f"the page loads {name}, which the package does not ship"
        if name.endswith(".js"):
            pending += _IMPORTS.findall(shipped.body.decode())
    return found


async def test_the_page_is_served_with_a_self_only_policy(gw) -> None:  # type: ignore[no-untyped-def]
    page = await gw.admin.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "http" not in policy and "*" not in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert page.headers["x-request-id"]  # behind the Admin guard like every route
    # Nothing inline for the policy to have to allow.
    assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None and "style=" not in page.text
    assert re.search(r"<[^>]+\son\w+=", page.text) is None  # no inline event handler


async def test_every_file_the_page_loads_is_served_with_the_policy(gw) -> None:  # type: ignore[no-untyped-def]
    page = (await gw.admin.get("/ui")).text
    files = shipped_files(page)
    assert {"app.js", "dashboard.css", "charts.js", "view_analytics.js"} <= files
    for name in sorted(files):
        answer = await gw.admin.get(f"/ui/static/{name}")
        assert answer.status_code == 200, name
        kind = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}[name.rpartition(".")[2]]
        assert answer.headers["content-type"].startswith(kind), name
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        # Revalidated by its ETag rather than fetched again.
        again = await gw.admin.get(f"/ui/static/{name}", headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


async def test_no_secret_no_outside_address_and_nothing_the_fuzzer_refuses(gw) -> None:  # type: ignore[no-untyped-def]
    consumer = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/consumers", json={"name": "Alice"},
                                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert consumer.status_code == 201
    page = (await gw.admin.get("/ui")).text
    for name in ["index.html", *sorted(shipped_files(page))]:
        shipped = asset(name)
        assert shipped is not None
        text = shipped.body.decode()
        for secret in (ADMIN_TOKEN, gw.api_key, gw.tenant["id"], consumer.json()["id"]):
            assert secret not in text, name
        # No CDN, no web font, no telemetry: the only absolute URL is the SVG namespace's name.
        assert re.findall(r"https?://[^\s\"')]+", text) in ([], ["http://www.w3.org/2000/svg"]), name
        assert LEAKED_INTERNALS.search(text) is None, name
        assert "innerHTML" not in text and "outerHTML" not in text and "insertAdjacentHTML" not in text, name
        assert "document.cookie" not in text and "localStorage" not in text, name  # the token: sessionStorage only
    session = asset("session.js")
    assert session is not None and b"sessionStorage.setItem" in session.body


async def test_unknown_files_are_the_json_envelope(gw) -> None:  # type: ignore[no-untyped-def]
    for path in ("/ui/static/nope.js", "/ui/static/index.html", "/ui/static/..%2Fassets.py", "/ui/static/routes.py", "/ui/nothing"):
        answer = await gw.admin.get(path)
        assert answer.status_code == 404, path
        error = answer.json()["error"]
        assert error["code"] in ("not_found",) and error["request_id"] == answer.headers["x-request-id"], path
    refused = await gw.admin.post("/ui")
    assert refused.status_code == 405 and refused.json()["error"]["code"] == "method_not_allowed"


async def test_the_host_check_applies_to_the_dashboard(gw) -> None:  # type: ignore[no-untyped-def]
    for path in ("/ui", "/ui/static/app.js"):
        answer = await gw.admin.get(path, headers={"Host": "rebind.evil.example"})
        assert answer.status_code == 421 and answer.json()["error"]["code"] == "host_not_allowed"


def test_the_files_ship_as_package_data() -> None:
    """An installed wheel serves the same files: pyproject.toml lists them as package data."""
    root = Path(__file__).resolve().parents[1]
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert package_data["aiproxy_core.dashboard"] == ["static/*"]
    shipped = {p.name for p in (root / "aiproxy_core" / "dashboard" / "static").iterdir()}
    assert all(asset(name) is not None for name in shipped)
