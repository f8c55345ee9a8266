"""Loading models at startup, before the first request waits for them, if any entry needs them.

The gateway calls ``startup`` once per process; chains saved later load the models on their
first request instead (in a worker thread: the event loop keeps serving meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
from pydantic import ValidationError

from aiproxy_core import GatewayServices

from .profanity_model import ProfanityModel
from .settings import ModerationSettings

__all__ = ["warm_up"]

logger = logging.getLogger("aiproxy.moderation")


async def _saved_settings(services: GatewayServices) -> list[ModerationSettings]:
    found: list[ModerationSettings] = []
    for entry in await services.chain_entries("moderation"):
        try:
            found.append(ModerationSettings.model_validate(entry.settings))
        except ValidationError:
            continue  # the core refuses such a chain when it compiles it, and says why
    return found


async def warm_up(services: GatewayServices) -> None:
    saved = await _saved_settings(services)
    if any(settings.needs_profanity_model for settings in saved):
        await asyncio.to_thread(ProfanityModel.shared)
        logger.info("moderation: profanity model loaded")
    if any(settings.needs_embedder for settings in saved):
        from aiproxy_embeddings import Embedder

        await Embedder.shared().warm_up()
        logger.info("moderation: embedding model loaded")
