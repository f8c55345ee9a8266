"""Rules' ``upstream_headers`` that carry credentials are write-only in the Admin API.

A rule's ``upstream_headers`` often hold the origin's own API key (``Authorization: Bearer
sk-...``). Answers show such values masked (see :mod:`.secret_values` for the policy shared with
plugin settings); the gateway still sends the real value upstream.
"""

from __future__ import annotations

from .secret_values import kept_secret, masked

__all__ = ["is_secret_header", "masked", "masked_headers", "with_kept_secrets"]

#: Header names that carry credentials, whole or in part (compared in lower case).
_SECRET_NAMES = {"authorization", "proxy-authorization", "cookie"}
_SECRET_PARTS = ("key", "token", "secret", "password", "auth", "credential", "signature")


def is_secret_header(name: str) -> bool:
    lower = name.lower()
    return lower in _SECRET_NAMES or any(part in lower for part in _SECRET_PARTS)


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: masked(value) if is_secret_header(name) else value for name, value in headers.items()}


def with_kept_secrets(new: dict[str, str], current: dict[str, str] | None = None) -> dict[str, str]:
    """``new`` with masked values of secret headers replaced by the stored ones they mask.

    Raises 422 ``masked_secret`` for a masked value that masks nothing stored under that header.
    """
    stored = {name.lower(): value for name, value in (current or {}).items()}
    return {
        name: kept_secret(value, stored.get(name.lower()), f"upstream_headers.{name}") if is_secret_header(name) else value
        for name, value in new.items()
    }
