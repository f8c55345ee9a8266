"""Limits on what a request may ask for: its JSON Schema, the model, the token budget, the messages."""

from __future__ import annotations

from typing import Any

from aiproxy_core import ProxyRequest, openai_shapes
from jsonschema import Draft202012Validator

from .json_schema import short, violations
from .refusals import refused_request

__all__ = [
    "TOKEN_LIMIT_KEYS",
    "check_message_chars",
    "check_message_count",
    "check_model",
    "check_schema",
    "check_token_cap",
    "messages_of",
]

#: OpenAI's names for the completion budget (``max_completion_tokens`` is the newer one).
TOKEN_LIMIT_KEYS = ("max_tokens", "max_completion_tokens")


def check_schema(validator: Draft202012Validator, body: Any) -> None:
    found = violations(validator, body)
    if found is not None:
        best = found.best
        raise refused_request(
            f"the request body does not match this route's schema at {best.json_path}: {short(best.message)}",
            "schema_violation",
            "request_schema",
            violations=found.listed(with_messages=True),
        )


def messages_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat messages (none for a body without ``messages``); a malformed list is refused.

    Refused rather than skipped: limits and guards that cannot read the messages must not let
    them through unread.
    """
    messages = body.get("messages")
    if messages is None:
        return []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise refused_request("'messages' must be a list of message objects", "invalid_body", "messages")
    return messages


def check_model(body: dict[str, Any], allowed: list[str]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or model not in allowed:
        shown = repr(model) if isinstance(model, str) else "no model"
        raise refused_request(
            f"model {shown} is not allowed on this route; allowed: {', '.join(allowed)}",
            "model_not_allowed",
            "allowed_models",
            model=model if isinstance(model, str) else None,
            allowed=allowed,
        )


def check_token_cap(request: ProxyRequest, body: dict[str, Any], cap: int, clamp: bool) -> None:
    """Refuse (or, with ``clamp``, lower to ``cap``) a completion budget above the cap.

    A request that names no budget is left alone; require one with ``request_schema``.
    """
    lowered: dict[str, int] = {}
    for key in TOKEN_LIMIT_KEYS:
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            # A string "99999" might be read as a number by a lenient upstream: refuse, do not skip.
            raise refused_request(f"'{key}' must be an integer", "invalid_max_tokens", "max_tokens_cap", field=key)
        if value > cap:
            if not clamp:
                raise refused_request(
                    f"'{key}' is {value}; this route allows at most {cap}",
                    "max_tokens_exceeded",
                    "max_tokens_cap",
                    field=key,
                    requested=value,
                    cap=cap,
                )
            lowered[key] = cap
    if lowered:
        # A new dict: the parsed body is the core's cached object, not ours to change in place.
        request.set_json({**body, **lowered})


def check_message_count(messages: list[dict[str, Any]], limit: int) -> None:
    if len(messages) > limit:
        raise refused_request(
            f"the request has {len(messages)} messages; this route allows at most {limit}",
            "too_many_messages",
            "max_messages",
            count=len(messages),
            limit=limit,
        )


def check_message_chars(messages: list[dict[str, Any]], limit: int) -> None:
    """Every message counts, whatever its role: a huge system prompt costs as much as a user one."""
    for index, message in enumerate(messages):
        length = len(openai_shapes.content_text(message.get("content")))
        if length > limit:
            raise refused_request(
                f"messages[{index}] has {length} characters of text; this route allows at most {limit} per message",
                "message_too_long",
                "max_message_chars",
                where=f"messages[{index}]",
                length=length,
                limit=limit,
            )
