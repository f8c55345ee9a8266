"""aiproxy cache: exact and semantic caching of chat completions, per tenant.

The gateway finds the plugin through the ``aiproxy`` entry point ``cache``
(:mod:`aiproxy_cache.plugin`). To run several gateways in one Python process, register a fresh
:class:`Cache` in each, since a plugin object keeps its gateway's store.
"""

from .plugin import CACHE_HEADER, Cache
from .settings import CacheSettings

__version__ = "0.1.0"

__all__ = ["CACHE_HEADER", "Cache", "CacheSettings", "__version__"]
