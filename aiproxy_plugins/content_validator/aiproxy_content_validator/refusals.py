"""The errors this plugin answers with, each naming the check that failed in ``details``.

Request refusals are 400s the client can fix. A rejected upstream answer is a 502
``response_rejected``: the client's request was fine, what came back was not fit to pass on.
"""

from __future__ import annotations

from typing import Any

from aiproxy_core import BadRequest, GatewayError

__all__ = ["PLUGIN_NAME", "rejected_response", "refused_request"]

PLUGIN_NAME = "content_validator"


def refused_request(message: str, code: str, check: str, **facts: Any) -> BadRequest:
    return BadRequest(message, code=code, details=[{"plugin": PLUGIN_NAME, "check": check, **facts}])


def rejected_response(message: str, check: str, **facts: Any) -> GatewayError:
    return GatewayError(
        message, status=502, code="response_rejected", details=[{"plugin": PLUGIN_NAME, "check": check, **facts}]
    )
