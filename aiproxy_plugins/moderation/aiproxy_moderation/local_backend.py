"""The offline backend: the profanity model for ``harassment``, embeddings for ``deny_topic``.

Models load once per process, in a worker thread so the event loop keeps serving; after that
the profanity score is cheap enough to compute on the loop, and embeddings run in the shared
embedder's own thread.
"""

from __future__ import annotations

import asyncio
from typing import Sequence

from .deny_topics import topic_similarity
from .profanity_model import ProfanityModel
from .result import ModerationResult
from .settings import DENY_TOPIC_CATEGORY, HARASSMENT, LOCAL_THRESHOLDS, ModerationSettings

__all__ = ["moderate_locally"]


async def _profanity_model() -> ProfanityModel:
    if ProfanityModel.loaded():
        return ProfanityModel.shared()
    return await asyncio.to_thread(ProfanityModel.shared)


def _threshold(settings: ModerationSettings, category: str) -> float:
    found = settings.threshold_for(category)
    return LOCAL_THRESHOLDS[category] if found is None else found


async def moderate_locally(texts: Sequence[str], settings: ModerationSettings) -> ModerationResult:
    categories: dict[str, bool] = {}
    scores: dict[str, float] = {}
    if settings.needs_profanity_model:
        model = await _profanity_model()
        score = max(model.scores(texts), default=0.0)
        scores[HARASSMENT] = score
        categories[HARASSMENT] = score >= _threshold(settings, HARASSMENT)
    if settings.needs_embedder:
        similarity = await topic_similarity(texts, settings)
        scores[DENY_TOPIC_CATEGORY] = similarity
        categories[DENY_TOPIC_CATEGORY] = similarity >= _threshold(settings, DENY_TOPIC_CATEGORY)
    return ModerationResult(categories, scores)
