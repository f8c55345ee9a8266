"""Schemathesis against the Admin API's own document (``GET /api/v1/openapi.json``), on a real
gateway served by uvicorn with the admin token set and sent: generated requests, valid and
invalid, for every operation (billing's and analytics' included) must never get a 5xx, and every
answer must be one the document describes (status, content type, schema).

Bounded: ``AIPROXY_SCHEMATHESIS_EXAMPLES`` examples per operation and mode (default 8), so the
run takes well under a minute. Path parameters named ``tenant_id`` are the test tenant's, so the
requests reach the endpoints' body and query checks instead of stopping at 404.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from aiproxy_analytics import Analytics
from aiproxy_billing import Billing
from aiproxy_core import GatewayConfig, PluginRegistry
from aiproxy_rate_limiter import RateLimiter
from aiproxy_sdk.live import LiveGateway

TOKEN = "schemathesis-admin-token-0123456789abcdef"
EXAMPLES = int(os.environ.get("AIPROXY_SCHEMATHESIS_EXAMPLES", "8"))
CONFORMANCE = (status_code_conformance, content_type_conformance, response_schema_conformance)
#: Would delete the tenant every other request needs; the delete itself is tested elsewhere.
SKIPPED = {("DELETE", "/api/v1/tenants/{tenant_id}")}


@pytest.fixture
def live_admin(tmp_path: Path) -> Iterator[tuple[str, str]]:
    config = GatewayConfig.model_validate(
        {
            "server": {"admin_token": TOKEN, "base_domain": "localhost", "admin_auth_failures_per_minute": 1000},
            "storage": {"path": str(tmp_path / "aiproxy.db")},
            "plugins": {"billing": {"run_worker": False}},
        }
    )
    registry = PluginRegistry()
    for name, plugin in (("billing", Billing(run_worker=False)), ("analytics", Analytics()), ("rate_limiter", RateLimiter())):
        registry.register(plugin, name)
    with LiveGateway(config, registry) as live:
        created = httpx.post(
            live.admin_url + "/api/v1/tenants",
            json={"name": "Fuzzed", "subdomain": "fuzzed"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert created.status_code == 201, created.text
        yield live.admin_url, created.json()["id"]


def test_schemathesis_finds_no_server_error_in_the_admin_api(live_admin: tuple[str, str]) -> None:
    url, tenant_id = live_admin
    schema = schemathesis.openapi.from_url(url + "/api/v1/openapi.json")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    server_errors: list[str] = []
    mismatches: list[str] = []
    session = requests.Session()  # one keep-alive connection rather than a new one per request
    calls = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # the core's and the plugins'
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        fixed = {"tenant_id": tenant_id} if "{tenant_id}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)

            @settings(
                max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
            )  # fmt: skip
            @given(case=strategy)
            def call(case: Any) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=url, session=session, headers=auth, timeout=30)
                for check in CONFORMANCE:  # the document says what the API answers
                    try:
                        case.validate_response(response, checks=[check])
                    except (Exception, FailureGroup) as exc:
                        mismatches.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {check.__name__}: {str(exc)[:400]}")
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path} ({mode}): {response.status_code} {response.text[:300]}")
                elif response.status_code >= 400:
                    error = response.json()["error"]  # the envelope, with a stable code and a request id
                    assert error["code"] and error["request_id"], response.text

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # an operation with nothing to get wrong (no body, no parameter)
    assert server_errors == [], "\n".join(server_errors)
    assert mismatches == [], "\n".join(mismatches)
    assert calls > 100, calls
    print(f"schemathesis: {calls} requests, no 5xx")
