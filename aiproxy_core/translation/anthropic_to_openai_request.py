"""A request from an Anthropic client (``/v1/messages``) for an OpenAI upstream (``/chat/completions``).

What translates: the conversation and ``system`` (:mod:`.anthropic_messages_to_openai`), ``model``
(replaced by the target's model when it names one), ``max_tokens``, ``temperature``, ``top_p``,
``stop_sequences`` as ``stop``, ``metadata.user_id`` as ``user``, ``tools``, ``tool_choice``
(``disable_parallel_tool_use`` as ``parallel_tool_calls: false``) and ``stream``.

A stream asks for ``stream_options: {"include_usage": true}``: an Anthropic stream always ends
with its usage, and an OpenAI stream has it only when asked.

The fields in :data:`DROPPED_FIELDS` have no OpenAI counterpart and are left out, as is any field
this module does not know.
"""

from __future__ import annotations

from typing import Any

from .anthropic_messages_to_openai import openai_conversation
from .request_fields import list_at, number_at, object_at, optional_text_at, positive_int_at, text_at
from .translation_error import TranslationError

__all__ = ["DROPPED_FIELDS", "openai_request"]

#: Anthropic request fields that are dropped on the way to OpenAI, and why.
DROPPED_FIELDS = {
    "thinking": "extended thinking is Claude's; an OpenAI model reasons (or not) on its own terms",
    "top_k": "OpenAI has no top-k sampling",
    "service_tier": "the tiers differ between the providers",
    "container": "Anthropic's code execution containers",
    "mcp_servers": "Anthropic's remote MCP connector",
    "context_management": "Anthropic's context editing",
    "metadata (except user_id)": "OpenAI takes only the user",
    "cache_control": "OpenAI caches prompts automatically",
    "citations": "no OpenAI counterpart",
    "thinking and redacted_thinking blocks": "an OpenAI model cannot read Claude's thinking",
    "tool_result is_error": "OpenAI tool messages carry no error flag (the text is kept)",
}

_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def openai_request(body: dict[str, Any], *, model: str | None) -> dict[str, Any]:
    """The OpenAI chat completion request for an Anthropic Messages request ``body``.

    ``model`` replaces the body's model when given (a target's model). Raises
    :class:`TranslationError` for a request that is malformed or asks for what cannot translate.
    """
    body = object_at(body, "the request body")
    out: dict[str, Any] = {"model": _model(body, model), "messages": openai_conversation(body.get("system"), body.get("messages"))}
    if body.get("max_tokens") is not None:
        out["max_tokens"] = positive_int_at(body["max_tokens"], "max_tokens")
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = number_at(body[key], key)
    stops = body.get("stop_sequences")
    if stops is not None:
        stop = [text_at(item, f"stop_sequences[{position}]") for position, item in enumerate(list_at(stops, "stop_sequences"))]
        if stop:
            out["stop"] = stop
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise TranslationError("stream must be true or false")
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        out.update(_tool_choice(body.get("tool_choice")))
    metadata = body.get("metadata")
    if metadata is not None:
        user = optional_text_at(object_at(metadata, "metadata").get("user_id"), "metadata.user_id")
        if user:
            out["user"] = user
    return out


def _model(body: dict[str, Any], model: str | None) -> str:
    if model:
        return model
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise TranslationError("model must be a non-empty string")
    return name


def _tools(tools: object) -> list[dict[str, Any]]:
    if tools is None:
        return []
    out = []
    for position, item in enumerate(list_at(tools, "tools")):
        where = f"tools[{position}]"
        tool = object_at(item, where)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            raise TranslationError(f"{where}: {kind!r} is an Anthropic server tool, which an OpenAI target does not have; send custom tools (name, description, input_schema)")
        function: dict[str, Any] = {"name": text_at(tool.get("name"), f"{where}.name")}
        description = optional_text_at(tool.get("description"), f"{where}.description")
        if description:
            function["description"] = description
        function["parameters"] = object_at(tool.get("input_schema"), f"{where}.input_schema")
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: object) -> dict[str, Any]:
    """``tool_choice`` and ``parallel_tool_calls`` for Anthropic's ``tool_choice`` object."""
    if choice is None:
        return {}
    fields = object_at(choice, "tool_choice")
    kind = fields.get("type")
    out: dict[str, Any] = {}
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": text_at(fields.get("name"), "tool_choice.name")}}
    elif isinstance(kind, str) and kind in _TOOL_CHOICES:
        out["tool_choice"] = _TOOL_CHOICES[kind]
    else:
        raise TranslationError("tool_choice.type must be auto, any, tool or none")
    disable = fields.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise TranslationError("tool_choice.disable_parallel_tool_use must be true or false")
    if disable and kind != "none":
        out["parallel_tool_calls"] = False
    return out
