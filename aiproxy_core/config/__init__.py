"""Configuration: the seed's ``config.yaml`` shape, validated, with environment overrides."""

from .loading import load_config
from .schema import GatewayConfig, LoggingConfig, MetricsConfig, RecordsConfig, RedisConfig, ServerConfig, StorageConfig, UpstreamConfig

__all__ = [
    "GatewayConfig",
    "LoggingConfig",
    "MetricsConfig",
    "RecordsConfig",
    "RedisConfig",
    "ServerConfig",
    "StorageConfig",
    "UpstreamConfig",
    "load_config",
]
