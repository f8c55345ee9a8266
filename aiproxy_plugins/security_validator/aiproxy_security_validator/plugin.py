"""The ``security_validator`` plugin: its hooks, and the order its checks run in.

Order: who is asking (IP, as the core decided it in ``ctx.request.client_ip``), then what the envelope looks like (method, size, content type,
headers), then the signature. Cheap refusals come first, and the signature comes last because
a verified signature is remembered for replay protection: a request that some other check
refuses should not use up its signature.

This module is the plugin object (the ``aiproxy`` entry point names it). What ``startup`` hands
over lives in ``process`` below, because stage hooks receive only ``ctx`` and ``settings``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel

from aiproxy_core import GatewayServices, RequestContext, Unauthorized, hookimpl

from .replay import MemoryReplayGuard, RedisReplayGuard, ReplayGuard, replay_key
from .request_policy import (
    PLUGIN_NAME,
    check_body_size,
    check_client_address,
    check_content_type,
    check_method,
    check_required_headers,
    refusal_details,
)
from .settings import SecurityValidatorSettings
from .signature import verify_signature

__all__ = ["PLUGIN_NAME", "pre_request", "process", "settings_model", "shutdown", "startup"]


@dataclass
class ProcessState:
    """This process's shared services and replay memory (one gateway per process is assumed)."""

    services: GatewayServices | None = None
    replay: ReplayGuard = field(default_factory=MemoryReplayGuard)


process = ProcessState()


@hookimpl
def settings_model() -> type[BaseModel]:
    return SecurityValidatorSettings


@hookimpl
def startup(services: GatewayServices) -> None:
    process.services = services
    redis = services.redis
    if redis is not None:
        process.replay = RedisReplayGuard(redis, services.redis_prefix or "aiproxy")
    else:
        process.replay = MemoryReplayGuard()


@hookimpl
def shutdown(services: GatewayServices) -> None:
    # Only forget what this gateway set up: another gateway in the same process may have replaced it.
    if process.services is services:
        process.services = None
        process.replay = MemoryReplayGuard()


@hookimpl
async def pre_request(ctx: RequestContext, settings: SecurityValidatorSettings) -> None:
    request = ctx.request
    if settings.checks_ip:
        check_client_address(request, settings)
    if settings.allowed_methods is not None:
        check_method(request, settings.allowed_methods)
    if settings.max_body_bytes is not None:
        check_body_size(request, settings.max_body_bytes)
    if settings.allowed_content_types is not None:
        check_content_type(request, settings.allowed_content_types)
    if settings.required_headers:
        check_required_headers(request, settings.required_headers)
    if settings.hmac is not None:
        verified = verify_signature(request, settings.hmac, time.time())
        key = replay_key(ctx.tenant.id, verified.signature)
        if not await process.replay.first_sighting(key, verified.valid_for_seconds):
            raise Unauthorized(
                "this signature was already used; sign every request with a fresh timestamp",
                code="signature_replayed",
                details=refusal_details("hmac"),
            )
