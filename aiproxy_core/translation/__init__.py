"""Translation between the OpenAI Chat Completions API and the Anthropic Messages API, both ways,
plain and streamed: pure functions and two stream translators, no I/O.

A client speaks one API and a route's target the other. The gateway translates the request body,
then the target's answer back: a JSON body, an event stream (fed as bytes arrive, cut anywhere), or
an error body.

==========================  ======================================  =====================================
Client -> target            request                                 answer
==========================  ======================================  =====================================
OpenAI -> Anthropic         :func:`anthropic_request`               :func:`openai_response`,
                                                                    :class:`AnthropicToOpenAIStream`,
                                                                    :func:`openai_error_body`
Anthropic -> OpenAI         :func:`openai_request`                  :func:`anthropic_response`,
                                                                    :class:`OpenAIToAnthropicStream`,
                                                                    :func:`anthropic_error_body`
==========================  ======================================  =====================================

Requests are the client's: what is malformed, or cannot be said in the other API without changing
the answer behind the client's back, raises :class:`TranslationError` with a message for the client
(a 400). Answers are the upstream's: they are translated best-effort and never raise.

What does not translate
-----------------------

OpenAI client, Anthropic target (requests; details in ``openai_to_anthropic.DROPPED_FIELDS``):

- refused (400): ``n`` > 1; the legacy ``functions``/``function_call`` and ``function`` role;
  ``input_audio`` and ``file`` content parts; images that are neither base64 data URLs nor
  http(s) URLs; tools other than ``function`` and ``tool_choice`` other than auto / none /
  required / a named function.
- dropped: ``frequency_penalty``, ``presence_penalty``, ``logit_bias``, ``logprobs``,
  ``top_logprobs``, ``seed``, ``response_format`` (no JSON mode or json_schema: the answer is free
  text), ``stream_options`` (usage is always there; the gateway sends it if asked), ``store``,
  ``metadata``, ``service_tier``, ``modalities``, ``audio``, ``prediction``, ``reasoning_effort``
  (no extended thinking), ``verbosity``, ``web_search_options``, ``prompt_cache_key``, message
  ``name``, image ``detail``, tool ``strict``; ``tool_choice`` without tools.
- changed: ``max_tokens`` defaults to 4096 (Anthropic requires one); ``temperature`` above 1 is 1
  (Anthropic's range is 0-1); system and developer messages anywhere become the one ``system``;
  consecutive same-role messages are merged (tool results first in a user turn); empty and
  whitespace-only text parts are left out; tool call ids lose characters outside
  ``[A-Za-z0-9_-]``; tool call arguments that are not a JSON object are sent as ``{}``. A
  ``top_k`` (not OpenAI's, but sent to OpenAI-compatible servers) is passed on.

OpenAI client, Anthropic target (answers): ``thinking`` / ``redacted_thinking`` blocks, server tool
blocks (web search, code execution) and citations are dropped; ``stop_sequence`` does not say which
sequence matched (``finish_reason`` is ``stop``); ``pause_turn`` is ``stop``; ``logprobs`` are null;
cache writes count in ``prompt_tokens`` (and ``prompt_tokens_details.cache_write_tokens``) without
their surcharge.

Anthropic client, OpenAI target (requests; details in ``anthropic_to_openai_request.DROPPED_FIELDS``):

- refused (400): server tools (a ``tools`` entry with a ``type``: web search, bash, ...); content
  blocks other than text, image, document (base64 PDF or plain text), tool_use, tool_result and
  thinking; images from Anthropic's Files API.
- dropped: ``thinking`` (and thinking blocks in the history), ``top_k``, ``service_tier``,
  ``container``, ``mcp_servers``, ``context_management``, ``metadata`` other than ``user_id``,
  ``cache_control``, ``citations``, a tool result's ``is_error`` (its text is kept).
- changed: an assistant turn last in ``messages`` (a prefill) is an earlier assistant message to an
  OpenAI model, which answers after it instead of continuing it; images in a tool result move to
  a user message right after the tool messages; ``max_tokens`` is sent as ``max_tokens`` (OpenAI's
  reasoning models want ``max_completion_tokens``).

Anthropic client, OpenAI target (answers): only the first choice; ``reasoning_content`` and
``logprobs`` are dropped; ``stop`` is ``end_turn`` (never ``stop_sequence``); ``refusal`` text is a
text block; tool call arguments that are not a JSON object become ``input: {}``.

Errors: the upstream's message is kept and its type mapped (``error_bodies``); a body with no
readable message gets a generic one naming the status.
"""

from .anthropic_to_openai import openai_response
from .anthropic_to_openai_request import openai_request
from .anthropic_to_openai_stream import AnthropicToOpenAIStream
from .error_bodies import anthropic_error_body, openai_error_body
from .openai_to_anthropic import DEFAULT_MAX_TOKENS, anthropic_request
from .openai_to_anthropic_response import anthropic_response
from .openai_to_anthropic_stream import OpenAIToAnthropicStream
from .translation_error import TranslationError

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "AnthropicToOpenAIStream",
    "OpenAIToAnthropicStream",
    "TranslationError",
    "anthropic_error_body",
    "anthropic_request",
    "anthropic_response",
    "openai_error_body",
    "openai_request",
    "openai_response",
]
