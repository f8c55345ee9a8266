"""A rule's targets, compiled once per config version: where each sends a request, with which
headers, and whether the answer must be translated between API formats."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..errors import BadRequest
from ..models import Rule
from ..proxy.request_path import RequestPath
from ..proxy.target import UpstreamTarget

__all__ = ["AZURE_API_VERSION", "ANTHROPIC_VERSION", "Endpoint", "RouteTarget", "route_targets"]

#: Sent when a target's URL names no ``api-version`` (Azure OpenAI's current GA version).
AZURE_API_VERSION = "2024-10-21"
#: Sent to an Anthropic target when neither the client nor the rule set ``anthropic-version``.
ANTHROPIC_VERSION = "2023-06-01"

#: The client's operation (its path after the rule's path and an optional ``/v1``) as each
#: provider names it, for the operations that translate between formats.
_CHAT = "/chat/completions"
_MESSAGES = "/messages"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one attempt goes: the URL, and the translation between formats it needs
    (``""``: none; ``openai_to_anthropic``: the client speaks OpenAI, the target Anthropic)."""

    url: str
    translation: str


@dataclass(frozen=True, slots=True)
class RouteTarget:
    index: int
    name: str | None
    #: Shown in ``X-AIProxy-Target``: the target's name, else its index.
    label: str
    #: ``""`` for a target without ``provider`` (its URL joined with the path like ``target``).
    provider: str
    client_format: str
    joiner: UpstreamTarget
    #: A provider target's base URL without query, and the query it keeps.
    base: str
    query: str
    model: str | None
    #: Target-level upstream headers (the rule's are already in the request's header list).
    headers: tuple[tuple[str, str], ...]
    timeout: float | None
    weight: int
    priority: int
    #: Names this target's shared health (circuit, latency): the rule, position and URL, so an
    #: edited rule starts its changed targets afresh.
    health_key: str

    def endpoint(self, path: RequestPath, query: str) -> Endpoint:
        """The URL for this request; 400 ``operation_not_supported`` when this target's provider
        has no endpoint for the operation."""
        if not self.provider:
            return Endpoint(self.joiner.url(path, query), "")
        operation = self._operation(path.decoded)
        provider = self.provider
        translation = ""
        if self.client_format == "anthropic":
            if provider == "anthropic":
                suffix = "/v1" + operation
            elif operation == _MESSAGES:
                suffix, translation = _CHAT, "anthropic_to_openai"
            else:
                raise _unsupported(operation, provider)
        elif provider == "anthropic":
            if operation != _CHAT:
                raise _unsupported(operation, provider)
            suffix, translation = "/v1" + _MESSAGES, "openai_to_anthropic"
        else:
            suffix = operation
        queries = [q for q in (self.query, query) if q]
        if provider == "azure_openai" and "api-version=" not in self.query:
            queries.insert(0, f"api-version={AZURE_API_VERSION}")
        url = self.base + suffix
        return Endpoint(f"{url}?{'&'.join(queries)}" if queries else url, translation)

    def _operation(self, decoded: str) -> str:
        joiner = self.joiner  # the rule's path, as the one-target join cuts it
        rest = decoded if joiner.root_rule else decoded[joiner.prefix_length:]
        if rest.startswith("/v1/") or rest == "/v1":
            rest = rest[3:]
        return rest or "/"


def _unsupported(operation: str, provider: str) -> BadRequest:
    return BadRequest(
        f"{operation} cannot be translated for a {provider} target; this route translates only chat "
        "(OpenAI /chat/completions and Anthropic /v1/messages)",
        code="operation_not_supported",
    )


def route_targets(rule: Rule) -> tuple[RouteTarget, ...]:
    """The rule's targets in list order (its ``target`` shorthand is one target, index 0)."""
    entries: list[tuple[str, str | None, int, int, str | None, str | None, dict[str, str], float | None]]
    if rule.targets is None:
        url = str(rule.target)
        entries = [(url, None, 1, 0, None, None, {}, rule.timeout)]
    else:
        entries = [
            (str(t.url), t.name, t.weight, t.priority, t.provider, t.model, t.upstream_headers, t.timeout or rule.timeout)
            for t in rule.targets
        ]
    built = []
    for index, (url, name, weight, priority, provider, model, headers, timeout) in enumerate(entries):
        base, _, query = url.partition("#")[0].partition("?")
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        built.append(
            RouteTarget(
                index=index,
                name=name,
                label=name or str(index),
                provider=provider or "",
                client_format=rule.client_format,
                joiner=UpstreamTarget(rule, url),
                base=base.rstrip("/"),
                query=query,
                model=model,
                headers=tuple(headers.items()),
                timeout=timeout,
                weight=weight,
                priority=priority,
                health_key=f"{rule.id}/{index}/{digest}",
            )
        )
    return tuple(built)
