"""aiproxy cache: exact and semantic caching of chat completions, per tenant.

The gateway finds the plugin through the ``aiproxy`` entry point ``cache``, which names the
:class:`Cache` class: each gateway that loads it makes its own instance. To register it by hand,
give every gateway a fresh :class:`Cache`, since a plugin object keeps its gateway's store.
"""

from .plugin import CACHE_HEADER, Cache
from .settings import CacheSettings

__version__ = "0.1.0"

__all__ = ["CACHE_HEADER", "Cache", "CacheSettings", "__version__"]
