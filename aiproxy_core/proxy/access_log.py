"""The Proxy API's structured access log: one JSON object per request on the ``aiproxy.access`` logger.

Opt-in (``logging.access_log: true`` with ``access_log_format: json``). Written after the answer
was sent, from what the request left behind (its context, annotations, status), so the request
path pays for it only when it is on. What is written is chosen field by field: ids, names,
timings and counts, never a key, a header value, a body or a query string (which may hold a key).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..routing.cost import COST_ANNOTATION
from ..state_keys import INTERRUPTED, UPSTREAM_MS, USAGE

if TYPE_CHECKING:
    from ..context import ProxyResponse, RequestContext
    from ..models import Tenant

__all__ = ["ACCESS_LOGGER_NAME", "AccessLog"]

ACCESS_LOGGER_NAME = "aiproxy.access"

logger = logging.getLogger(ACCESS_LOGGER_NAME)


class AccessLog:
    """Writes one request's line; never raises (a log line must not break a request)."""

    def write(
        self,
        *,
        started: float,
        request_id: str,
        client_request_id: str | None,
        method: str,
        path: str,
        status: int,
        client_ip: str | None,
        ctx: RequestContext | None,
        tenant: Tenant | None,
        response: ProxyResponse | None,
    ) -> None:
        try:
            duration = time.perf_counter() - started
            # The arrival time, so lines sort by when requests came, whatever they lasted.
            arrived = datetime.fromtimestamp(time.time() - duration, timezone.utc)
            annotations: dict[str, Any] = ctx.annotations if ctx is not None else {}
            usage = annotations.get(USAGE) or {}
            attempts = ctx.response_headers.get("x-aiproxy-attempts") if ctx is not None else None
            key = ctx.api_key if ctx is not None else None
            if tenant is None and ctx is not None:
                tenant = ctx.tenant
            record = {
                "time": arrived.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "request_id": request_id,
                "client_request_id": client_request_id,
                "tenant_id": tenant.id if tenant is not None else None,
                "rule_id": ctx.rule.id if ctx is not None else None,
                "consumer_id": key.consumer_id if key is not None else None,
                "key_id": key.id if key is not None else None,
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "upstream_ms": _rounded(annotations.get(UPSTREAM_MS)),
                "target": annotations.get("target"),
                "attempts": int(attempts) if attempts is not None else None,
                "model": ctx.request.model if ctx is not None else None,
                "input_tokens": usage.get("input_tokens"),
                "output_tokens": usage.get("output_tokens"),
                "cost": annotations.get(COST_ANNOTATION),
                # No response: the client left before anything was sent (the 499 case).
                "interrupted": annotations.get(INTERRUPTED) or ("client" if response is None else None),
                "client_ip": client_ip,
                "error_code": getattr(response, "error_code", None),
            }
            logger.info(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        except Exception:  # the answer is already sent: a failure here is only the log's problem
            logger.debug("could not write the access log line of request %s", request_id, exc_info=True)


def _rounded(milliseconds: Any) -> float | None:
    return round(milliseconds, 3) if isinstance(milliseconds, (int, float)) else None
