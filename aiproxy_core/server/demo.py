"""``aiproxy serve --demo``: a mock upstream, a ``demo`` tenant and rule, and a fresh key to curl with."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone

import uvicorn
from pydantic import HttpUrl

from ..auth import new_key
from ..config import LoggingConfig
from ..errors import ConfigError
from ..gateway import Gateway
from ..mock_upstream import create_mock_upstream
from ..mock_upstream.own_logs import set_mock_log_levels
from ..mock_upstream.protocol import mock_protocol
from ..models import Rule, Tenant
from .listeners import bind

DEMO_SUBDOMAIN = "demo"
#: The name of the keys the demo mints: the ones it revokes when it mints the next.
DEMO_KEY_NAME = "demo"
MOCK_PORT = 9100


def start_mock_upstream(port: int = MOCK_PORT, logging_config: LoggingConfig | None = None) -> int:
    """Serve the mock upstream from a daemon thread (it ends with the gateway process); the port.

    Its lines go to its own loggers (``aiproxy.mock_upstream``, prefixed ``[mock-upstream]``):
    warnings and errors without tracebacks, an access line per request when ``logging.access_log``
    is on, everything with ``logging.level: debug``.
    """
    logging_config = logging_config or LoggingConfig()
    set_mock_log_levels(debug=logging_config.level.lower() == "debug")
    # Bound here, so a port in use is the operator's error message, not a thread's traceback.
    sock = bind("127.0.0.1", port, reuse_port=False)
    config = uvicorn.Config(
        create_mock_upstream(),
        lifespan="off",
        ws="none",
        http=mock_protocol(access_log=logging_config.access_log),
        # None: the mock leaves the process's logging alone (uvicorn would otherwise set its
        # loggers' levels and handlers for the whole process, the gateway's listeners included).
        log_config=None,
        log_level=None,
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="aiproxy-mock-upstream", daemon=True).start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise ConfigError(f"the demo's mock upstream did not start on 127.0.0.1:{port}")
    bound: int = sock.getsockname()[1]
    return bound


async def seed_demo(gateway: Gateway, mock_port: int = MOCK_PORT) -> str:
    """Make sure the demo tenant and its rule exist; return a new key for it (shown once).

    The keys earlier starts printed are revoked (replaced by the new one): a demo key left in a
    terminal's scrollback or a shell history must not keep working. The target policy refuses
    loopback targets by default, so the demo allows exactly its mock upstream's endpoint, nothing
    else on this host.
    """
    gateway.target_policy.allow_endpoint("127.0.0.1", mock_port)
    store = gateway.store
    now = datetime.now(timezone.utc)
    tenant = await store.get_tenant_by_subdomain(DEMO_SUBDOMAIN)
    if tenant is None:
        tenant = Tenant(id="tnt_" + uuid.uuid4().hex[:16], name="Demo", subdomain=DEMO_SUBDOMAIN, tier="free", created_at=now, updated_at=now)
        await store.create_tenant(tenant)
    target = HttpUrl(f"http://127.0.0.1:{mock_port}")
    rules = await store.list_rules(tenant.id)
    if not rules:
        await store.put_rule(Rule(id="rul_" + uuid.uuid4().hex[:16], tenant_id=tenant.id, path="/v1", target=target, created_at=now, updated_at=now))
    for rule in rules:
        # The demo's rule, made by an earlier start with another --mock-port: follow the mock.
        if rule.path == "/v1" and rule.target is not None and rule.target.host == "127.0.0.1" and rule.target.port != mock_port:
            await store.put_rule(rule.model_copy(update={"target": target, "updated_at": now}))
    raw_key, key = new_key(tenant.id, name=DEMO_KEY_NAME)
    await store.create_key(key)
    for old in await store.list_keys(tenant.id):
        # Only the demo's own: keys an operator made for the demo tenant (other names, or a
        # consumer's) are theirs to revoke.
        if old.id != key.id and old.name == DEMO_KEY_NAME and old.consumer_id is None and old.revoked_at is None:
            await store.update_key(old.model_copy(update={"revoked_at": now, "replaced_by": key.id}))
    return raw_key


def demo_banner(gateway: Gateway, raw_key: str, mock_port: int = MOCK_PORT) -> str:
    server = gateway.config.server
    host = f"{DEMO_SUBDOMAIN}.{server.base_domain}:{server.proxy_port}"
    return f"""
aiproxy demo is up.
  Admin API : http://{server.admin_host}:{server.admin_port}/api/v1/tenants
  Proxy API : http://{host}  (tenant '{DEMO_SUBDOMAIN}', forwarding /v1 to the mock upstream on 127.0.0.1:{mock_port})
  Demo key  : {raw_key}   (shown once; each start makes a new one and revokes the one before)

Try:
  curl http://{host}/v1/chat/completions \\
    -H "Authorization: Bearer {raw_key}" -H "Content-Type: application/json" \\
    -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "Hello!"}}]}}'
"""
