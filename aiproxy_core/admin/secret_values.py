"""Secrets are write-only in the Admin API: answers show a mask, and a mask sent back keeps the secret.

One policy for every secret the Admin API holds (credential ``upstream_headers`` of a rule, plugin
settings a plugin declares ``SecretStr``, billing's export signing secret): an answer shows
``****`` and the last four characters (enough to tell two secrets apart, too little to use one).
A client that reads an object, changes something else and sends it back as shown keeps the
stored secret; a masked value that is not the mask of what is stored at that place is refused
(422 ``masked_secret``), since storing it would replace the credential with asterisks.
"""

from __future__ import annotations

from ..errors import ValidationFailed

__all__ = ["MASK", "is_masked", "kept_secret", "masked"]

MASK = "****"
#: Shorter secrets show no character of themselves: four of eleven would help a guesser too much.
_SHOW_TAIL_FROM = 12


def masked(value: str) -> str:
    """``****`` plus the last four characters; short values show nothing of themselves."""
    return MASK + value[-4:] if len(value) >= _SHOW_TAIL_FROM else MASK


def is_masked(value: object) -> bool:
    """Whether ``value`` looks like what :func:`masked` shows (a real secret never starts with ``****``)."""
    return isinstance(value, str) and value.startswith(MASK)


def kept_secret(sent: str, stored: object, field: str) -> str:
    """``sent``, or the stored secret when ``sent`` is its mask.

    Raises 422 ``masked_secret`` naming ``field`` for a masked value that masks nothing stored there.
    """
    if not is_masked(sent):
        return sent
    if isinstance(stored, str) and masked(stored) == sent:
        return stored
    raise ValidationFailed(
        f"{field} is a masked value ({sent!r}): send the secret itself, or, to keep the stored one, "
        "send back exactly what the Admin API showed for it",
        code="masked_secret",
        details=[{"field": field, "message": "a masked value that is not the mask of the stored secret"}],
    )
