"""The dashboard's files, read once from the package: the page and its scripts and styles.

Only the files shipped in ``static/`` can be served, looked up by exact name in a table built at
first use, so no request path ever reaches the file system (no traversal to try).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["Asset", "asset", "page"]

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    #: A strong validator, so a browser revalidating (``Cache-Control: no-cache``) gets a 304.
    etag: str


@lru_cache(maxsize=1)
def _assets() -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for entry in resources.files("aiproxy_core.dashboard").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _MEDIA_TYPES:
            body = entry.read_bytes()
            found[entry.name] = Asset(body, _MEDIA_TYPES[suffix], '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return found


def asset(name: str) -> Asset | None:
    """The shipped file ``name`` (``app.js``), or None for anything else."""
    return _assets().get(name)


def page() -> Asset:
    """The page itself: static HTML with no data in it (the scripts fetch everything)."""
    found = asset("index.html")
    assert found is not None, "the dashboard's index.html is missing from the package"
    return found
