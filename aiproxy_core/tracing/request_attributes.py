"""The request span's attributes, read once at its end from the request's context and annotations.

Chosen one by one, like the access log's fields: ids, names, counts and timings. Never a key, a
header value, a body or a query string (which may hold a key), nor an error's message (a
plugin's may quote the prompt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import GatewayError
from ..proxy.request_model import body_model
from ..routing.cost import COST_ANNOTATION
from ..state_keys import INTERRUPTED, TTFT_MS, UPSTREAM_MS, USAGE

if TYPE_CHECKING:
    from starlette.types import Scope

    from ..context import ProxyResponse, RequestContext
    from ..models import Tenant
    from .request_trace import RequestTrace

__all__ = ["exception_type", "failure_type", "request_attributes"]


def request_attributes(
    trace: RequestTrace, scope: Scope, ctx: RequestContext | None, tenant: Tenant | None, response: ProxyResponse | None, status: int
) -> tuple[dict[str, Any], str, bool]:
    """(attributes, span name, failed). ``response`` None: the client left before it was sent.

    The name is ``{method} {rule path}`` (the HTTP conventions' ``{method} {http.route}``), or
    the method alone for a request refused before a rule matched (the route is unknown).
    """
    method = scope["method"]
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": scope["path"],  # uvicorn's decoded path: never the query string
        "http.response.status_code": status,
    }
    error_code: str | None = getattr(response, "error_code", None)
    name = method
    if ctx is not None:
        tenant = ctx.tenant
        rule = ctx.rule
        key = ctx.api_key
        name = f"{method} {rule.path}"
        attributes["http.route"] = rule.path
        attributes["aiproxy.request_id"] = ctx.request_id
        if ctx.client_request_id is not None:
            attributes["aiproxy.client_request_id"] = ctx.client_request_id
        attributes["aiproxy.rule_id"] = rule.id
        attributes["aiproxy.key_id"] = key.id  # the key's id, never the key
        if key.consumer_id is not None:
            attributes["aiproxy.consumer_id"] = key.consumer_id
        _add_model_and_usage(attributes, ctx, response)
        error_code = error_code or _annotate(attributes, trace, ctx.annotations)
    if tenant is not None:
        attributes["aiproxy.tenant_id"] = tenant.id
    if response is None:
        attributes["aiproxy.client_disconnected"] = True
    if trace.chunks:
        attributes["aiproxy.response_chunk.chunks"] = trace.chunks
    if error_code is not None:
        attributes["error.type"] = error_code
    elif status >= 500:
        attributes["error.type"] = str(status)
    return attributes, name, error_code is not None or status >= 500


def _add_model_and_usage(attributes: dict[str, Any], ctx: RequestContext, response: ProxyResponse | None) -> None:
    # The access log's rule: a body a hook already parsed, or a JSON one of at most 64 KiB.
    model = ctx.request.model
    if model is not None:
        attributes["gen_ai.request.model"] = model
    if response is not None and response.stream is None and response.status < 400 and response.body:
        answered = body_model(None, response.body)
        if answered is not None:
            attributes["gen_ai.response.model"] = answered
    usage = ctx.annotations.get(USAGE)
    if isinstance(usage, dict):
        for name in ("input_tokens", "output_tokens"):
            if isinstance(usage.get(name), int):
                attributes[f"gen_ai.usage.{name}"] = usage[name]


def _annotate(attributes: dict[str, Any], trace: RequestTrace, annotations: dict[str, Any]) -> str | None:
    """The routing and streaming facts; returns the error type an interrupted stream gets."""
    target = annotations.get("target")
    if target is not None:
        attributes["aiproxy.target"] = str(target)
        if trace.provider:
            attributes["gen_ai.provider.name"] = trace.provider
    if trace.attempts:
        attributes["aiproxy.attempts"] = trace.attempts
    for key, name in ((COST_ANNOTATION, "aiproxy.cost_usd"), (TTFT_MS, "aiproxy.ttft_ms"), (UPSTREAM_MS, "aiproxy.upstream_ms")):
        value = annotations.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[name] = float(value)
    interrupted = annotations.get(INTERRUPTED)
    if interrupted == "client":
        attributes["aiproxy.client_disconnected"] = True
    if isinstance(interrupted, str):
        attributes["aiproxy.interrupted"] = interrupted
        if interrupted == "upstream":  # a 200 whose body was cut off: the client did not get its answer
            return trace.chunk_error or "upstream_stream_interrupted"
    return None


def failure_type(exc: BaseException) -> str:
    """``error.type`` of a failure: a gateway error's code, else the exception's class."""
    return exc.code if isinstance(exc, GatewayError) else exception_type(exc)


def exception_type(exc: BaseException) -> str:
    """The class of what went wrong: for a gateway error raised over a plugin's own exception
    (``plugin_failed``), the plugin's exception's class."""
    cause = exc.__cause__
    if isinstance(exc, GatewayError) and cause is not None and not isinstance(cause, GatewayError):
        exc = cause
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
