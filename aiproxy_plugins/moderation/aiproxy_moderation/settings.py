"""The settings of one moderation chain entry, checked and compiled when the rule is saved.

Regexes of tenant-defined PII are compiled here, so a typo is a 422 at the Admin API and each
request reuses the compiled pattern (the core builds the settings object once per config
version). The settings object also carries per-entry caches (the deny topics' vectors), which is
why it is the unit the backends are built from.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Pattern

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, PrivateAttr, SecretStr, model_validator

__all__ = [
    "Action",
    "CustomPii",
    "DENY_TOPIC_CATEGORY",
    "HARASSMENT",
    "LOCAL_THRESHOLDS",
    "ModerationSettings",
    "PII_CATEGORY",
    "PII_TYPES",
]

Action = Literal["block", "flag", "redact", "off"]
#: The built-in PII detectors, by the type name their placeholders carry.
PII_TYPES = ("EMAIL", "PHONE", "CARD", "IBAN", "IP")
PII_CATEGORY = "pii"
DENY_TOPIC_CATEGORY = "deny_topic"
#: The local profanity model's category; named like OpenAI's so ``actions`` survive a backend swap.
HARASSMENT = "harassment"
#: The local backend's thresholds unless ``thresholds`` names others.
LOCAL_THRESHOLDS = {HARASSMENT: 0.8, DENY_TOPIC_CATEGORY: 0.45}

#: A pattern longer than this is more likely a pasted list than a rule; split it instead.
MAX_PATTERN_LENGTH = 1000
_CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_/-]{0,63}$")
_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


def _compile_regex(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_PATTERN_LENGTH:
            raise ValueError(f"a pattern may have at most {MAX_PATTERN_LENGTH} characters")
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.match(""):
            # An empty match would put a placeholder between every two characters.
            raise ValueError("the pattern matches the empty string")
        return compiled
    return value


Regex = Annotated[Pattern[str], BeforeValidator(_compile_regex)]


class CustomPii(BaseModel):
    """A tenant-defined kind of PII: matches become ``[<TYPE>_<n>]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = "CUSTOM"
    pattern: Regex

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        # A bare regex string is the short form the README shows first.
        return {"pattern": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _type_is_a_name(self) -> "CustomPii":
        if not _TYPE_NAME.match(self.type):
            raise ValueError("type must be upper case letters, digits and _ (it goes into the placeholder)")
        return self


def _check_category_names(actions: dict[str, Any]) -> dict[str, Any]:
    for name in actions:
        if not _CATEGORY_NAME.match(name):
            raise ValueError(f"{name!r} is not a category name (lower case, e.g. 'harassment', 'self-harm/intent')")
    return actions


class ModerationSettings(BaseModel):
    """Every field has a default: ``{"name": "moderation"}`` blocks toxic prompts and redacts PII."""

    # hide_input_in_errors: a refused api_key is not echoed in a 422 or a log line.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    backend: Literal["local", "remote"] = "local"
    check_prompt: bool = True
    check_answer: bool = True
    #: Per-category action; categories not listed get ``default_action`` (``pii`` gets ``redact``).
    actions: Annotated[dict[str, Action], AfterValidator(_check_category_names)] = Field(default_factory=dict)
    default_action: Literal["block", "flag", "off"] = "block"
    #: Per-category score thresholds. Local defaults: harassment 0.8 (profanity model probability),
    #: deny_topic 0.45 (cosine similarity); remote: without one, the endpoint's own decision counts.
    thresholds: Annotated[dict[str, Annotated[float, Field(ge=0, le=1)]], AfterValidator(_check_category_names)] = Field(
        default_factory=dict
    )
    # -- local backend
    deny_topics: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(default_factory=list, max_length=100)
    # -- remote backend
    remote_url: HttpUrl | None = None
    #: Sent as ``Authorization: Bearer <api_key>``; write-only in the Admin API (answers show ``****`` + last four).
    api_key: SecretStr | None = Field(default=None, max_length=500)
    remote_model: str | None = Field(default=None, max_length=200)
    remote_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # -- PII
    pii_types: list[Literal["EMAIL", "PHONE", "CARD", "IBAN", "IP"]] = Field(default_factory=lambda: list(PII_TYPES))
    pii_patterns: list[CustomPii] = Field(default_factory=list, max_length=50)
    restore_pii: bool = False
    # -- streamed answers
    #: Events are held until this many new characters arrived, then checked and released
    #: together: nothing unchecked reaches the client, at the cost of that much delay.
    stream_check_chars: int = Field(default=80, ge=0, le=100_000)
    #: How much of the answer's end is scored at each check (bounds the cost of long answers).
    stream_window_chars: int = Field(default=2000, ge=64, le=100_000)

    _topic_vectors: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> "ModerationSettings":
        for category, action in self.actions.items():
            if action == "redact" and category != PII_CATEGORY:
                raise ValueError(
                    f"actions.{category}: 'redact' applies to pii only (a model's category has no span to cut out); "
                    "use block, flag or off"
                )
        if self.backend == "remote" and self.remote_url is None:
            raise ValueError("remote_url is required with backend 'remote'")
        if self.deny_topics and self.backend != "local":
            raise ValueError("deny_topics need the local backend (they are matched with the local embedding model)")
        return self

    def action_for(self, category: str) -> Action:
        default: Action = "redact" if category == PII_CATEGORY else self.default_action
        return self.actions.get(category, default)

    def threshold_for(self, category: str) -> float | None:
        return self.thresholds.get(category, LOCAL_THRESHOLDS.get(category) if self.backend == "local" else None)

    @property
    def custom_pii(self) -> list[tuple[str, Pattern[str]]]:
        return [(custom.type, custom.pattern) for custom in self.pii_patterns]

    @property
    def checks_pii(self) -> bool:
        return self.action_for(PII_CATEGORY) != "off" and bool(self.pii_types or self.pii_patterns)

    @property
    def needs_profanity_model(self) -> bool:
        return self.backend == "local" and self.action_for(HARASSMENT) != "off" and (self.check_prompt or self.check_answer)

    @property
    def needs_embedder(self) -> bool:
        return (
            self.backend == "local"
            and bool(self.deny_topics)
            and self.action_for(DENY_TOPIC_CATEGORY) != "off"
            and (self.check_prompt or self.check_answer)
        )

    @property
    def moderates(self) -> bool:
        """Whether any model category is checked (PII aside)."""
        return self.backend == "remote" or self.needs_profanity_model or self.needs_embedder
