"""The ``model`` a body names, read cheaply enough for every request's log line and metrics
(:attr:`aiproxy_core.ProxyRequest.model` keeps it for the request)."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["MODEL_BODY_LIMIT", "body_model"]

#: A body is parsed for its ``model`` only up to this size (parsing a big prompt for a log line
#: would cost more than the line is worth); one a hook already parsed is read at any size.
MODEL_BODY_LIMIT = 64 * 1024


def body_model(parsed: Any, body: bytes | None) -> str | None:
    """``model`` of ``parsed`` (a body already parsed, or None), else of ``body`` when it is JSON
    of at most :data:`MODEL_BODY_LIMIT` bytes that names one (traces read answers by it too)."""
    if parsed is None:
        # find(), not `in`: `bytes in bytes` builds and clears a TypeError on 3.11.
        if not body or len(body) > MODEL_BODY_LIMIT or body.find(b'"model"') < 0:
            return None
        try:
            # orjson itself, not json_text.loads: that guards integers past 64 bits, which do not
            # matter for reading one string (and cost as much again as the parse).
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    model = parsed.get("model") if isinstance(parsed, dict) else None
    return model if isinstance(model, str) else None
