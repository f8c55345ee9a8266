"""Which requests are cacheable, and the keys their answers are stored under.

Two hashes per request, both over canonical JSON (sorted keys, no spaces), so field order and
whitespace never split the cache:

* the **exact key**: rule, method, path, query and the whole body minus :data:`IGNORED_FIELDS`;
* the **scope**: the same, with the last user message's content blanked. Semantic matches are
  searched only among answers with the same scope, so everything but that message (model,
  temperature, system prompt, earlier turns, tools, ...) must be identical.

The tenant is not hashed in: it is the namespace the stores put every key under.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aiproxy_core import openai_shapes

__all__ = ["IGNORED_FIELDS", "RequestKeys", "request_keys"]

#: Body fields that do not change the answer. ``stream``/``stream_options`` only change its
#: framing (a streamed request is served from a plain answer and vice versa); ``user``,
#: ``metadata`` and ``store`` are bookkeeping for the provider, not inputs to the model.
IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", "store"})


@dataclass(frozen=True, slots=True)
class RequestKeys:
    exact: str
    scope: str
    #: The last user message's text, for semantic search; None when it has none (e.g. images).
    prompt: str | None
    streamed: bool


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _text_of(content: Any) -> str | None:
    """The prompt's text when it is all text; None when a part is not (an image's meaning is not
    in the text, so the answer cannot be found by the text's meaning)."""
    if isinstance(content, str):
        return content
    texts = openai_shapes.content_texts(content)
    if isinstance(content, list) and texts and len(texts) == len(content):
        return "\n".join(texts)
    return None


def request_keys(rule_id: str, method: str, path: str, query: str, body: Any) -> RequestKeys | None:
    """The keys of a cacheable chat completion request; None when it is not one.

    Only a single answer is cached (the normalized entry has one message), so ``n`` other than 1
    is not cacheable.
    """
    if method != "POST" or not isinstance(body, dict):
        return None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return None
    if body.get("n", 1) != 1:
        return None
    relevant = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    where = [rule_id, path, query]
    exact = _digest([*where, relevant])
    last_user = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), None)
    prompt = None if last_user is None else _text_of(messages[last_user].get("content"))
    if prompt is None:
        scope = exact  # nothing to match semantically: the scope holds this request alone
    else:
        blanked = list(messages)
        blanked[last_user] = {**messages[last_user], "content": None}
        scope = _digest([*where, {**relevant, "messages": blanked}])
    return RequestKeys(exact=exact, scope=scope, prompt=prompt, streamed=body.get("stream") is True)
