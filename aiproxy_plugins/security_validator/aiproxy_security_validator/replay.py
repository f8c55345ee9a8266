"""Remembering signatures already used, so a captured signed request cannot be sent twice.

A signature only has to be remembered while its timestamp is inside the window; after that the
timestamp check refuses it anyway. It is kept in the state API's values of the tenant (embedded:
the gateway's SQLite state file; with Redis: shared by every gateway process on it), written with
``set_if_absent`` and a TTL: one atomic step, so of concurrent requests with one signature,
on any processes, exactly one is admitted, and the backend forgets the signature when its window
closes.
"""

from __future__ import annotations

from aiproxy_core import GatewayServices

from .request_policy import PLUGIN_NAME

__all__ = ["first_sighting", "replay_key"]

#: The state API refuses a TTL of 0; a signature at the very edge of its window still counts.
SHORTEST_MEMORY_SECONDS = 0.001


def replay_key(signature: str) -> str:
    # The tenant is the state API's scope: two tenants sharing a secret do not refuse each other.
    return f"replay:{signature}"


async def first_sighting(services: GatewayServices, tenant_id: str, signature: str, remember_seconds: float) -> bool:
    """True the first time ``signature`` is seen for the tenant within ``remember_seconds``."""
    values = services.state(PLUGIN_NAME).values(tenant_id)
    ttl = max(SHORTEST_MEMORY_SECONDS, remember_seconds)
    return await values.set_if_absent(replay_key(signature), 1, ttl=ttl)
