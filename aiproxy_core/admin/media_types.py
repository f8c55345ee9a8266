"""Which request bodies the Admin API reads: JSON everywhere, files only where a route takes them.

A web page may POST ``text/plain``, ``application/x-www-form-urlencoded`` and
``multipart/form-data`` to any origin without a CORS preflight, so accepting any of them would let
a page drive the Admin API from a browser. ``application/json`` needs a preflight, which only the
origins in ``server.admin_cors_origins`` pass.
"""

from __future__ import annotations

__all__ = ["is_json", "media_type"]

_JSON = "application/json"


def _parts(value: str) -> tuple[str, dict[str, str]]:
    kind, *params = value.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        name, _, param_value = param.partition("=")
        parsed[name.strip().lower()] = param_value.strip().strip('"').lower()
    return kind.strip().lower(), parsed


def media_type(value: str) -> str:
    """``Text/Plain; charset=x`` -> ``text/plain``."""
    return _parts(value)[0]


def is_json(value: str) -> bool:
    """``application/json``, with no parameter but ``charset=utf-8`` (JSON is UTF-8, RFC 8259)."""
    kind, params = _parts(value)
    return kind == _JSON and all(name == "charset" and v in ("utf-8", "utf8") for name, v in params.items())
