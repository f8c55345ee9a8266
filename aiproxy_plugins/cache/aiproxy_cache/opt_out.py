"""What the client's ``Cache-Control`` request header allows the cache to do."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CachePermission", "permission_of"]


@dataclass(frozen=True, slots=True)
class CachePermission:
    lookup: bool
    store: bool


_ALL = CachePermission(lookup=True, store=True)


def permission_of(cache_control: str | None) -> CachePermission:
    """``no-cache``: neither serve from nor write to the cache; ``no-store``: serve, never write.

    ``no-cache`` also skips storing (stricter than HTTP, where it only forces revalidation): a
    client that refuses a cached answer usually wants a fresh one not to be shared either.
    """
    if not cache_control:
        return _ALL
    directives = {part.split("=", 1)[0].strip().lower() for part in cache_control.split(",")}
    if "no-cache" in directives:
        return CachePermission(lookup=False, store=False)
    if "no-store" in directives:
        return CachePermission(lookup=True, store=False)
    return _ALL
