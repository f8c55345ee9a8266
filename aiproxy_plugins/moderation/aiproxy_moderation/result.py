"""A moderation result in OpenAI's shape (``flagged``, ``categories``, ``category_scores``),
whichever backend produced it, so policies and clients read one format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

__all__ = ["ModerationResult"]


@dataclass(frozen=True)
class ModerationResult:
    categories: dict[str, bool] = field(default_factory=dict)
    category_scores: dict[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return any(self.categories.values())

    @property
    def flagged_categories(self) -> list[str]:
        return sorted(name for name, hit in self.categories.items() if hit)

    def as_dict(self) -> dict[str, Any]:
        return {"flagged": self.flagged, "categories": self.categories, "category_scores": self.category_scores}

    @classmethod
    def worst_of(cls, results: Iterable["ModerationResult"]) -> "ModerationResult":
        """Several texts' results as one: a category is hit if any text hits it, at its top score."""
        categories: dict[str, bool] = {}
        scores: dict[str, float] = {}
        for result in results:
            for name, hit in result.categories.items():
                categories[name] = categories.get(name, False) or hit
            for name, score in result.category_scores.items():
                scores[name] = max(scores.get(name, 0.0), score)
        return cls(categories, scores)
