"""What a moderation result means for one request: which categories block, which are flagged.

Every outcome is written to ``ctx.annotations["moderation"]`` (for billing and analytics events:
categories and scores, never the text); flags also go out as ``X-Moderation-Flagged`` while the
response headers can still change. A block raises the 400 ``content_flagged`` with the categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiproxy_core import BadRequest, RequestContext

from .result import ModerationResult
from .settings import ModerationSettings

__all__ = ["FLAG_HEADER", "PLUGIN_NAME", "Verdict", "apply_verdict", "content_flagged", "judge", "note_flags"]

PLUGIN_NAME = "moderation"
FLAG_HEADER = "X-Moderation-Flagged"
Where = Literal["prompt", "answer"]


@dataclass(frozen=True)
class Verdict:
    blocked: list[str]
    flagged: list[str]


def judge(result: ModerationResult, settings: ModerationSettings) -> Verdict:
    blocked: list[str] = []
    flagged: list[str] = []
    for category in result.flagged_categories:
        action = settings.action_for(category)
        if action == "block":
            blocked.append(category)
        elif action == "flag":
            flagged.append(category)
    return Verdict(blocked, flagged)


def _annotation(ctx: RequestContext) -> dict[str, Any]:
    found = ctx.annotations.get(PLUGIN_NAME)
    if not isinstance(found, dict):
        found = ctx.annotations[PLUGIN_NAME] = {"flagged": []}
    return found


def note_flags(ctx: RequestContext, categories: list[str], *, header: bool) -> None:
    """Record flagged categories; ``header`` False once the response headers have left."""
    annotation = _annotation(ctx)
    merged = sorted(set(annotation["flagged"]) | set(categories))
    annotation["flagged"] = merged
    if header and merged:
        ctx.response_headers[FLAG_HEADER] = ",".join(merged)


def content_flagged(where: Where, categories: list[str], scores: dict[str, float] | None = None) -> BadRequest:
    detail: dict[str, Any] = {"plugin": PLUGIN_NAME, "where": where, "categories": categories}
    if scores:
        detail["category_scores"] = {name: round(scores[name], 4) for name in categories if name in scores}
    return BadRequest(
        f"the {where} was flagged by moderation ({', '.join(categories)})", code="content_flagged", details=[detail]
    )


def apply_verdict(ctx: RequestContext, settings: ModerationSettings, where: Where, result: ModerationResult, *, header: bool = True) -> Verdict:
    """Record the result and its verdict; raise the refusal when a category blocks."""
    verdict = judge(result, settings)
    annotation = _annotation(ctx)
    annotation[where] = {**result.as_dict(), "blocked": verdict.blocked}
    if verdict.flagged:
        note_flags(ctx, verdict.flagged, header=header)
    if verdict.blocked:
        annotation["blocked"] = where
        raise content_flagged(where, verdict.blocked, result.category_scores)
    return verdict
