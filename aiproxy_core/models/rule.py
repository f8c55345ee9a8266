"""A forwarding rule: which requests of a tenant go to which upstream, through which plugins."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, field_validator

from .chain_entry import ChainEntry

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

#: Query parameters of a target that carry credentials (lower case, ``-`` read as ``_``): a
#: target is shown in answers and logs, so a credential belongs in ``upstream_headers``, which
#: are write-only.
CREDENTIAL_PARAMETERS = frozenset(
    {
        "access_token", "api_key", "apikey", "api_token", "auth", "auth_token", "authorization", "bearer",
        "client_secret", "code", "credential", "credentials", "id_token", "jwt", "key", "pass", "passwd",
        "password", "private_token", "pwd", "refresh_token", "secret", "session", "session_id", "sessionid",
        "sig", "signature", "subscription_key", "token", "x_api_key",
    }
)
_CREDENTIAL_SUFFIXES = ("_key", "_token", "_secret", "_password", "_signature")

#: RFC 9110 field names (``token``) and values (visible characters, spaces and tabs: no CR, LF,
#: NUL or other control characters, which would let a value start a new header or request).
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\xa0-\U0010ffff]*")


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("the path must start with '/'")
    if any(c in value for c in "?# "):
        raise ValueError("the path may not contain '?', '#' or spaces")
    return value.rstrip("/") or "/"


def _credential_parameter(name: str) -> bool:
    normal = name.strip().lower().replace("-", "_")
    return normal in CREDENTIAL_PARAMETERS or normal.endswith(_CREDENTIAL_SUFFIXES)


class _RuleFields(BaseModel):
    """What a rule is made of; :class:`RuleInput` adds the checks a new or replaced rule must pass."""

    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, AfterValidator(_path)] = Field(max_length=1000)
    target: HttpUrl
    methods: list[str] | None = Field(default=None, min_length=1)
    strip_path: bool = False
    plugin_chain: list[ChainEntry] = Field(default_factory=list, max_length=100)
    upstream_headers: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0, le=3600)

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        upper = [m.upper() for m in value]
        unknown = sorted(set(upper) - HTTP_METHODS)
        if unknown:
            raise ValueError(f"unknown HTTP method(s) {unknown}; use some of {sorted(HTTP_METHODS)}")
        return sorted(set(upper))


class RuleInput(_RuleFields):
    """The body of ``POST``/``PUT .../rules``.

    ``strip_path`` has Kong's meaning: the matched ``path`` is cut from the request path and the
    rest is appended to the path of ``target``. Where ``target`` may point is the gateway's
    target policy (checked by the Admin API, which knows the config); here, that it holds no
    credentials and that ``upstream_headers`` cannot smuggle a header or request in.
    """

    @field_validator("target")
    @classmethod
    def _no_credentials_in_target(cls, value: HttpUrl) -> HttpUrl:
        if value.username or value.password:
            raise ValueError(
                "the target holds a user name or password (user:pass@host); put the credential in upstream_headers "
                "(e.g. Authorization), which the Admin API never shows"
            )
        named = sorted({name for name, _ in parse_qsl(value.query or "", keep_blank_values=True) if _credential_parameter(name)})
        if named:
            raise ValueError(
                f"the target's query holds credential parameter(s) {', '.join(named)}; put the credential in "
                "upstream_headers (e.g. Authorization or the upstream's API key header), which the Admin API never shows"
            )
        return value

    @field_validator("upstream_headers")
    @classmethod
    def _plain_header_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _FIELD_NAME.fullmatch(name):
                raise ValueError(
                    f"upstream header name {name!r} is not a valid HTTP field name (letters, digits and !#$%&'*+-.^_`|~; "
                    "no spaces, colons, CR or LF)"
                )
            if not _FIELD_VALUE.fullmatch(text):
                raise ValueError(f"upstream header {name!r} has a control character (CR, LF, NUL, ...) in its value; remove it")
        return value


class Rule(_RuleFields):
    """A stored rule. ``methods`` null means every method."""

    id: str
    tenant_id: str
    created_at: datetime
    updated_at: datetime
