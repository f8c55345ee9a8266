"""``aiproxy serve --demo``: a mock upstream, a ``demo`` tenant and rule, and a fresh key to curl with."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone

import uvicorn
from pydantic import HttpUrl

from ..auth import new_key
from ..gateway import Gateway
from ..mock_upstream import create_mock_upstream
from ..models import Rule, Tenant

DEMO_SUBDOMAIN = "demo"
MOCK_PORT = 9100


def start_mock_upstream(port: int = MOCK_PORT) -> None:
    """Serve the mock upstream from a daemon thread (it ends with the gateway process)."""
    server = uvicorn.Server(uvicorn.Config(create_mock_upstream(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, name="aiproxy-mock-upstream", daemon=True).start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)


async def seed_demo(gateway: Gateway, mock_port: int = MOCK_PORT) -> str:
    """Make sure the demo tenant and its rule exist; return a new key for it (shown once).

    The target policy refuses loopback targets by default, so the demo allows exactly its mock
    upstream's endpoint, nothing else on this host.
    """
    gateway.target_policy.allow_endpoint("127.0.0.1", mock_port)
    store = gateway.store
    now = datetime.now(timezone.utc)
    tenant = await store.get_tenant_by_subdomain(DEMO_SUBDOMAIN)
    if tenant is None:
        tenant = Tenant(id="tnt_" + uuid.uuid4().hex[:16], name="Demo", subdomain=DEMO_SUBDOMAIN, tier="free", created_at=now, updated_at=now)
        await store.create_tenant(tenant)
    if not await store.list_rules(tenant.id):
        await store.put_rule(
            Rule(
                id="rul_" + uuid.uuid4().hex[:16],
                tenant_id=tenant.id,
                path="/v1",
                target=HttpUrl(f"http://127.0.0.1:{mock_port}"),
                created_at=now,
                updated_at=now,
            )
        )
    raw_key, key = new_key(tenant.id, name="demo")
    await store.create_key(key)
    return raw_key


def demo_banner(gateway: Gateway, raw_key: str) -> str:
    server = gateway.config.server
    host = f"{DEMO_SUBDOMAIN}.{server.base_domain}:{server.proxy_port}"
    return f"""
aiproxy demo is up.
  Admin API : http://{server.admin_host}:{server.admin_port}/api/v1/tenants
  Proxy API : http://{host}  (tenant '{DEMO_SUBDOMAIN}', forwarding /v1 to the mock upstream on 127.0.0.1:{MOCK_PORT})
  Demo key  : {raw_key}   (shown once; a new one is made at every start)

Try:
  curl http://{host}/v1/chat/completions \\
    -H "Authorization: Bearer {raw_key}" -H "Content-Type: application/json" \\
    -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "Hello!"}}]}}'
"""
