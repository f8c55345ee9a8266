"""Rotating a key: a successor with the old one's name, scopes and expiry, and the old one retired.

Shared by the Admin API (a tenant rotating its own or a consumer's key) and the developer portal (a
consumer rotating its own), so both retire keys the same way and every process hears of it through
the store's change feed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..errors import ValidationFailed
from ..models import ApiKey
from ..store import Store
from .keys import new_key

__all__ = ["rotate_stored_key"]


async def rotate_stored_key(store: Store, old: ApiKey, grace_seconds: int = 0) -> tuple[str, ApiKey]:
    """Store a successor of ``old`` and retire ``old`` (at once, or after ``grace_seconds``).

    Returns the successor's raw key (to show once) and its record. 422 ``key_not_live`` when
    ``old`` is already revoked or expired.
    """
    now = datetime.now(timezone.utc)
    if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
        raise ValidationFailed(f"key {old.id} is already revoked or expired; create a new key instead", code="key_not_live")
    raw_key, new = new_key(old.tenant_id, old.consumer_id, name=old.name, expires_at=old.expires_at)
    new = new.model_copy(update={"scopes": old.scopes})
    await store.create_key(new)
    if grace_seconds == 0:
        retired = old.model_copy(update={"revoked_at": now, "replaced_by": new.id})
    else:
        ends = now + timedelta(seconds=grace_seconds)
        if old.expires_at is not None:
            ends = min(ends, old.expires_at)
        retired = old.model_copy(update={"expires_at": ends, "replaced_by": new.id})
    await store.update_key(retired)
    return raw_key, new
