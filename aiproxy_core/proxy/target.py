"""Where a matched request goes: the rule's ``target`` plus the rest of the path."""

from __future__ import annotations

from ..models import Rule


def upstream_url(rule: Rule, path: str) -> str:
    """Join ``target`` and the request path the way Kong does.

    ``strip_path`` true: the matched rule path is cut and the rest appended to the target's path
    (``/v1/chat`` + target ``http://up/api`` + request ``/v1/chat/completions`` ->
    ``http://up/api/completions``). False: the whole request path is appended.
    """
    target = str(rule.target)
    scheme, _, rest = target.partition("://")
    authority, slash, base = rest.partition("/")
    base = "/" + base if slash else ""
    remainder = path
    if rule.strip_path and rule.path != "/":
        remainder = path[len(rule.path):]
    if not remainder:
        joined = base or "/"
    elif base.endswith("/"):
        joined = base + remainder.lstrip("/")
    else:
        joined = base + remainder
    return f"{scheme}://{authority}{joined}"
