"""A tenant's developer-portal settings: whether strangers may sign up at ``/-/portal``, and on what terms."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PortalSettings(BaseModel):
    """The tenant's ``portal`` field. Everything a self-serve signup gets is decided here, never by
    the signup's body: the plan, the metadata, how many such consumers may exist."""

    model_config = ConfigDict(extra="forbid")

    #: Off unless the tenant turns it on: ``POST /-/portal/api/signup`` answers 403 otherwise.
    self_serve: bool = False
    #: The plan (billing's plan id) every self-serve consumer gets; None: no plan.
    signup_plan: str | None = Field(default=None, min_length=1, max_length=100)
    #: At most this many self-serve consumers exist at once (deleting one frees a place).
    max_self_serve_consumers: int = Field(default=1000, ge=1, le=1_000_000)
    #: Signups one client address may make per hour (counted across every gateway process).
    signups_per_hour: int = Field(default=5, ge=1, le=1000)

    @model_validator(mode="after")
    def _plan_needs_self_serve(self) -> "PortalSettings":
        # A plan named while self-serve is off is harmless, but it is probably a forgotten switch.
        if self.signup_plan is not None and not self.self_serve:
            raise ValueError("signup_plan is only used with self_serve: true; set self_serve or drop signup_plan")
        return self
