"""Configuration: the seed's ``config.yaml`` shape, validated, with environment overrides."""

from .loading import load_config
from .schema import GatewayConfig, LoggingConfig, MetricsConfig, RecordsConfig, RedisConfig, ServerConfig, StorageConfig, TracingConfig, UpstreamConfig

__all__ = [
    "GatewayConfig",
    "LoggingConfig",
    "MetricsConfig",
    "RecordsConfig",
    "RedisConfig",
    "ServerConfig",
    "StorageConfig",
    "TracingConfig",
    "UpstreamConfig",
    "load_config",
]
