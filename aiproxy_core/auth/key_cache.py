"""Checking a presented key: one SHA-256, a dict lookup, and the store only on a cache miss.

Entries stay until a change event drops them (a revoke anywhere reaches every process through the
store's change feed), with a time limit as a safety net should an event ever be lost.
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime, timezone

from ..errors import Unauthorized
from ..models import ApiKey
from ..single_flight import SingleFlight
from ..store import ChangeEvent, Store
from .keys import KEY_PREFIX, hash_key

POSITIVE_TTL = 60.0
NEGATIVE_TTL = 5.0
MAX_ENTRIES = 100_000


class KeyAuthenticator:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}
        # Forgotten on every change event: a lookup that was in flight across one is not cached,
        # since it may have read the key before it was revoked.
        self._loads: SingleFlight[str, ApiKey | None] = SingleFlight()
        store.subscribe(self.on_change)

    def on_change(self, event: ChangeEvent) -> None:
        self._loads.forget()
        if event.kind == "key" and event.key_hash:
            self._cache.pop(event.key_hash, None)
        elif event.kind in ("reset", "tenant"):
            self._cache.clear()

    async def authenticate(self, tenant_id: str, raw_key: str | None) -> ApiKey:
        """The stored key for ``raw_key`` if it is a live key of this tenant; else 401."""
        if not raw_key:
            raise Unauthorized(
                "no API key: send it as 'Authorization: Bearer <key>' or in the 'X-API-Key' header",
                code="missing_api_key",
            )
        if not raw_key.startswith(KEY_PREFIX):
            raise Unauthorized(f"invalid API key: aiproxy keys start with {KEY_PREFIX!r}")
        digest = hash_key(raw_key)
        key = await self._lookup(digest)
        # The lookup is by hash, so no secret-dependent comparison happens above; this compare is
        # constant-time as well, for keys whose record came from elsewhere (e.g. a future cache).
        if key is None or not hmac.compare_digest(key.hash, digest) or key.tenant_id != tenant_id:
            raise Unauthorized("invalid API key for this tenant")
        if key.revoked_at is not None:
            raise Unauthorized("this API key has been revoked", code="revoked_api_key")
        if key.expires_at is not None and key.expires_at <= datetime.now(timezone.utc):
            raise Unauthorized("this API key has expired", code="expired_api_key")
        return key

    async def _lookup(self, digest: str) -> ApiKey | None:
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        key, current = await self._loads.load_current(digest, lambda: self._store.find_key(digest))
        if not current:
            return key
        if len(self._cache) >= MAX_ENTRIES:
            self._cache.clear()
        self._cache[digest] = (key, now + (POSITIVE_TTL if key is not None else NEGATIVE_TTL))
        return key


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a client sent, from ``Authorization: Bearer`` or ``X-API-Key``."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
    return x_api_key.strip() if x_api_key else None
