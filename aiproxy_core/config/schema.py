"""The shape of ``config.yaml`` (the seed's format, with optional extra sections)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator


def _network(value: str) -> str:
    """A CIDR (``10.0.0.0/8``) or one address; the error names what is wrong with it."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not a network: write a CIDR such as 10.0.0.0/8 or 127.0.0.1/32") from None


#: A network in CIDR notation, normalised (``127.0.0.1`` -> ``127.0.0.1/32``).
Network = Annotated[str, AfterValidator(_network)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
    admin_host: str = Field(
        default="127.0.0.1",
        description="Address the Admin API listens on; one that is not loopback (e.g. `0.0.0.0`) requires `admin_token`.",
    )
    admin_port: int = Field(default=8080, ge=0, le=65535, description="Port of the Admin API (0: any free port).")
    proxy_host: str = Field(default="127.0.0.1", description="Address the Proxy API listens on; `0.0.0.0` to serve the network.")
    proxy_port: int = Field(default=8081, ge=0, le=65535, description="Port of the Proxy API (0: any free port).")
    base_domain: str = Field(
        default="localhost", min_length=1,
        description="Tenants are found by subdomain: `<subdomain>.<base_domain>` in a request's Host is that tenant's.",
    )
    admin_token: str | None = Field(
        default=None, min_length=16,
        description="When set, tenant-level Admin API calls need `Authorization: Bearer <admin_token>`.",
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="Largest request body the Proxy API accepts (413 above).")
    max_admin_body_bytes: int = Field(default=1024 * 1024, ge=1, description="Largest body the Admin API accepts (413 above).")
    header_timeout: float = Field(
        default=10.0, gt=0,
        description="Seconds a connection may take to send a request's whole header block (slowloris: closed).",
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024,
        description="Largest header block (request line and headers) either listener reads (431 above).",
    )
    max_header_count: int = Field(default=100, ge=8, description="Most header fields in one request (431 above).")
    keepalive_timeout: float = Field(default=5.0, gt=0, description="Seconds an idle keep-alive connection stays open between requests.")
    shutdown_grace: float = Field(default=30.0, ge=0, description="Seconds in-flight requests (streams included) may take to finish after SIGTERM.")
    proxy_server: Literal["aiproxy", "uvicorn"] = Field(
        default="aiproxy",
        description=(
            "The Proxy listener's HTTP/1.1: `aiproxy`, the gateway's own protocol (less work per request), or `uvicorn`, "
            "uvicorn's httptools protocol. Both apply the header limits above and behave the same on the wire; the Admin "
            "listener always runs on uvicorn's."
        ),
    )
    trusted_proxies: list[Network] = Field(
        default_factory=list,
        description="Peers (CIDRs) whose `X-Forwarded-For`/`-Host`/`-Proto` and `Forwarded` are believed.",
    )
    admin_hostnames: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
        description="Host names the Admin API answers to (421 otherwise): DNS rebinding protection.",
    )
    admin_cors_origins: list[str] = Field(default_factory=list, description="Origins a browser may call the Admin API from (CORS); none by default.")
    admin_auth_failures_per_minute: int = Field(
        default=20, ge=1,
        description="Failed admin-token or key attempts one address may make per minute on the Admin API (429 after).",
    )
    gateway_id: str | None = Field(
        default=None, min_length=4, max_length=64, pattern=r"^[A-Za-z0-9._-]+$",
        description=(
            "This deployment's name in the `Via` header of what it forwards (loop detection); by default derived from the "
            "shared store, so every process of one deployment uses the same."
        ),
    )


class RedisConfig(_Section):
    host: str = Field(default="localhost", description="The Redis server (with `cluster`: any node of the cluster).")
    port: int = Field(default=6379, ge=1, le=65535, description="Its port.")
    password: str = Field(default="", description="Its password (AUTH); empty: none. Better set from `AIPROXY_REDIS__PASSWORD`.")
    db: int = Field(default=0, ge=0, description="The database number (0 with `cluster`).")
    prefix: str = Field(
        default="aiproxy", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Every key and channel the gateway uses starts with this, so several gateways can share a server.",
    )
    max_connections: int = Field(
        default=200, ge=2,
        description="Connections per gateway process; a burst beyond it waits (up to 5 s) for a free one.",
    )
    cluster: bool = Field(
        default=False,
        description=(
            "A Redis Cluster: `host`/`port` name any node (a managed service's configuration endpoint); the client learns the "
            "others from it. A cluster has only database 0."
        ),
    )

    @model_validator(mode="after")
    def _cluster_has_only_db_0(self) -> "RedisConfig":
        if self.cluster and self.db != 0:
            raise ValueError(f"redis.db must be 0 with redis.cluster: true (a Redis Cluster has only database 0), not {self.db}")
        return self


class StorageConfig(_Section):
    path: str = Field(default="./aiproxy.db", description="The SQLite file used when there is no `redis` section.")


class UpstreamConfig(_Section):
    connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to get an upstream connection: pool wait, DNS, TCP and TLS.")
    read_timeout: float = Field(default=300.0, gt=0, description="Longest wait for the upstream's next bytes (a rule's `timeout` overrides it).")
    max_connections: int = Field(default=512, ge=1, description="Open upstream connections per process, idle ones included.")
    keepalive_timeout: float = Field(default=30.0, gt=0, description="Seconds an idle upstream connection is kept for reuse.")
    allowed_networks: list[Network] = Field(
        default_factory=list,
        description=(
            "Private, loopback or otherwise non-public networks (CIDRs) rules may target, e.g. `[\"127.0.0.1/32\"]` for a local "
            "model server. Public addresses are always allowed; the gateway's own listeners and its Redis never are."
        ),
    )


def _postgresql_url(value: SecretStr | None) -> SecretStr | None:
    """A ``postgresql://`` (or ``postgres://``) URL; the error never repeats it (it may hold a password)."""
    if value is not None and not value.get_secret_value().startswith(("postgresql://", "postgres://")):
        raise ValueError("records.postgresql is a URL starting with postgresql:// (e.g. postgresql://aiproxy@db.internal:5432/aiproxy)")
    return value


class RecordsConfig(_Section):
    """Where records that must be kept (billing's ledger events) go: see docs/plugin_state.md."""

    postgresql: Annotated[SecretStr | None, AfterValidator(_postgresql_url)] = Field(
        default=None,
        description=(
            "A PostgreSQL server's URL: records go there (embedded or on Redis). Unset: embedded, the SQLite state file keeps "
            "them; on Redis none are kept (plugins keep aggregates only)."
        ),
    )
    pool_size: int = Field(default=4, ge=1, le=100, description="Connections per gateway process to that server (opened when first needed).")


class LoggingConfig(_Section):
    level: str = Field(
        default="info", pattern=r"^(?i:debug|info|warning|error|critical)$",
        description="The lowest level logged to stderr: `debug`, `info`, `warning`, `error` or `critical`.",
    )
    access_log: bool = Field(
        default=False,
        description=(
            "One line per request: uvicorn's on both listeners, or (with `access_log_format: json`) the Proxy API's own JSON "
            "line on the `aiproxy.access` logger (docs: README \"Access log\")."
        ),
    )
    access_log_format: Literal["plain", "json"] = Field(
        default="plain",
        description=(
            "`plain`: uvicorn's line (client, method, path with query, status). `json`: one JSON object per proxied request, "
            "with ids, timings, tokens and cost, never a key, body or query."
        ),
    )


MetricLabel = Literal["tenant", "rule", "model", "status_class", "consumer"]
_DEFAULT_METRIC_LABELS: tuple[MetricLabel, ...] = ("tenant", "rule", "model", "status_class")


class MetricsConfig(_Section):
    """``GET /metrics`` on the Admin listener (docs/observability.md)."""

    enabled: bool = Field(default=True, description="Count every request for `GET /metrics` (its cost is measured in docs/benchmarks.md); off: GET /metrics answers 404.")
    labels: list[MetricLabel] = Field(
        default_factory=lambda: list(_DEFAULT_METRIC_LABELS),
        description=(
            "The labels of the per-request series. `consumer` is opt-in: one series per consumer can be many; the key is never "
            "a label."
        ),
    )
    max_series: int = Field(
        default=10_000, ge=1, le=1_000_000,
        description="Label sets counted apart; beyond, new ones are counted together under `other`.",
    )

    @model_validator(mode="after")
    def _labels_once(self) -> "MetricsConfig":
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"metrics.labels names a label twice: {self.labels}")
        return self


class TracingConfig(_Section):
    """OpenTelemetry traces of the Proxy API (docs/observability.md). Where spans go, how many are
    sampled and the service's name are read by the OpenTelemetry SDK itself from the standard
    ``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_TRACES_SAMPLER``, ...), so they
    are not repeated here."""

    enabled: bool = Field(
        default=False,
        description=(
            "Spans exported with OTLP (http/protobuf) as the standard `OTEL_*` variables configure; needs `pip install "
            "'aiproxy-core[tracing]'`. `OTEL_SDK_DISABLED=true` turns it off too."
        ),
    )
    trust_incoming_traceparent: bool = Field(
        default=False,
        description=(
            "Continue the trace of an incoming `traceparent` from any client. Off: only from a peer in "
            "`server.trusted_proxies`; anyone else's starts a new trace (a client must not choose the gateway's trace ids or "
            "force its sampling)."
        ),
    )
    propagate_to_upstream: bool = Field(
        default=True,
        description="Send each upstream attempt's `traceparent` upstream, so the provider's spans join the trace.",
    )


class GatewayConfig(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig, description="The two listeners: addresses, ports, limits, the admin token.")
    redis: RedisConfig | None = Field(
        default=None,
        description="Keep state in Redis (several processes or hosts share it). Left out: embedded, state in the SQLite file of `storage`.",
    )
    storage: StorageConfig = Field(default_factory=StorageConfig, description="Embedded mode's state (when there is no `redis` section).")
    upstream: UpstreamConfig = Field(default_factory=UpstreamConfig, description="Connections to upstreams, and where rules may point.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="What the gateway logs to stderr.")
    records: RecordsConfig = Field(default_factory=RecordsConfig, description="Where records that must be kept go.")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="Prometheus metrics.")
    tracing: TracingConfig = Field(default_factory=TracingConfig, description="OpenTelemetry traces.")
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "Per plugin, its process-wide options (`plugins.billing.run_worker`); each plugin's `config_model` validates its "
            "own section once the plugins are loaded."
        ),
    )
