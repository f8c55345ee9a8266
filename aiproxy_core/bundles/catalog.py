"""Named sets of plugins an operator installs with one command (``aiproxy install --bundle NAME``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bundle:
    name: str
    description: str
    plugins: tuple[str, ...]


BUNDLES: dict[str, Bundle] = {
    b.name: b
    for b in (
        Bundle("traffic", "protect the upstream: rate limits, quotas and request security checks", ("rate_limiter", "security_validator")),
        Bundle("validation", "keep requests and answers in shape: schemas, model and token caps, prompt guard", ("content_validator",)),
        Bundle("seed", "the three plugins of the original AI Gateway", ("rate_limiter", "security_validator", "content_validator")),
        Bundle("ai", "the AI pipeline: moderation and PII redaction, knowledge bases (RAG), exact and semantic cache", ("moderation", "rag", "cache")),
        Bundle("monetization", "sell an API: plans, metering, usage and quotas, with rate limits", ("billing", "rate_limiter")),
    )
}


def distribution_name(plugin: str) -> str:
    """``rate_limiter`` is published as ``aiproxy-rate-limiter``."""
    return "aiproxy-" + plugin.replace("_", "-")
