"""Anthropic's ``system`` and ``messages`` as an OpenAI ``messages`` list.

- ``system`` (a string or text blocks) becomes one leading ``system`` message.
- A user turn's ``tool_result`` blocks become ``tool`` messages, placed before what else the turn
  holds (OpenAI wants the tool answers right after the assistant's calls); the rest of the turn
  follows as one user message. OpenAI tool messages hold text only: images in a tool result are
  moved to that following user message, and ``is_error`` is lost (the text stays).
- An assistant turn's ``tool_use`` blocks become ``tool_calls`` (``input`` written as the JSON
  ``arguments`` text), its text blocks the ``content``; ``thinking`` and ``redacted_thinking``
  blocks are dropped (an OpenAI model cannot read Claude's thinking).
- Images become ``image_url`` parts (base64 as a data URL); a PDF ``document`` becomes a ``file``
  part with its data URL, a plain-text ``document`` a text part.

Text blocks joined into one string are joined by a newline. A turn of a single text block is sent
as a plain string (what every OpenAI-compatible server reads), several parts as a list.
``cache_control`` and ``citations`` on any block are dropped.
"""

from __future__ import annotations

from typing import Any

from .images import openai_image_url
from .json_output import json_text
from .request_fields import list_at, object_at, text_at
from .translation_error import TranslationError

__all__ = ["openai_conversation"]

#: A tuple, not a set: a block type can be any JSON value, and a list or object is unhashable.
_DROPPED_BLOCKS = ("thinking", "redacted_thinking")


def openai_conversation(system: object, messages: object) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    system_text = _system_text(system)
    if system_text:
        out.append({"role": "system", "content": system_text})
    for position, item in enumerate(list_at(messages, "messages")):
        where = f"messages[{position}]"
        message = object_at(item, where)
        role = message.get("role")
        blocks = _blocks(message.get("content"), f"{where}.content")
        if role == "user":
            out += _user_messages(blocks, f"{where}.content")
        elif role == "assistant":
            out += _assistant_message(blocks, f"{where}.content")
        else:
            raise TranslationError(f"{where}.role must be user or assistant")
    if not out:
        raise TranslationError("messages must hold at least one message")
    return out


def _blocks(content: object, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise TranslationError(f"{where} must be a string or a list of content blocks")
    return [object_at(block, f"{where}[{position}]") for position, block in enumerate(content)]


def _system_text(system: object) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if not isinstance(system, list):
        raise TranslationError("system must be a string or a list of text blocks")
    texts = []
    for position, block in enumerate(system):
        fields = object_at(block, f"system[{position}]")
        if fields.get("type") != "text":
            raise TranslationError(f"system[{position}] must be a text block")
        texts.append(text_at(fields.get("text"), f"system[{position}].text"))
    return "\n".join(text for text in texts if text)


def _content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _user_messages(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for position, block in enumerate(blocks):
        at = f"{where}[{position}]"
        if block.get("type") == "tool_result":
            text, images = _tool_result_content(block.get("content"), f"{at}.content")
            tool_use_id = text_at(block.get("tool_use_id"), f"{at}.tool_use_id")
            tools.append({"role": "tool", "tool_call_id": tool_use_id, "content": text})
            parts += images
        else:
            parts += _user_part(block, at)
    if parts:
        tools.append({"role": "user", "content": _content(parts)})
    return tools


def _user_part(block: dict[str, Any], where: str) -> list[dict[str, Any]]:
    kind = block.get("type")
    if kind == "text":
        text = text_at(block.get("text"), f"{where}.text")
        return [{"type": "text", "text": text}] if text else []
    if kind == "image":
        url = openai_image_url(object_at(block.get("source"), f"{where}.source"), f"{where}.source")
        return [{"type": "image_url", "image_url": {"url": url}}]
    if kind == "document":
        return [_document(object_at(block.get("source"), f"{where}.source"), block.get("title"), f"{where}.source")]
    if kind in _DROPPED_BLOCKS:
        return []
    raise TranslationError(f"{where}.type {kind!r} does not translate to an OpenAI target; send text, image, document or tool_result blocks")


def _document(source: dict[str, Any], title: object, where: str) -> dict[str, Any]:
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": text_at(source.get("data"), f"{where}.data")}
    if kind == "base64" and source.get("media_type") == "application/pdf":
        data = text_at(source.get("data"), f"{where}.data")
        filename = title if isinstance(title, str) and title else "document.pdf"
        return {"type": "file", "file": {"filename": filename, "file_data": f"data:application/pdf;base64,{data}"}}
    raise TranslationError(f"{where}: only base64 PDF and plain-text documents translate to an OpenAI target")


def _tool_result_content(content: object, where: str) -> tuple[str, list[dict[str, Any]]]:
    """A tool result's text, and its images (which go to the user message after the tool messages)."""
    if content is None:
        return "", []
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for position, block in enumerate(_blocks(content, where)):
        at = f"{where}[{position}]"
        part = _user_part(block, at)
        for item in part:
            if item["type"] == "text":
                texts.append(str(item["text"]))
            else:
                images.append(item)
    return "\n".join(texts), images


def _assistant_message(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for position, block in enumerate(blocks):
        at = f"{where}[{position}]"
        kind = block.get("type")
        if kind == "text":
            texts.append(text_at(block.get("text"), f"{at}.text"))
        elif kind == "tool_use":
            tool_input = block.get("input", {})
            if not isinstance(tool_input, dict):
                raise TranslationError(f"{at}.input must be a JSON object")
            arguments = json_text(tool_input, fallback="")
            if not arguments:
                raise TranslationError(f"{at}.input is nested too deeply to pass on; flatten it")
            calls.append({
                "id": text_at(block.get("id"), f"{at}.id"),
                "type": "function",
                "function": {"name": text_at(block.get("name"), f"{at}.name"), "arguments": arguments},
            })
        elif kind not in _DROPPED_BLOCKS:
            raise TranslationError(f"{at}.type {kind!r} does not translate to an OpenAI target; send text or tool_use blocks")
    text = "\n".join(t for t in texts if t)
    if not text and not calls:
        return []
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return [message]
