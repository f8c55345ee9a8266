"""aiproxy rate limiter: sliding-window limits on requests or tokens, exact across gateway processes.

The gateway finds the plugin through the ``aiproxy`` entry point ``rate_limiter``
(:mod:`aiproxy_rate_limiter.plugin`). To run several gateways in one Python process, register a
fresh :class:`RateLimiter` in each, since a plugin object keeps its gateway's state namespace.
"""

from .plugin import RateLimiter
from .settings import LimitSpec, RateLimiterSettings

__version__ = "0.1.0"

__all__ = ["LimitSpec", "RateLimiter", "RateLimiterSettings", "__version__"]
