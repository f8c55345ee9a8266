"""A request from an OpenAI client (``/chat/completions``) for an Anthropic upstream (``/v1/messages``).

What translates: the conversation (:mod:`.openai_messages_to_anthropic`), ``model`` (replaced by
the target's model when it names one), ``max_tokens``/``max_completion_tokens``, ``temperature``,
``top_p``, ``top_k`` (not OpenAI's, but sent by clients of OpenAI-compatible servers), ``stop``, ``stream``, ``tools``, ``tool_choice``, ``parallel_tool_calls`` and ``user``
(or ``safety_identifier``) as ``metadata.user_id``.

Choices made where the APIs differ:

- Anthropic requires ``max_tokens``; OpenAI does not. Without one the request asks for
  :data:`DEFAULT_MAX_TOKENS` (4096, which every Claude model can produce).
- OpenAI's ``temperature`` goes to 2, Anthropic's to 1: above 1 is sent as 1.
- ``n`` above 1 is refused (:class:`TranslationError`): Anthropic answers with one message, and
  silently answering one of several asked choices would break the client.
- The fields in :data:`DROPPED_FIELDS` have no Anthropic counterpart and are left out, as is any
  field this module does not know (Anthropic refuses unknown fields); what :data:`REFUSED` lists
  is a 400 instead, since dropping it would change the answer behind the client's back.
"""

from __future__ import annotations

from typing import Any

from .openai_messages_to_anthropic import anthropic_conversation
from .request_fields import list_at, number_at, object_at, optional_text_at, positive_int_at, text_at
from .translation_error import TranslationError

__all__ = ["DEFAULT_MAX_TOKENS", "DROPPED_FIELDS", "REFUSED", "anthropic_request"]

DEFAULT_MAX_TOKENS = 4096

#: OpenAI request fields that are dropped on the way to Anthropic, and why.
DROPPED_FIELDS = {
    "frequency_penalty": "Anthropic has no repetition penalties",
    "presence_penalty": "Anthropic has no repetition penalties",
    "logit_bias": "Anthropic cannot bias tokens",
    "logprobs": "Anthropic returns no log probabilities (the answer's logprobs are null)",
    "top_logprobs": "Anthropic returns no log probabilities",
    "seed": "Anthropic has no deterministic sampling",
    "response_format": "Anthropic has no JSON mode or json_schema output here: ask for JSON in the prompt or use a tool",
    "stream_options": "an Anthropic stream always reports usage; the gateway passes it on as asked",
    "n": "n=1 only (above 1 is refused)",
    "store": "OpenAI's stored completions",
    "metadata": "OpenAI's stored-completion tags (Anthropic's metadata takes only user_id, from user)",
    "service_tier": "the tiers differ between the providers",
    "modalities": "Anthropic answers in text only",
    "audio": "Anthropic answers in text only",
    "prediction": "Anthropic has no predicted outputs",
    "reasoning_effort": "Claude's extended thinking takes a token budget, not an effort; not enabled",
    "verbosity": "no Anthropic counterpart",
    "web_search_options": "Anthropic's web search is a server tool, not an option",
    "prompt_cache_key": "Anthropic caches by cache_control breakpoints, which OpenAI requests do not carry",
    "prompt_cache_retention": "Anthropic caches by cache_control breakpoints",
    "messages[].name": "Anthropic messages have no participant names",
    "image_url.detail": "Anthropic chooses the image resolution itself",
    "tools[].function.strict": "Anthropic has no strict schema mode for tools",
    "tool_choice (without tools)": "Anthropic takes a tool choice only with tools",
}

#: What is refused with a :class:`TranslationError` rather than dropped: leaving it out would
#: change the answer the client gets in a way it cannot see.
REFUSED = {
    "n > 1": "Anthropic answers with one message",
    "functions, function_call, role function": "the legacy function calling; use tools",
    "input_audio and file content parts": "no Anthropic counterpart here; send text or images",
    "data: image URLs not in base64, non-http(s) image URLs": "Anthropic takes base64 or http(s) images",
    "tools of a type other than function, tool_choice allowed_tools/custom": "no Anthropic counterpart",
}

_TOOL_CHOICES = {"auto": "auto", "none": "none", "required": "any"}


def anthropic_request(body: dict[str, Any], *, model: str | None) -> dict[str, Any]:
    """The Anthropic Messages request for an OpenAI chat completion request ``body``.

    ``model`` replaces the body's model when given (a target's model). Raises
    :class:`TranslationError` for a request that is malformed or asks for what cannot translate.
    """
    body = object_at(body, "the request body")
    for legacy in ("functions", "function_call"):
        if body.get(legacy) is not None:
            raise TranslationError(f"{legacy}: the legacy function calling fields do not translate to an Anthropic target; use tools and tool_choice")
    _check_n(body.get("n"))
    system, messages = anthropic_conversation(body.get("messages"))
    out: dict[str, Any] = {"model": _model(body, model), "max_tokens": _max_tokens(body), "messages": messages}
    if system:
        out["system"] = system
    temperature = body.get("temperature")
    if temperature is not None:
        out["temperature"] = min(number_at(temperature, "temperature"), 1)
    if body.get("top_p") is not None:
        out["top_p"] = number_at(body["top_p"], "top_p")
    if body.get("top_k") is not None:  # not OpenAI's, but OpenAI-style clients of vLLM send it
        out["top_k"] = positive_int_at(body["top_k"], "top_k")
    stop = _stop(body.get("stop"))
    if stop:
        out["stop_sequences"] = stop
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise TranslationError("stream must be true or false")
    if stream:
        out["stream"] = True
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    user = optional_text_at(body.get("user"), "user") or optional_text_at(body.get("safety_identifier"), "safety_identifier")
    if user:
        out["metadata"] = {"user_id": user}
    return out


def _check_n(n: object) -> None:
    if n is None:
        return
    if positive_int_at(n, "n") > 1:
        raise TranslationError("n: this route's upstream (Anthropic) answers with one choice per request; send n=1 or leave n out, and send several requests for several answers")


def _model(body: dict[str, Any], model: str | None) -> str:
    if model:
        return model
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise TranslationError("model must be a non-empty string")
    return name


def _max_tokens(body: dict[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            return positive_int_at(body[key], key)
    return DEFAULT_MAX_TOKENS


def _stop(stop: object) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    return [text_at(item, f"stop[{position}]") for position, item in enumerate(list_at(stop, "stop (a string or a list of strings)"))]


def _tools(tools: object) -> list[dict[str, Any]]:
    if tools is None:
        return []
    out = []
    for position, item in enumerate(list_at(tools, "tools")):
        where = f"tools[{position}]"
        tool = object_at(item, where)
        if tool.get("type", "function") != "function":
            raise TranslationError(f"{where}.type must be function for an Anthropic target")
        function = object_at(tool.get("function"), f"{where}.function")
        translated: dict[str, Any] = {"name": text_at(function.get("name"), f"{where}.function.name")}
        description = optional_text_at(function.get("description"), f"{where}.function.description")
        if description:
            translated["description"] = description
        parameters = function.get("parameters")
        translated["input_schema"] = {"type": "object", "properties": {}} if parameters is None else object_at(parameters, f"{where}.function.parameters")
        out.append(translated)
    return out


def _tool_choice(choice: object, parallel: object) -> dict[str, Any] | None:
    """Anthropic's ``tool_choice``; ``parallel_tool_calls: false`` is its ``disable_parallel_tool_use``."""
    if parallel is not None and not isinstance(parallel, bool):
        raise TranslationError("parallel_tool_calls must be true or false")
    translated: dict[str, Any] | None
    if choice is None:
        translated = None
    elif isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise TranslationError("tool_choice must be auto, none, required or a function choice")
        translated = {"type": _TOOL_CHOICES[choice]}
    else:
        fields = object_at(choice, "tool_choice")
        if fields.get("type") != "function":
            raise TranslationError('tool_choice must be auto, none, required or {"type": "function", "function": {"name": ...}} for an Anthropic target')
        function = object_at(fields.get("function"), "tool_choice.function")
        translated = {"type": "tool", "name": text_at(function.get("name"), "tool_choice.function.name")}
    if parallel is False and (translated is None or translated["type"] != "none"):
        translated = {**(translated or {"type": "auto"}), "disable_parallel_tool_use": True}
    return translated
