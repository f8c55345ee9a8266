"""One plugin in a chain: which plugin, when it runs, in what order, with which settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Stage = Literal["pre_request", "post_request", "pre_response", "post_response"]
STAGES: tuple[Stage, ...] = ("pre_request", "post_request", "pre_response", "post_response")


class ChainEntry(BaseModel):
    """A chain entry needs only ``name``; everything else has a default.

    ``stage`` left out (or null) means every stage the plugin implements, so a plugin that
    reserves before the call and settles after it runs in both. A string or a list narrows it.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    priority: int = Field(default=100, ge=-1_000_000, le=1_000_000)
    stage: Stage | list[Stage] | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    on_error: Literal["closed", "open"] = "closed"

    @field_validator("stage")
    @classmethod
    def _no_empty_stage_list(cls, value: Stage | list[Stage] | None) -> Stage | list[Stage] | None:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one stage, or leave stage out to run in every stage the plugin implements")
        return value

    def stages(self) -> tuple[Stage, ...] | None:
        """The stages this entry is limited to, or None for 'every stage the plugin implements'."""
        if self.stage is None:
            return None
        if isinstance(self.stage, str):
            return (self.stage,)
        return tuple(self.stage)
