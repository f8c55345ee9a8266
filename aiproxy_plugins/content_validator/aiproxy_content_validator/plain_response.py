"""Checking a whole (not event-stream) upstream answer: its JSON Schema and the assistant's text.

Only successful answers (2xx) are checked: an upstream error already says what went wrong, and
replacing it with ours would hide that. Rejections name the check and, for the schema, the JSON
paths and keywords that failed, but never quote the rejected content itself.
"""

from __future__ import annotations

import json
from typing import Any

from aiproxy_core import ProxyResponse, openai_shapes

from .json_schema import violations
from .refusals import rejected_response
from .settings import ContentValidatorSettings

__all__ = ["check_plain_response", "read_whole"]

# A marker, not None: a body of JSON ``null`` is JSON and must still meet the schema.
_NOT_JSON: Any = object()


def _answer_texts(response: ProxyResponse, data: Any) -> dict[int, str]:
    """The assistant's text per choice; a plain-text answer is all text, other bodies have none."""
    if data is not _NOT_JSON:
        return openai_shapes.answer_texts(data)
    if response.headers.get("content-type", "").lower().startswith("text/"):
        return {0: (response.body or b"").decode("utf-8", errors="replace")}
    return {}


async def read_whole(response: ProxyResponse, limit: int) -> ProxyResponse:
    """The answer held whole (``ProxyResponse.read_whole``), or 502 ``max_response_bytes`` past ``limit``."""
    whole = await response.read_whole(limit)
    if whole is None:
        raise rejected_response(
            f"the upstream's answer is larger than the {limit} bytes this route can check",
            "max_response_bytes",
            limit=limit,
        )
    return whole


def check_plain_response(response: ProxyResponse, settings: ContentValidatorSettings) -> None:
    body = response.body or b""
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = _NOT_JSON
    validator = settings.response_validator
    if validator is not None:
        if data is _NOT_JSON:
            raise rejected_response(
                "the upstream's answer is not JSON, so it cannot match this route's schema", "response_schema"
            )
        found = violations(validator, data)
        if found is not None:
            raise rejected_response(
                f"the upstream's answer does not match this route's response schema at {found.best.json_path}",
                "response_schema",
                violations=found.listed(with_messages=False),
            )
    if settings.response_deny_patterns:
        for choice, text in _answer_texts(response, data).items():
            for index, pattern in enumerate(settings.response_deny_patterns):
                if pattern.search(text):
                    raise rejected_response(
                        "the upstream's answer matches a pattern this route denies",
                        "response_deny_patterns",
                        choice=choice,
                        pattern_index=index,
                    )

