"""Where a matched request goes: the rule's ``target`` plus the rest of the path, and the query."""

from __future__ import annotations

from urllib.parse import quote

from ..models import Rule
from .request_path import RequestPath

__all__ = ["UpstreamTarget", "upstream_url"]

_SAFE = "/:@!$&'()*+,;=-._~"


class UpstreamTarget:
    """A rule's target split once (when the tenant's routes are built), joined per request.

    Paths join the way Kong's do. ``strip_path`` true: the matched rule path is cut and the rest
    appended to the target's path (``/v1/chat`` + target ``http://up/api`` + request
    ``/v1/chat/completions`` -> ``http://up/api/completions``). False: the whole request path is
    appended. A query string in the target stays in the target (``http://up/api?v=2`` ->
    ``http://up/api/completions?v=2``); the client's query follows it.
    """

    __slots__ = ("origin", "base", "query", "strip", "prefix_length", "root_rule")

    def __init__(self, rule: Rule, url: str | None = None) -> None:
        """``url``: one of the rule's ``targets`` (default: its ``target``)."""
        scheme, _, rest = (url or str(rule.target)).partition("://")
        rest, _, self.query = rest.partition("#")[0].partition("?")
        authority, slash, base = rest.partition("/")
        self.origin = f"{scheme}://{authority}"
        self.base = "/" + base if slash else ""
        self.strip = rule.strip_path
        # Stripping the rule path "/" cuts nothing but a request for "/" itself (Kong's way):
        # "/v1/x" goes to <target>/v1/x, and "/" to the target's own path.
        self.root_rule = rule.path == "/"
        self.prefix_length = len(rule.path)

    def url(self, path: RequestPath, query: str = "") -> str:
        decoded = path.decoded
        if not self.strip:
            remainder = decoded
        elif self.root_rule:
            remainder = "" if decoded == "/" else decoded
        else:
            remainder = decoded[self.prefix_length:]
        if path.encoded is not path.decoded:  # only paths that needed decoding need encoding again
            remainder = quote(remainder, safe=_SAFE)
        base = self.base
        if not remainder:
            joined = base or "/"
        elif base.endswith("/"):
            joined = base + remainder.lstrip("/")
        else:
            joined = base + remainder
        if self.query:
            query = f"{self.query}&{query}" if query else self.query
        return f"{self.origin}{joined}?{query}" if query else f"{self.origin}{joined}"


def upstream_url(rule: Rule, path: str, query: str = "") -> str:
    """The upstream URL for a request path that is already normalised (see :mod:`.request_path`)."""
    return UpstreamTarget(rule).url(RequestPath(path, path), query)
