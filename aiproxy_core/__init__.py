"""aiproxy core: the public API for operators and plugin authors.

Plugins import only what is listed in ``__all__``.
"""

from .admin.json_body import read_body, read_model
from .admin.lookups import authorized_tenant
from .admin.secret_values import kept_secret, masked as masked_secret
from .admin.uploads import UploadRoute
from .config import GatewayConfig, load_config
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
from . import sse, state_keys
from .gateway import Gateway
from .hookspecs import hookimpl
from .models import ApiKey, ChainEntry, Rule, Tenant
from .plugins import PluginRegistry
from .redis_keys import delete_matching
from .redis_scripts import ScriptConnection, ScriptError
from .services import GatewayServices
from .single_flight import SingleFlight
from .store import ChangeEvent, Store
from .store.opening import store_for

__version__ = "0.1.0"

__all__ = [
    "ApiKey",
    "BadRequest",
    "ChainEntry",
    "ChangeEvent",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "Gateway",
    "GatewayConfig",
    "GatewayError",
    "GatewayServices",
    "HeadersTooLarge",
    "LoopDetected",
    "MethodNotAllowed",
    "MisdirectedRequest",
    "NotFound",
    "PayloadTooLarge",
    "PaymentRequired",
    "PluginFailed",
    "PluginLoadError",
    "PluginRegistry",
    "ProxyRequest",
    "ProxyResponse",
    "RateLimited",
    "RequestContext",
    "Rule",
    "ScriptConnection",
    "ScriptError",
    "ServiceUnavailable",
    "SingleFlight",
    "Store",
    "Tenant",
    "Unauthorized",
    "UnsupportedMediaType",
    "UploadRoute",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "ValidationFailed",
    "__version__",
    "authorized_tenant",
    "delete_matching",
    "hookimpl",
    "kept_secret",
    "load_config",
    "masked_secret",
    "read_body",
    "read_model",
    "sse",
    "state_keys",
    "store_for",
]
