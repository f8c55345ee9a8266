"""Rules' ``upstream_headers`` that carry credentials are write-only in the Admin API.

A rule's ``upstream_headers`` often hold the origin's own API key (``Authorization: Bearer
sk-...``). Answers show such values masked (``****`` and the last four characters, enough to tell
two keys apart); the gateway still sends the real value upstream. A client that reads a rule,
changes something else and sends it back with ``PUT`` may leave the masked value as it was: the
stored secret is kept. A masked value anywhere else is refused, since storing it would replace
the credential with asterisks.
"""

from __future__ import annotations

from ..errors import ValidationFailed

__all__ = ["is_secret_header", "masked", "masked_headers", "with_kept_secrets"]

MASK = "****"
#: Header names that carry credentials, whole or in part (compared in lower case).
_SECRET_NAMES = {"authorization", "proxy-authorization", "cookie"}
_SECRET_PARTS = ("key", "token", "secret", "password", "auth", "credential", "signature")


def is_secret_header(name: str) -> bool:
    lower = name.lower()
    return lower in _SECRET_NAMES or any(part in lower for part in _SECRET_PARTS)


def masked(value: str) -> str:
    """``****`` plus the last four characters; short values show nothing of themselves."""
    return MASK + value[-4:] if len(value) >= 12 else MASK


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: masked(value) if is_secret_header(name) else value for name, value in headers.items()}


def with_kept_secrets(new: dict[str, str], current: dict[str, str] | None = None) -> dict[str, str]:
    """``new`` with masked values of secret headers replaced by the stored ones they mask.

    Raises 422 ``masked_secret`` for a masked value that masks nothing stored under that header.
    """
    stored = {name.lower(): value for name, value in (current or {}).items()}
    kept: dict[str, str] = {}
    for name, value in new.items():
        if is_secret_header(name) and value.startswith(MASK):
            previous = stored.get(name.lower())
            if previous is None or masked(previous) != value:
                raise ValidationFailed(
                    f"upstream_headers.{name} is a masked value ({value!r}): send the secret itself, or, to keep the "
                    "stored one, send back exactly what the Admin API showed for this rule",
                    code="masked_secret",
                )
            value = previous
        kept[name] = value
    return kept
