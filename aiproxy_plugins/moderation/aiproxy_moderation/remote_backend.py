"""The remote backend: any OpenAI-compatible ``/v1/moderations`` endpoint.

One pooled aiohttp session per event loop (a gateway process has one loop; tests make one per
test), closed by the plugin's ``shutdown``. A failure raises :class:`ModerationUnavailable`, a
plain exception, so the core's failure policy decides: fail closed (500 naming the plugin) by
default, or skip the check with the chain entry's ``on_error: open``.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Sequence

import aiohttp

from .result import ModerationResult
from .settings import ModerationSettings

__all__ = ["ModerationUnavailable", "close_sessions", "moderate_remotely"]

_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = weakref.WeakKeyDictionary()


class ModerationUnavailable(Exception):
    """The moderation endpoint could not be reached or gave an answer we cannot read."""


def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = _sessions[loop] = aiohttp.ClientSession()
    return session


async def close_sessions() -> None:
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def _result(raw: Any, settings: ModerationSettings) -> ModerationResult:
    if not isinstance(raw, dict) or not isinstance(raw.get("categories"), dict):
        raise ModerationUnavailable("a moderation result has no 'categories' object")
    scores = {str(k): float(v) for k, v in (raw.get("category_scores") or {}).items() if isinstance(v, (int, float))}
    categories: dict[str, bool] = {}
    for name, hit in raw["categories"].items():
        threshold = settings.threshold_for(name)
        categories[name] = bool(hit) if threshold is None else scores.get(name, 0.0) >= threshold
    return ModerationResult(categories, scores)


async def moderate_remotely(texts: Sequence[str], settings: ModerationSettings) -> ModerationResult:
    assert settings.remote_url is not None  # the settings refuse backend "remote" without it
    body: dict[str, Any] = {"input": list(texts)}
    if settings.remote_model:
        body["model"] = settings.remote_model
    api_key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = aiohttp.ClientTimeout(total=settings.remote_timeout_s)
    try:
        async with _session().post(str(settings.remote_url), json=body, headers=headers, timeout=timeout) as response:
            if response.status != 200:
                raise ModerationUnavailable(f"the moderation endpoint answered {response.status}")
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        raise ModerationUnavailable(f"the moderation endpoint failed: {type(exc).__name__}: {exc}") from exc
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != len(texts):
        raise ModerationUnavailable("the moderation endpoint's answer has no result per input")
    return ModerationResult.worst_of(_result(raw, settings) for raw in results)
