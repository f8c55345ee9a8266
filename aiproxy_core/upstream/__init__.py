"""Upstream HTTP: one interface, an aiohttp implementation by default, and the policy on where it may connect."""

from .aiohttp_client import AiohttpUpstreamClient
from .client import UpstreamClient, UpstreamResponse
from .target_policy import TargetPolicy

__all__ = ["AiohttpUpstreamClient", "TargetPolicy", "UpstreamClient", "UpstreamResponse"]
