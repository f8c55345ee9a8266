"""The shape of ``config.yaml`` (the seed's format, with optional extra sections)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(default=8080, ge=0, le=65535)
    proxy_host: str = "127.0.0.1"
    proxy_port: int = Field(default=8081, ge=0, le=65535)
    base_domain: str = Field(default="localhost", min_length=1)
    #: When set, tenant-level Admin API calls need ``Authorization: Bearer <admin_token>``.
    admin_token: str | None = Field(default=None, min_length=16)
    #: Largest request body the Proxy API accepts (413 above).
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    #: Largest body the Admin API accepts (413 above).
    max_admin_body_bytes: int = Field(default=1024 * 1024, ge=1)


class RedisConfig(_Section):
    host: str = "localhost"
    port: int = Field(default=6379, ge=1, le=65535)
    password: str = ""
    db: int = Field(default=0, ge=0)
    #: Every key and channel the gateway uses starts with this, so several gateways can share a server.
    prefix: str = Field(default="aiproxy", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    #: Connections per gateway process; a burst beyond it waits (up to 5 s) for a free one.
    max_connections: int = Field(default=200, ge=2)


class StorageConfig(_Section):
    #: The SQLite file used when there is no ``redis`` section.
    path: str = "./aiproxy.db"


class UpstreamConfig(_Section):
    connect_timeout: float = Field(default=10.0, gt=0)
    #: Longest wait for the upstream's next bytes (a rule's ``timeout`` overrides it).
    read_timeout: float = Field(default=300.0, gt=0)
    max_connections: int = Field(default=512, ge=1)
    keepalive_timeout: float = Field(default=30.0, gt=0)


class LoggingConfig(_Section):
    level: str = Field(default="info", pattern=r"^(?i:debug|info|warning|error|critical)$")
    access_log: bool = False


class GatewayConfig(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    redis: RedisConfig | None = None
    storage: StorageConfig = Field(default_factory=StorageConfig)
    upstream: UpstreamConfig = Field(default_factory=UpstreamConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    #: Per plugin, its process-wide options (``plugins.billing.run_worker``); each plugin's
    #: ``config_model`` validates its own section once the plugins are loaded.
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
