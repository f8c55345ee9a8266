"""Images between OpenAI's ``image_url`` parts and Anthropic's ``image`` blocks.

OpenAI carries an image as one URL: a ``data:<type>;base64,<data>`` URL or a web address. Anthropic
has a source object: ``base64`` (media type and data apart) or ``url``. Both kinds translate both
ways; anything else (a data URL that is not base64, an ``ftp:`` URL, Anthropic's ``file`` source,
which names a file in Anthropic's Files API) has no counterpart and is refused with the reason.
"""

from __future__ import annotations

from typing import Any

from .request_fields import text_at
from .translation_error import TranslationError

__all__ = ["anthropic_image", "openai_image_url"]


def anthropic_image(url: str, where: str) -> dict[str, Any]:
    """The Anthropic image block for an OpenAI image URL."""
    if url[:5].lower() == "data:":
        header, comma, data = url[5:].partition(",")
        kind, _, encoding = header.partition(";")
        if not comma or encoding.split(";")[-1].lower() != "base64" or not kind:
            raise TranslationError(
                f"{where}: an Anthropic target takes an inline image only as a base64 data URL "
                "(data:image/png;base64,...); encode the image in base64 or send an http(s) URL"
            )
        return {"type": "image", "source": {"type": "base64", "media_type": kind.lower(), "data": data}}
    if url[:7].lower() == "http://" or url[:8].lower() == "https://":
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise TranslationError(f"{where} must be an http(s) URL or a base64 data URL (data:image/png;base64,...)")


def openai_image_url(source: dict[str, Any], where: str) -> str:
    """The OpenAI image URL for an Anthropic image source."""
    kind = source.get("type")
    if kind == "base64":
        media_type = text_at(source.get("media_type"), f"{where}.media_type")
        data = text_at(source.get("data"), f"{where}.data")
        return f"data:{media_type};base64,{data}"
    if kind == "url":
        return text_at(source.get("url"), f"{where}.url")
    raise TranslationError(
        f"{where}.type must be base64 or url for an OpenAI target (Anthropic Files API images cannot be passed on); "
        "send the image inline or by URL"
    )
