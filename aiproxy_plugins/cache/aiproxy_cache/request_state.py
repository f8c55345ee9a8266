"""What the cache remembers about one request between its hooks (in ``ctx.state["cache"]``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .capture import StreamCapture
from .keys import RequestKeys
from .opt_out import CachePermission

__all__ = ["STATE_KEY", "RequestState"]

STATE_KEY = "cache"


@dataclass(slots=True)
class RequestState:
    keys: RequestKeys
    permission: CachePermission
    #: Served from the cache: nothing to store afterwards.
    hit: bool = False
    #: The prompt's embedding, computed for the lookup and reused to index the new answer.
    vector: np.ndarray | None = None
    capture: StreamCapture | None = None
    #: The streamed response is not one to cache (error status, not an event stream).
    not_capturing: bool = False
