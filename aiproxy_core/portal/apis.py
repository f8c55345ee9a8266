"""A tenant's APIs as its consumers may see them: from its rules, what to call and how, nothing more.

Never a target URL, an upstream header, a routing policy or a plugin's settings: those are the
tenant's business (and its credentials). A rule's ``description`` is the tenant's words for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Rule

__all__ = ["PublicApi", "public_apis"]


@dataclass(frozen=True, slots=True)
class PublicApi:
    path: str
    methods: tuple[str, ...] | None
    client_format: str
    description: str | None
    #: Where the try-it console sends a chat request for this API (a guess the user may edit).
    try_path: str

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "methods": list(self.methods) if self.methods is not None else None,
            "client_format": self.client_format,
            "description": self.description,
            "try_path": self.try_path,
        }


def _try_path(rule: Rule) -> str:
    """The chat endpoint under the rule's path: itself when it already names one."""
    ending = "/messages" if rule.client_format == "anthropic" else "/chat/completions"
    path = rule.path.rstrip("/")
    if path.endswith(ending):
        return path
    if path == "":
        return "/v1" + ending
    return path + ending


def public_apis(rules: list[Rule]) -> list[PublicApi]:
    """The rules, shortest path first (the order a reader expects), as consumers see them."""
    return [
        PublicApi(
            path=rule.path,
            methods=tuple(rule.methods) if rule.methods is not None else None,
            client_format=rule.client_format,
            description=rule.description,
            try_path=_try_path(rule),
        )
        for rule in sorted(rules, key=lambda r: r.path)
    ]
