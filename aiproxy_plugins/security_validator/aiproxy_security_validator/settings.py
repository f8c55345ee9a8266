"""The settings of one security_validator chain entry, checked when the tenant or rule is saved.

Everything that can be wrong in a setting (a CIDR with host bits, a header name with a space, a
media type with parameters) is refused here, so a request never meets a half-valid policy.
"""

from __future__ import annotations

import ipaddress
import re
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

__all__ = ["Cidr", "HmacSettings", "SecurityValidatorSettings"]

# RFC 9110 token characters: what a header name or a method may consist of.
_TOKEN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
_MEDIA_PART = r"[a-z0-9!#$&^_.+-]+"
#: Shorter shared secrets are guessable offline from one captured signed request.
MIN_SECRET_LENGTH = 16
TRUSTED_PROXIES_MOVED = (
    "trusted_proxies is no longer a security_validator setting: which peers may vouch for a client "
    "through X-Forwarded-For is the operator's server.trusted_proxies in config.yaml, so every plugin "
    "sees the same ctx.request.client_ip; remove trusted_proxies from these settings"
)


def _parse_network(value: Any) -> Any:
    # strict=True: "10.0.0.1/8" is almost always a typo for a host or for 10.0.0.0/8, so say so
    # instead of silently widening it.
    if isinstance(value, str):
        try:
            return ipaddress.ip_network(value.strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"not a CIDR network ({exc})") from None
    return value


def _upper(value: str) -> str:
    return value.upper()


def _media_type(value: str) -> str:
    value = value.strip().lower()
    if ";" in value:
        raise ValueError("give the media type without parameters (e.g. 'application/json', not '...; charset=utf-8')")
    kind, _, subtype = value.partition("/")
    if not (re.fullmatch(_MEDIA_PART, kind) and (subtype == "*" or re.fullmatch(_MEDIA_PART, subtype))):
        raise ValueError("expected a media type like 'application/json' or 'text/*'")
    return value


Cidr = Annotated[IPv4Network | IPv6Network, BeforeValidator(_parse_network)]
HeaderName = Annotated[str, StringConstraints(pattern=_TOKEN, max_length=100)]
Method = Annotated[str, StringConstraints(pattern=_TOKEN, max_length=20), AfterValidator(_upper)]
MediaType = Annotated[str, StringConstraints(max_length=200), AfterValidator(_media_type)]


class HmacSettings(BaseModel):
    """A shared-secret signature over ``f"{timestamp}.{method}.{path}."`` followed by the body."""

    # hide_input_in_errors: a rejected secret must not be echoed in an error message or a log line.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secret: SecretStr = Field(
        description=f"the shared secret; at least {MIN_SECRET_LENGTH} characters",
        json_schema_extra={"minLength": MIN_SECRET_LENGTH},
    )
    header: HeaderName = "X-Signature"
    timestamp_header: HeaderName = "X-Timestamp"
    tolerance_seconds: int = Field(default=300, ge=1, le=86_400)
    algorithm: Literal["sha256", "sha384", "sha512"] = "sha256"
    #: Also sign the query string (``path?query``), so it cannot be changed in transit.
    sign_query: bool = False

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        # Own check, not min_length: pydantic words that as "items" for a SecretStr.
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"the secret must have at least {MIN_SECRET_LENGTH} characters")
        return value


class SecurityValidatorSettings(BaseModel):
    """Leave a setting out to turn its check off.

    Allow lists (``allow_ips``, ``allowed_methods``, ``allowed_content_types``) must not be empty:
    an empty allow list would refuse every request, which is never what was meant.
    """

    # The outer model's config decides how nested errors print, so it hides inputs too (the secret).
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    required_headers: list[HeaderName] = Field(default_factory=list)
    allow_ips: list[Cidr] | None = Field(default=None, min_length=1)
    deny_ips: list[Cidr] = Field(default_factory=list)
    #: Moved to the operator's ``server.trusted_proxies``; present only to refuse it with a clear message.
    trusted_proxies: SkipJsonSchema[None] = Field(default=None, exclude=True)
    allowed_methods: list[Method] | None = Field(default=None, min_length=1)
    allowed_content_types: list[MediaType] | None = Field(default=None, min_length=1)
    max_body_bytes: int | None = Field(default=None, ge=0)
    hmac: HmacSettings | None = None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies_moved(cls, value: Any) -> None:
        raise ValueError(TRUSTED_PROXIES_MOVED)

    @property
    def checks_ip(self) -> bool:
        return self.allow_ips is not None or bool(self.deny_ips)
