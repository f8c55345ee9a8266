"""Upstream HTTP: one interface, an aiohttp implementation by default."""

from .aiohttp_client import AiohttpUpstreamClient
from .client import UpstreamClient, UpstreamResponse

__all__ = ["AiohttpUpstreamClient", "UpstreamClient", "UpstreamResponse"]
