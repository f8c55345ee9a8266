"""The prompt's turn (``pre_request``): PII first, then moderation of what is left.

PII is handled first so that a remote moderation endpoint never sees what was redacted. PII is
looked for in messages of every role (a system prompt can carry a customer's email too), while
moderation reads only the user's words.
"""

from __future__ import annotations

from aiproxy_core import RequestContext, openai_shapes

from .backend import moderate
from .message_text import rewrite_prompts
from .pii_detector import find_pii
from .request_state import state_of
from .settings import PII_CATEGORY, ModerationSettings
from .verdicts import PLUGIN_NAME, apply_verdict, content_flagged, note_flags

__all__ = ["check_prompt"]


def _handle_pii(ctx: RequestContext, body: dict, settings: ModerationSettings) -> None:
    action = settings.action_for(PII_CATEGORY)
    types, custom = settings.pii_types, settings.custom_pii
    if action == "redact":
        vault = state_of(ctx).vault
        rewrite_prompts(body, lambda text: vault.redact(text, types, custom))
        if vault.originals:
            ctx.request.set_json(body)
            ctx.annotations.setdefault(PLUGIN_NAME, {"flagged": []})["pii_redacted"] = vault.counts
        return
    found: list[str] = []

    def collect(text: str) -> str:
        found.extend(span.type for span in find_pii(text, types, custom))
        return text

    rewrite_prompts(body, collect)  # finds only: the body is not set again, so it is sent as it came
    if not found:
        return
    if action == "block":
        raise content_flagged("prompt", [PII_CATEGORY])
    note_flags(ctx, [PII_CATEGORY], header=True)


async def check_prompt(ctx: RequestContext, settings: ModerationSettings) -> None:
    checks = settings.check_prompt and settings.moderates
    if not (checks or settings.checks_pii) or not ctx.request.body:
        return
    body = ctx.request.json  # a body that is not JSON is a 400 invalid_json from the core
    if not isinstance(body, dict):
        return
    if settings.checks_pii:
        _handle_pii(ctx, body, settings)
    if checks:
        texts = [text for _, text in openai_shapes.prompt_texts(body) if text.strip()]
        if texts:
            apply_verdict(ctx, settings, "prompt", await moderate(texts, settings))
