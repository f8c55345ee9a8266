"""Why a model stopped, in each API's words.

Anthropic -> OpenAI: ``end_turn``, ``stop_sequence`` and ``pause_turn`` (a server tool paused the
turn; OpenAI has no such state) are ``stop``; ``max_tokens`` and ``model_context_window_exceeded``
are ``length``; ``tool_use`` is ``tool_calls``; ``refusal`` is ``content_filter``.

OpenAI -> Anthropic: ``stop`` is ``end_turn`` (OpenAI does not say whether a stop sequence matched,
so ``stop_sequence`` is never reported); ``length`` is ``max_tokens``; ``tool_calls`` and the
legacy ``function_call`` are ``tool_use``; ``content_filter`` is ``refusal``.
An unknown or missing reason is ``stop`` / ``end_turn``: the answer did end.
"""

from __future__ import annotations

__all__ = ["anthropic_stop_reason", "openai_finish_reason"]

_TO_OPENAI = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def openai_finish_reason(stop_reason: object) -> str:
    return _TO_OPENAI.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def anthropic_stop_reason(finish_reason: object) -> str:
    return _TO_ANTHROPIC.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"
