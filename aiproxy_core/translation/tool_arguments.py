"""A tool call's ``arguments`` (OpenAI: JSON text) as ``input`` (Anthropic: a JSON object).

Arguments that are not a JSON object become ``{}``: a model can write broken or truncated JSON
(cut by ``max_tokens``), and both a request's history and an answer still hold it; refusing the
whole conversation for it, or answering the client with an error, would be worse than an empty
input the tool then rejects. Parsed strictly (:func:`aiproxy_core.json_text.strict_loads`): a lone
surrogate or runaway nesting in the text would make the translated body unwritable.
"""

from __future__ import annotations

from typing import Any

from ..json_text import strict_loads

__all__ = ["arguments_input"]


def arguments_input(arguments: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        parsed = strict_loads(arguments)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
