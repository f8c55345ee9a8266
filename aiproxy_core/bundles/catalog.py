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
        Bundle(
            "ai",
            "the AI pipeline: moderation and PII redaction, knowledge bases (RAG), exact and semantic cache (torch, CPU build)",
            ("embeddings", "moderation", "rag", "cache"),
        ),
        Bundle("monetization", "sell an API: plans, metering, usage and quotas, with rate limits", ("billing", "rate_limiter")),
    )
}

#: The plugins that run models on torch (directly, or through ``embeddings``): ``./scripts/run.sh``
#: leaves them out, so a first start downloads no torch; tests/test_install_scripts.py checks this
#: set against each plugin's pyproject.toml.
TORCH_PLUGINS = frozenset({"embeddings", "moderation", "rag", "cache"})

#: Plugins another plugin needs installed first. From the index pip finds them by itself, but from
#: a checkout ``aiproxy-embeddings`` is only a folder, which pip cannot look up by name.
REQUIRES: dict[str, tuple[str, ...]] = {"cache": ("embeddings",), "moderation": ("embeddings",), "rag": ("embeddings",)}

#: Asked for by itself, before the plugins: the CPU build of 2.13.0 is what the AI plugins are
#: tested with, and pinning it first keeps pip's resolver from pulling a multi-GB CUDA build for
#: them. ``$TORCH_INDEX_URL`` (e.g. https://download.pytorch.org/whl/cpu) picks the index it comes from.
TORCH_REQUIREMENT = "torch==2.13.0"


def distribution_name(plugin: str) -> str:
    """``rate_limiter`` is published as ``aiproxy-rate-limiter``."""
    return "aiproxy-" + plugin.replace("_", "-")


def with_requirements(plugins: list[str]) -> list[str]:
    """``plugins`` with what they need (see :data:`REQUIRES`) placed before them, each once."""
    ordered: list[str] = []
    for plugin in plugins:
        for needed in (*REQUIRES.get(plugin, ()), plugin):
            if needed not in ordered:
                ordered.append(needed)
    return ordered
