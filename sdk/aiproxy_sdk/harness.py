"""An in-process gateway for plugin tests: a tenant, a rule, your plugin, and httpx clients over ASGI."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from aiproxy_core import Gateway, GatewayConfig, PluginRegistry

from .stream_reading import stream_payloads

DEFAULT_BASE_DOMAIN = "gateway.test"
#: The client address the Proxy API sees for harness requests (a documentation range, RFC 5737).
CLIENT_IP = "203.0.113.7"
#: What the harness lets rules target unless its caller's ``config`` says otherwise: test upstreams run on loopback.
LOCAL_UPSTREAM_NETWORKS = ("127.0.0.1/32",)


class GatewayHarness:
    """A started gateway with one tenant and one rule (``/v1`` to the upstream).

    * ``admin``: an httpx client for the Admin API; it sends no credentials of its own (with
      ``server.admin_token`` configured, pass it per call).
    * ``proxy``: an httpx client for the Proxy API, already sending the tenant's Host and key.
    * ``tenant``, ``api_key``, ``rule``: what the Admin API answered when they were made.
    """

    def __init__(self, gateway: Gateway, admin: httpx.AsyncClient) -> None:
        self.gateway = gateway
        self.admin = admin
        self.proxy: httpx.AsyncClient = httpx.AsyncClient()  # replaced once the tenant exists
        self.tenant: dict[str, Any] = {}
        self.api_key = ""
        self.rule: dict[str, Any] = {}
        self._clients: list[httpx.AsyncClient] = [self.proxy]

    @classmethod
    async def start(
        cls,
        upstream_url: str,
        data_dir: Path,
        *,
        plugins: dict[str, object] | None = None,
        chain: list[dict[str, Any]] | None = None,
        tenant: dict[str, Any] | None = None,
        rule: dict[str, Any] | None = None,
        redis: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        load_installed_plugins: bool = False,
        tracer_provider: Any = None,
    ) -> "GatewayHarness":
        """Start a gateway and create its tenant and rule.

        ``plugins`` maps names to plugin objects (modules or instances with hookimpls);
        ``load_installed_plugins`` also registers every installed ``aiproxy`` entry point.
        ``redis`` (e.g. ``{"host": "127.0.0.1", "prefix": "test-x"}``) keeps state in Redis
        instead of a SQLite file under ``data_dir``. ``config`` is merged into the gateway config.
        ``tracer_provider`` (an OpenTelemetry SDK ``TracerProvider``) turns tracing on with it, e.g.
        one with an ``InMemorySpanExporter`` to assert on the spans.

        Rule targets on loopback are refused by the gateway's target policy unless allowed, and a
        test's upstream is a local server, so the harness sets ``upstream.allowed_networks`` to
        ``["127.0.0.1/32"]`` unless ``config`` sets ``upstream.allowed_networks`` itself (``[]``
        to test the default policy). The gateway's own listeners and Redis stay refused.
        """
        settings: dict[str, Any] = {
            "server": {"base_domain": DEFAULT_BASE_DOMAIN},
            "storage": {"path": str(data_dir / "aiproxy.db")},
            "upstream": {"allowed_networks": list(LOCAL_UPSTREAM_NETWORKS)},
        }
        if redis is not None:
            settings["redis"] = redis
        for section, values in (config or {}).items():
            settings[section] = {**settings.get(section, {}), **values}
        registry = PluginRegistry()
        if load_installed_plugins:
            registry.load_entry_points()
        for name, plugin in (plugins or {}).items():
            registry.register(plugin, name)
        gateway = Gateway(GatewayConfig.model_validate(settings), registry=registry, tracer_provider=tracer_provider)
        await gateway.start()
        admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.admin_app), base_url="http://localhost")
        harness = cls(gateway, admin)
        try:
            await harness._create(upstream_url, chain or [], tenant or {}, rule or {})
        except BaseException:
            await harness.close()
            raise
        return harness

    async def _create(self, upstream_url: str, chain: list[dict[str, Any]], tenant: dict[str, Any], rule: dict[str, Any]) -> None:
        subdomain = tenant.get("subdomain") or "t" + uuid.uuid4().hex[:10]
        token = self.gateway.config.server.admin_token
        created = await self.admin.post(
            "/api/v1/tenants",
            json={"name": f"Tenant {subdomain}", "subdomain": subdomain, **tenant},
            headers={"Authorization": f"Bearer {token}"} if token else None,
        )
        _expect(created, 201, "create the tenant")
        self.tenant = created.json()
        self.api_key = self.tenant["api_key"]
        made = await self.admin.post(
            f"/api/v1/tenants/{self.tenant['id']}/rules",
            headers=self.tenant_auth,
            json={"path": "/v1", "target": upstream_url, "plugin_chain": chain, **rule},
        )
        _expect(made, 201, "create the rule")
        self.rule = made.json()
        self.proxy = self.proxy_client(self.api_key)

    @property
    def tenant_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def host(self) -> str:
        return f"{self.tenant['subdomain']}.{self.gateway.config.server.base_domain}"

    def proxy_client(self, api_key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """A Proxy API client for this tenant; ``api_key`` None sends no key."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        headers.update(kwargs.pop("headers", None) or {})
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.gateway.proxy_app, client=(CLIENT_IP, 40000)),
            base_url=f"http://{self.host}",
            headers=headers,
            **kwargs,
        )
        self._clients.append(client)
        return client

    async def set_chain(self, chain: list[dict[str, Any]], **rule_fields: Any) -> dict[str, Any]:
        """Replace the rule's plugin chain (and any other rule fields); returns the saved rule."""
        body = {k: v for k, v in self.rule.items() if k not in {"id", "tenant_id", "created_at", "updated_at"}}
        body.update(plugin_chain=chain, **rule_fields)
        response = await self.admin.put(f"/api/v1/tenants/{self.tenant['id']}/rules/{self.rule['id']}", headers=self.tenant_auth, json=body)
        _expect(response, 200, "replace the rule")
        self.rule = response.json()
        return self.rule

    async def chat(self, content: str = "Hello!", **body: Any) -> httpx.Response:
        """POST an OpenAI-style chat completion through the proxy."""
        headers = body.pop("headers", None)
        payload = {"model": "mock-model", "messages": [{"role": "user", "content": content}], **body}
        return await self.proxy.post("/v1/chat/completions", json=payload, headers=headers)

    async def chat_stream(self, content: str = "Hello!", **body: Any) -> list[Any]:
        """A streamed chat completion's events, JSON-decoded (the final ``"[DONE]"`` kept)."""
        payload = {"model": "mock-model", "messages": [{"role": "user", "content": content}], "stream": True, **body}
        async with self.proxy.stream("POST", "/v1/chat/completions", json=payload) as response:
            text = (await response.aread()).decode()
            if response.status_code != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise AssertionError(f"expected a 200 event stream, got {response.status_code}: {text[:500]}")
        return stream_payloads(text)

    async def settle(self) -> None:
        """Wait for the background post_response hooks of the requests made so far."""
        await self.gateway.drain_background()

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
        await self.admin.aclose()
        await self.gateway.stop()


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise AssertionError(f"the harness could not {what}: {response.status_code} {response.text}")
