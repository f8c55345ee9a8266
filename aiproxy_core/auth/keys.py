"""API keys: random, recognizable by their prefix, kept only as SHA-256 plus a display prefix."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timezone

from ..models import ApiKey

KEY_PREFIX = "aip_"
#: How much of a key the Admin API and logs may show: ``aip_`` and 8 random characters.
DISPLAY_LENGTH = len(KEY_PREFIX) + 8


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def display_prefix(raw_key: str) -> str:
    return raw_key[:DISPLAY_LENGTH]


def new_key(
    tenant_id: str,
    consumer_id: str | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiKey]:
    """A fresh key: the raw key (to show once) and the record to store (without it)."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        id="key_" + uuid.uuid4().hex[:16],
        tenant_id=tenant_id,
        consumer_id=consumer_id,
        name=name,
        prefix=display_prefix(raw),
        hash=hash_key(raw),
        created_at=datetime.now(timezone.utc),
        expires_at=expires_at,
    )
    return raw, record
