"""Upstream HTTP: one interface, an HTTP/1.1 client on httptools by default, and the policy on where it may connect."""

from .client import UpstreamClient, UpstreamResponse
from .http1_client import Http1UpstreamClient
from .target_policy import TargetPolicy

__all__ = ["Http1UpstreamClient", "TargetPolicy", "UpstreamClient", "UpstreamResponse"]
