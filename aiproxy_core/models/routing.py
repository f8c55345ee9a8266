"""A rule's targets and how requests are spread over them: ``targets`` and ``routing``.

The names are the ones users write in rules (docs/routing.md): a target is
``{"url", "name", "weight", "priority", "provider", "model", "upstream_headers", "timeout"}``; the
routing policy is ``{"strategy", "retries", "ttft_timeout", "circuit_breaker", "conditions",
"default"}``. Everything here is checked when the rule is saved, never first at request time.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

__all__ = [
    "CircuitBreakerPolicy",
    "Condition",
    "ConditionMatch",
    "Provider",
    "RetryPolicy",
    "RoutingPolicy",
    "Strategy",
    "RuleTarget",
]

#: ``openai``: any OpenAI-compatible origin; ``azure_openai``: an Azure OpenAI deployment URL
#: (``api-version`` query, ``api-key`` header); ``anthropic``: the Messages API.
Provider = Literal["openai", "azure_openai", "anthropic"]
Strategy = Literal["single", "fallback", "loadbalance", "lowest_latency", "conditional"]

_TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: ``retry_on`` words besides plain status codes.
RETRY_CLASSES = frozenset({"connect_error", "timeout", "4xx", "5xx", "context_window"})
DEFAULT_RETRY_ON: tuple[int | str, ...] = ("connect_error", "timeout", 429, "5xx")


class RuleTarget(BaseModel):
    """One upstream of a rule."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    #: Shown in ``X-AIProxy-Target`` and the targets endpoint (the index when unnamed).
    name: str | None = None
    #: Share of traffic within its priority group under ``loadbalance``.
    weight: int = Field(default=1, ge=1, le=10_000)
    #: Lower goes first: a group is used only while every lower one is unavailable.
    priority: int = Field(default=0, ge=0, le=100)
    #: Unset: an OpenAI-compatible origin whose ``url`` is joined with the request path like a
    #: rule's ``target``. Set: ``url`` is the base URL that provider's SDK takes, and the gateway
    #: calls that provider's endpoint for the operation (translating formats when they differ).
    provider: Provider | None = None
    #: The model this target is asked for, in place of the client's ``model``.
    model: str | None = Field(default=None, min_length=1, max_length=200)
    upstream_headers: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0, le=3600)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and not _TARGET_NAME.fullmatch(value):
            raise ValueError("a target name is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
        return value


class RetryPolicy(BaseModel):
    """How a failed attempt is tried again: on the next target of the plan, or the same one
    after a backoff (or the upstream's ``Retry-After``), within ``max_wait`` seconds in all."""

    model_config = ConfigDict(extra="forbid")

    #: Attempts after the first one (0: no retry, no failover).
    attempts: int = Field(default=2, ge=0, le=10)
    #: First backoff in seconds before trying a target again; doubles each time, full jitter.
    backoff: float = Field(default=0.1, ge=0, le=30)
    max_backoff: float = Field(default=2.0, ge=0, le=60)
    #: What counts as a failure worth another attempt: ``connect_error``, ``timeout``, ``4xx``,
    #: ``5xx``, a status code, or ``context_window`` (a prompt the target's model cannot hold goes
    #: to the next target, never the same one again).
    retry_on: list[int | str] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON), max_length=50)
    #: The total time a request may spend waiting between attempts (backoffs and Retry-After).
    max_wait: float = Field(default=10.0, ge=0, le=300)

    @field_validator("retry_on")
    @classmethod
    def _known_classes(cls, value: list[int | str]) -> list[int | str]:
        for item in value:
            if isinstance(item, int):
                if not 400 <= item <= 599:
                    raise ValueError(f"retry_on status {item} is not an error status (400-599)")
            elif item not in RETRY_CLASSES:
                raise ValueError(f"retry_on {item!r} is unknown; use a status code or one of {sorted(RETRY_CLASSES)}")
        return value


class CircuitBreakerPolicy(BaseModel):
    """A target's circuit opens after ``failures`` failures within ``window`` seconds, or when
    ``failure_ratio`` of at least ``min_requests`` attempts in the window failed; after
    ``cooldown`` seconds one probe request may go (half-open): success closes it, failure
    opens it again."""

    model_config = ConfigDict(extra="forbid")

    failures: int = Field(default=5, ge=1, le=100_000)
    failure_ratio: float | None = Field(default=None, gt=0, le=1)
    min_requests: int = Field(default=20, ge=1, le=100_000)
    window: float = Field(default=30.0, ge=1, le=3600)
    cooldown: float = Field(default=30.0, ge=0.1, le=3600)


class ConditionMatch(BaseModel):
    """Every field given must match (fields left out match anything).

    ``model``: the request body's ``model``, a name or names with ``*`` wildcards; ``headers``: a
    request header's value (name case-insensitive), a value or values; ``plan``: the consumer's
    ``plan_id``, a name or names; ``metadata``: the consumer's metadata, key to value or values.
    """

    model_config = ConfigDict(extra="forbid")

    model: str | list[str] | None = None
    headers: dict[str, str | list[str]] | None = None
    plan: str | list[str] | None = None
    metadata: dict[str, Any] | None = None


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    match: ConditionMatch
    #: The targets (names or indexes) a matching request is sent to, in the order listed.
    targets: list[int | str] = Field(min_length=1, max_length=16)


class RoutingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: ``single``: the first target only; ``fallback``: by priority, then list order;
    #: ``loadbalance``: by weight within the first priority group that is available;
    #: ``lowest_latency``: the lowest recent average latency within that group;
    #: ``conditional``: the targets of the first condition the request matches.
    strategy: Strategy = "fallback"
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    #: Seconds a streamed request may wait for its first event (headers included) before it is
    #: failed over to the next target; nothing has reached the client by then.
    ttft_timeout: float | None = Field(default=None, gt=0, le=600)
    circuit_breaker: CircuitBreakerPolicy | None = None
    conditions: list[Condition] = Field(default_factory=list, max_length=50)
    #: Targets for a request no condition matches (``conditional``); all targets when unset.
    default: list[int | str] | None = Field(default=None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _conditions_need_conditional(self) -> "RoutingPolicy":
        if self.strategy == "conditional" and not self.conditions:
            raise ValueError("strategy 'conditional' needs at least one entry in conditions")
        if self.strategy != "conditional" and (self.conditions or self.default is not None):
            raise ValueError("conditions and default apply only to strategy 'conditional'")
        return self
