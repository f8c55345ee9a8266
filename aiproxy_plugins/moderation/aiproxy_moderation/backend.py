"""One entry point for both backends: texts in, one OpenAI-shaped result out."""

from __future__ import annotations

from typing import Sequence

from .local_backend import moderate_locally
from .remote_backend import moderate_remotely
from .result import ModerationResult
from .settings import ModerationSettings

__all__ = ["moderate"]


async def moderate(texts: Sequence[str], settings: ModerationSettings) -> ModerationResult:
    if not texts:
        return ModerationResult()
    if settings.backend == "remote":
        return await moderate_remotely(texts, settings)
    return await moderate_locally(texts, settings)
