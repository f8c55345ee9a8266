"""A local OpenAI-compatible upstream, so the gateway can be demoed and tested offline."""

from aiproxy_core.mock_upstream.app import create_mock_upstream

__all__ = ["create_mock_upstream"]
