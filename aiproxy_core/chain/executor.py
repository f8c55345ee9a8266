"""Running the steps of a compiled chain: ``def`` and ``async def`` hooks, in order, failing closed."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from ..context import ProxyResponse, RequestContext
from ..errors import GatewayError, PluginFailed, ServiceUnavailable
from ..store.base import STORE_UNREACHABLE, UNAVAILABLE_RETRY_AFTER
from .compiled import Step

logger = logging.getLogger("aiproxy.chain")

#: A hook that raises one of these could not reach Redis, its store or another service: the
#: request is refused 503 ``plugin_unavailable`` (retry later), not 500 as for a plugin bug.
_UNREACHABLE: tuple[type[Exception], ...] = (*STORE_UNREACHABLE, OSError)

_CTX = ("ctx",)

#: How a runner calls one step: :func:`call_step`, or tracing's wrapper of it (a span per step),
#: chosen once per stage so that with tracing off the loop pays nothing for it.
StepCall = Callable[[Step, RequestContext, bytes | None], Awaitable[Any]]


def _called(step: Step, ctx: RequestContext, chunk: bytes | None) -> Any:
    """The hook called with the arguments it names (awaitable if it is an ``async def``)."""
    if step.per_call == _CTX:  # every stage hook but response_chunk, without building a dict
        return step.function(ctx=ctx, **step.fixed)
    given = {"ctx": ctx, "chunk": chunk}
    return step.function(**{name: given[name] for name in step.per_call}, **step.fixed)


async def call_step(step: Step, ctx: RequestContext, chunk: bytes | None = None) -> Any:
    """Call one hook; a plugin's own GatewayError passes through, anything else is a plugin failure.

    With ``on_error: open`` a failing hook is logged and skipped instead of failing the request.
    One that cannot reach what it needs (Redis down) is 503 ``plugin_unavailable``, else 500.
    """
    try:
        result = _called(step, ctx, chunk)
        if step.is_async:
            result = await result
        return result
    except GatewayError:
        raise
    except _UNREACHABLE as exc:
        # An outage fails every request alike: one line each, no traceback.
        logger.warning(
            "plugin %r cannot reach its store in %s (request %s): %s: %s",
            step.plugin, step.hook, ctx.request_id, type(exc).__name__, exc,
        )  # fmt: skip
        if step.on_error == "open":
            return None
        raise ServiceUnavailable(
            f"plugin {step.plugin!r} cannot reach the store it needs right now, so the request was refused; "
            f"retry shortly (request id {ctx.request_id})",
            code="plugin_unavailable",
            headers={"Retry-After": UNAVAILABLE_RETRY_AFTER},
            details=[{"plugin": step.plugin, "hook": step.hook}],
        ) from exc
    except Exception as exc:
        logger.exception("plugin %r failed in %s (request %s)", step.plugin, step.hook, ctx.request_id)
        if step.on_error == "open":
            return None
        raise PluginFailed(
            f"plugin {step.plugin!r} failed in {step.hook}: {type(exc).__name__}; "
            f"the gateway log has the details under request id {ctx.request_id}",
            details=[{"plugin": step.plugin, "hook": step.hook}],
        ) from exc


async def run_answering(steps: tuple[Step, ...], ctx: RequestContext, call: StepCall = call_step) -> ProxyResponse | None:
    """Run steps in order; the first that returns a response answers and ends the stage."""
    for step in steps:
        result = await call(step, ctx, None)
        if result is not None:
            if not isinstance(result, ProxyResponse):
                raise PluginFailed(
                    f"plugin {step.plugin!r} returned {type(result).__name__} from {step.hook}; "
                    "return None or an aiproxy_core.ProxyResponse",
                    details=[{"plugin": step.plugin, "hook": step.hook}],
                )
            return result
    return None


async def run_chunk(steps: tuple[Step, ...], ctx: RequestContext, chunk: bytes) -> bytes:
    for step in steps:
        result = await call_step(step, ctx, chunk)
        if result is not None:
            chunk = bytes(result)
    return chunk


async def run_post_response(steps: tuple[Step, ...], ctx: RequestContext, call: StepCall = call_step) -> None:
    """Run after the client has its answer; errors are logged and counted, never shown."""
    for step in steps:
        try:
            await call(step, ctx, None)
        except Exception:
            _post_response_failed(step, ctx)


def run_post_response_now(steps: tuple[Step, ...], ctx: RequestContext) -> None:
    """:func:`run_post_response` for steps that are all plain ``def`` (``CompiledChain.post_response_now``):
    called at once after the last byte was sent, with no task to create and schedule per request
    (in a profile, the task was about a tenth of a metering plugin's cost)."""
    for step in steps:
        try:
            _called(step, ctx, None)
        except Exception:
            _post_response_failed(step, ctx)


def _post_response_failed(step: Step, ctx: RequestContext) -> None:
    post_response_failures[step.plugin] = post_response_failures.get(step.plugin, 0) + 1
    logger.exception("post_response of plugin %r failed (request %s)", step.plugin, ctx.request_id)


#: Per plugin, how many post_response calls failed in this process (exported in /metrics later).
post_response_failures: dict[str, int] = {}
