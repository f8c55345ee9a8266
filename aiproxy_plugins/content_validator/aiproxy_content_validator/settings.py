"""The settings of one content_validator chain entry, checked and compiled when the rule is saved.

Regexes are compiled and JSON Schemas checked here, so a typo is a 422 at the Admin API, and
each request reuses the compiled form (the core builds the settings object once per config
version, not per request).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Pattern

from jsonschema import Draft202012Validator
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
)

from .json_schema import check_json_schema, compile_schema

__all__ = ["ContentValidatorSettings", "Regex"]

#: A pattern longer than this is more likely a pasted word list than a rule; split it instead.
MAX_PATTERN_LENGTH = 1000


def _compile_regex(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_PATTERN_LENGTH:
            raise ValueError(f"a pattern may have at most {MAX_PATTERN_LENGTH} characters")
        try:
            return re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


Regex = Annotated[Pattern[str], BeforeValidator(_compile_regex)]
JsonSchema = Annotated[dict[str, Any], AfterValidator(check_json_schema)]
PatternList = Annotated[list[Regex], Field(max_length=200)]


class ContentValidatorSettings(BaseModel):
    """Leave a setting out to switch its check off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- requests
    request_schema: JsonSchema | None = None
    allowed_models: list[str] | None = Field(default=None, min_length=1)
    max_tokens_cap: int | None = Field(default=None, ge=1)
    clamp_max_tokens: bool = False
    max_messages: int | None = Field(default=None, ge=1)
    max_message_chars: int | None = Field(default=None, ge=1)
    allow_patterns: PatternList = Field(default_factory=list)
    deny_patterns: PatternList = Field(default_factory=list)
    match_all_messages: bool = False
    # -- responses
    response_schema: JsonSchema | None = None
    response_deny_patterns: PatternList = Field(default_factory=list)
    #: How much earlier streamed text is searched again with each new piece (memory per request).
    stream_lookback_chars: int = Field(default=4096, ge=64, le=1_048_576)
    #: The most of a non-event-stream streamed response that is buffered to be checked (502 above).
    max_response_bytes: int = Field(default=10 * 1024 * 1024, ge=1)

    _request_validator: Draft202012Validator | None = PrivateAttr(default=None)
    _response_validator: Draft202012Validator | None = PrivateAttr(default=None)

    @field_validator("clamp_max_tokens")
    @classmethod
    def _clamp_needs_a_cap(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("max_tokens_cap") is None:
            raise ValueError("clamp_max_tokens needs max_tokens_cap to clamp to")
        return value

    def model_post_init(self, context: Any) -> None:
        if self.request_schema is not None:
            self._request_validator = compile_schema(self.request_schema)
        if self.response_schema is not None:
            self._response_validator = compile_schema(self.response_schema)

    @property
    def request_validator(self) -> Draft202012Validator | None:
        return self._request_validator

    @property
    def response_validator(self) -> Draft202012Validator | None:
        return self._response_validator

    @property
    def checks_request_content(self) -> bool:
        """Whether any check needs the request's parsed body beyond the schema."""
        return bool(
            self.allowed_models is not None
            or self.max_tokens_cap is not None
            or self.max_messages is not None
            or self.max_message_chars is not None
            or self.allow_patterns
            or self.deny_patterns
        )

    @property
    def checks_response(self) -> bool:
        return self.response_schema is not None or bool(self.response_deny_patterns)
