"""aiproxy core: the public API for operators and plugin authors.

Plugins import only what is listed in ``__all__``.
"""

from .admin.json_body import read_body, read_model
from .admin.lookups import authorized_tenant
from .admin.secret_values import kept_secret, masked as masked_secret
from .admin.uploads import UploadRoute
from .config import GatewayConfig, LoggingConfig, MetricsConfig, RecordsConfig, RedisConfig, ServerConfig, StorageConfig, TracingConfig, UpstreamConfig, load_config
from .chain.entry_ref import EntryRef
from .context import ProxyRequest, ProxyResponse, RequestContext
from .errors import (
    BadRequest,
    ConfigError,
    Conflict,
    Forbidden,
    GatewayError,
    HeadersTooLarge,
    LoopDetected,
    MethodNotAllowed,
    MisdirectedRequest,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    PluginFailed,
    PluginLoadError,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamTimeout,
    UpstreamUnreachable,
    ValidationFailed,
)
from . import openai_shapes, sse, state, state_keys
from .gateway import Gateway
from .hookspecs import hookimpl
from .metrics import MetricReading
from .mock_upstream import create_mock_upstream
from .models import (
    ApiKey,
    ChainEntry,
    CircuitBreakerPolicy,
    Condition,
    ConditionMatch,
    Consumer,
    PortalSettings,
    RetryPolicy,
    RoutingPolicy,
    Rule,
    RuleTarget,
    Tenant,
)
from .plugins import PluginInfo, PluginRegistry
from .portal import PORTAL_API, PortalCaller, PortalSection, portal_consumer, portal_tenant
from .redis_keys import delete_matching
from .redis_scripts import ScriptConnection, ScriptError
from .services import GatewayServices
from .single_flight import SingleFlight
from .store import ChangeEvent, Store
from .store.opening import store_for
from .server.uvicorn_configs import listener_configs
from .upstream import UpstreamClient, UpstreamResponse

__version__ = "0.1.0"

__all__ = [
    "ApiKey",
    "BadRequest",
    "ChainEntry",
    "ChangeEvent",
    "CircuitBreakerPolicy",
    "Condition",
    "ConditionMatch",
    "ConfigError",
    "Conflict",
    "Consumer",
    "EntryRef",
    "Forbidden",
    "Gateway",
    "GatewayConfig",
    "GatewayError",
    "GatewayServices",
    "HeadersTooLarge",
    "LoggingConfig",
    "LoopDetected",
    "MethodNotAllowed",
    "MetricReading",
    "MetricsConfig",
    "MisdirectedRequest",
    "NotFound",
    "PORTAL_API",
    "PayloadTooLarge",
    "PaymentRequired",
    "PluginFailed",
    "PluginInfo",
    "PluginLoadError",
    "PluginRegistry",
    "PortalCaller",
    "PortalSection",
    "PortalSettings",
    "ProxyRequest",
    "ProxyResponse",
    "RateLimited",
    "RecordsConfig",
    "RedisConfig",
    "RequestContext",
    "RetryPolicy",
    "RoutingPolicy",
    "Rule",
    "RuleTarget",
    "ScriptConnection",
    "ScriptError",
    "ServerConfig",
    "ServiceUnavailable",
    "SingleFlight",
    "StorageConfig",
    "Store",
    "Tenant",
    "TracingConfig",
    "Unauthorized",
    "UnsupportedMediaType",
    "UploadRoute",
    "UpstreamClient",
    "UpstreamConfig",
    "UpstreamResponse",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "ValidationFailed",
    "__version__",
    "authorized_tenant",
    "create_mock_upstream",
    "delete_matching",
    "hookimpl",
    "kept_secret",
    "listener_configs",
    "load_config",
    "masked_secret",
    "openai_shapes",
    "portal_consumer",
    "portal_tenant",
    "read_body",
    "read_model",
    "sse",
    "state",
    "state_keys",
    "store_for",
]
