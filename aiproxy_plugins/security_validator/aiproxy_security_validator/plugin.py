"""The ``security_validator`` plugin: its hooks, and the order its checks run in.

Order: who is asking (IP, as the core decided it in ``ctx.request.client_ip``), then what the envelope looks like (method, size, content type,
headers), then the signature. Cheap refusals come first, and the signature comes last because
a verified signature is remembered for replay protection: a request that some other check
refuses should not use up its signature.

This module is the plugin object (the ``aiproxy`` entry point names it). It keeps no state of
its own: the replay memory is the serving gateway's (``ctx.services``), so several gateways in
one process each keep theirs.
"""

from __future__ import annotations

import time

from pydantic import BaseModel

from aiproxy_core import RequestContext, Unauthorized, hookimpl

from .replay import first_sighting
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

__all__ = ["PLUGIN_NAME", "pre_request", "settings_model"]


@hookimpl
def settings_model() -> type[BaseModel]:
    return SecurityValidatorSettings


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
        if ctx.services is None:
            raise RuntimeError("security_validator needs the gateway's services to remember signatures")
        if not await first_sighting(ctx.services, ctx.tenant.id, verified.signature, verified.valid_for_seconds):
            raise Unauthorized(
                "this signature was already used; sign every request with a fresh timestamp",
                code="signature_replayed",
                details=refusal_details("hmac"),
            )
