"""An OpenAI ``messages`` list as Anthropic's ``system`` and ``messages``.

Anthropic has no system role in the conversation and wants user and assistant turns to alternate,
so the shape changes more than the words:

- ``system`` and ``developer`` messages, wherever they are, become the ``system`` string (joined by
  blank lines, in order);
- ``tool`` messages become ``tool_result`` blocks of a user turn;
- consecutive turns of one role are merged into one (their blocks in order), and in a user turn the
  ``tool_result`` blocks come first, as Anthropic requires;
- empty or whitespace-only text is left out (Anthropic refuses such text blocks), and a turn left
  empty with it.

A single text block is sent as a plain string. Tool call ids are kept, except that characters
Anthropic refuses in an id (it takes ``[A-Za-z0-9_-]``) become ``_`` in both the call and its result.
A call's ``arguments`` are parsed to the ``input`` object Anthropic wants (:mod:`.tool_arguments`:
arguments that are not a JSON object become ``{}`` rather than refusing the whole conversation).
"""

from __future__ import annotations

import re
from typing import Any

from .images import anthropic_image
from .request_fields import list_at, object_at, text_at
from .tool_arguments import arguments_input
from .translation_error import TranslationError

__all__ = ["anthropic_conversation"]

_ID_REFUSED = re.compile(r"[^A-Za-z0-9_-]")
_ROLES = "system, developer, user, assistant or tool"


def anthropic_conversation(messages: object) -> tuple[str, list[dict[str, Any]]]:
    """The ``system`` text ("" for none) and the Anthropic turns of an OpenAI ``messages`` value."""
    items = list_at(messages, "messages")
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for position, item in enumerate(items):
        where = f"messages[{position}]"
        message = object_at(item, where)
        role = message.get("role")
        if role in ("system", "developer"):
            text = _plain_text(message.get("content"), f"{where}.content")
            if text:
                system.append(text)
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), f"{where}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        elif role == "tool":
            role, blocks = "user", [_tool_result(message, where)]
        elif role == "function":
            raise TranslationError(f"{where}: the legacy function role does not translate to an Anthropic target; use tool_calls and tool messages")
        else:
            raise TranslationError(f"{where}.role must be one of {_ROLES}")
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    if not turns:
        raise TranslationError("messages must hold at least one user or assistant message with content for an Anthropic target")
    return "\n\n".join(system), [_turn(role, blocks) for role, blocks in turns]


def _turn(role: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    if role == "user":
        blocks = [b for b in blocks if b["type"] == "tool_result"] + [b for b in blocks if b["type"] != "tool_result"]
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return {"role": role, "content": blocks[0]["text"]}
    return {"role": role, "content": blocks}


def _plain_text(content: object, where: str) -> str:
    """The text of a string or a list of text parts (system, developer and tool messages)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise TranslationError(f"{where} must be a string or a list of text parts")
    texts = []
    for position, part in enumerate(content):
        fields = object_at(part, f"{where}[{position}]")
        if fields.get("type") != "text":
            raise TranslationError(f"{where}[{position}] must be a text part here")
        texts.append(text_at(fields.get("text"), f"{where}[{position}].text"))
    return "\n".join(text for text in texts if text)


def _text_block(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}] if text.strip() else []


def _user_blocks(content: object, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return _text_block(content)
    if not isinstance(content, list):
        raise TranslationError(f"{where} must be a string or a list of content parts")
    blocks: list[dict[str, Any]] = []
    for position, part in enumerate(content):
        at = f"{where}[{position}]"
        fields = object_at(part, at)
        kind = fields.get("type")
        if kind == "text":
            blocks += _text_block(text_at(fields.get("text"), f"{at}.text"))
        elif kind == "image_url":
            image = object_at(fields.get("image_url"), f"{at}.image_url")
            blocks.append(anthropic_image(text_at(image.get("url"), f"{at}.image_url.url"), f"{at}.image_url.url"))
        elif kind in ("input_audio", "file"):
            raise TranslationError(f"{at}: {kind} parts do not translate to an Anthropic target; send text or image_url parts")
        else:
            raise TranslationError(f"{at}.type must be text or image_url")
    return blocks


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    content = message.get("content")
    blocks: list[dict[str, Any]] = []
    if isinstance(content, str):
        blocks += _text_block(content)
    elif isinstance(content, list):
        for position, part in enumerate(content):
            at = f"{where}.content[{position}]"
            fields = object_at(part, at)
            kind = fields.get("type")
            if kind not in ("text", "refusal"):
                raise TranslationError(f"{at}.type must be text or refusal")
            blocks += _text_block(text_at(fields.get(kind), f"{at}.{kind}"))
    elif content is not None:
        raise TranslationError(f"{where}.content must be a string, a list of text parts or null")
    if message.get("function_call") is not None:
        raise TranslationError(f"{where}.function_call: the legacy function_call does not translate to an Anthropic target; use tool_calls")
    calls = message.get("tool_calls")
    if calls is not None:
        for position, call in enumerate(list_at(calls, f"{where}.tool_calls")):
            blocks.append(_tool_use(object_at(call, f"{where}.tool_calls[{position}]"), f"{where}.tool_calls[{position}]"))
    return blocks


def _tool_id(value: object, where: str) -> str:
    text = text_at(value, where)
    if not text:
        raise TranslationError(f"{where} must be a non-empty string")
    return _ID_REFUSED.sub("_", text)


def _tool_use(call: dict[str, Any], where: str) -> dict[str, Any]:
    if call.get("type", "function") != "function":
        raise TranslationError(f"{where}.type must be function for an Anthropic target")
    function = object_at(call.get("function"), f"{where}.function")
    name = text_at(function.get("name"), f"{where}.function.name")
    arguments = function.get("arguments")
    return {"type": "tool_use", "id": _tool_id(call.get("id"), f"{where}.id"), "name": name, "input": _arguments(arguments, f"{where}.function.arguments")}


def _arguments(arguments: object, where: str) -> dict[str, Any]:
    return {} if arguments is None else arguments_input(text_at(arguments, where))


def _tool_result(message: dict[str, Any], where: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": _tool_id(message.get("tool_call_id"), f"{where}.tool_call_id")}
    text = _plain_text(message.get("content"), f"{where}.content")
    if text.strip():
        block["content"] = text
    return block
