"""The uvicorn settings of the two listeners, shared by ``aiproxy serve`` and the SDK's LiveGateway
so tests run the protocol and limits production runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

    from ..gateway import Gateway

__all__ = ["listener_configs"]


def listener_configs(gateway: Gateway, *, log_level: str, access_log: bool) -> tuple[uvicorn.Config, uvicorn.Config]:
    """``(admin, proxy)`` uvicorn configs for ``gateway``, with its ``server`` limits applied."""
    # Imported here: aiproxy_core exports this function, and uvicorn with its httptools protocol
    # would otherwise be loaded by every ``import aiproxy_core`` (plugins, CLI, scripts).
    import uvicorn

    from .http_protocol import HttpLimits, limited_protocol
    from .proxy_protocol import proxy_protocol

    server = gateway.config.server
    limits = HttpLimits.from_server_config(server)
    common: dict[str, Any] = dict(
        lifespan="off",
        log_level=log_level,
        access_log=access_log,
        http=limited_protocol(limits),
        ws="none",  # refused by the protocol (501 websocket_not_supported) until supported
        timeout_keep_alive=server.keepalive_timeout,
        timeout_graceful_shutdown=server.shutdown_grace,
        # The core decides the client address (server.trusted_proxies); uvicorn must not rewrite
        # it from X-Forwarded-For, which it would believe from any loopback peer.
        proxy_headers=False,
    )
    admin = uvicorn.Config(gateway.admin_app, **common)
    # The JSON access log replaces uvicorn's line on the Proxy listener (one line per request, not two).
    if gateway.config.logging.access_log_format == "json":
        common["access_log"] = False
    if server.proxy_server == "aiproxy":  # its own protocol writes no uvicorn access line: the JSON log is the proxy's
        common["http"] = proxy_protocol(limits)
    proxy = uvicorn.Config(gateway.proxy_app, server_header=False, date_header=False, **common)
    gateway.proxy_app.post_response_in_task = True  # both protocols answer before the app returns
    return admin, proxy
