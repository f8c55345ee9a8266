"""A forwarding rule: which requests of a tenant go to which upstream, through which plugins."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import parse_qsl

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from .chain_entry import ChainEntry
from .routing import RoutingPolicy, RuleTarget

ClientFormat = Literal["openai", "anthropic"]
#: At most this many targets per rule: each may be tried once per request.
MAX_TARGETS = 16

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


#: The Proxy API's reserved prefix: the tenant's own pages (OpenAPI document, portal), which no
#: rule may claim and which need no key to read.
TENANT_PAGES_ROOT = "/-"
TENANT_PAGES_PREFIX = "/-/"


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
    #: The one-target shorthand; a rule has ``target`` or ``targets``, not both.
    target: HttpUrl | None = None
    targets: list[RuleTarget] | None = Field(default=None, min_length=1, max_length=MAX_TARGETS)
    routing: RoutingPolicy | None = None
    #: The API the rule's clients speak: ``openai`` (chat completions and the rest) or
    #: ``anthropic`` (the Messages API at ``/v1/messages``).
    client_format: ClientFormat = "openai"
    methods: list[str] | None = Field(default=None, min_length=1)
    strip_path: bool = False
    plugin_chain: list[ChainEntry] = Field(default_factory=list, max_length=100)
    upstream_headers: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0, le=3600)
    #: What the API does, for the tenant's consumers: shown on the developer portal (``/-/portal``).
    description: str | None = Field(default=None, max_length=2000)

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

    @field_validator("path")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == TENANT_PAGES_ROOT or value.startswith(TENANT_PAGES_PREFIX):
            raise ValueError(f"paths under {TENANT_PAGES_PREFIX} are the gateway's own (the tenant's docs and portal); choose another path")
        return value

    @field_validator("target")
    @classmethod
    def _no_credentials_in_target(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None:
            _check_url_credentials(value, "the target")
        return value

    @field_validator("upstream_headers")
    @classmethod
    def _plain_header_fields(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_header_fields(value)

    @field_validator("targets")
    @classmethod
    def _checked_targets(cls, value: list[RuleTarget] | None) -> list[RuleTarget] | None:
        names: set[str] = set()
        for index, target in enumerate(value or ()):
            _check_url_credentials(target.url, f"targets.{index}.url")
            _check_header_fields(target.upstream_headers)
            if target.name is not None:
                if target.name in names:
                    raise ValueError(f"two targets are named {target.name!r}; target names must differ")
                names.add(target.name)
        return value

    @model_validator(mode="after")
    def _one_way_to_name_targets(self) -> "RuleInput":
        if (self.target is None) == (self.targets is None):
            raise ValueError("give the rule either target (one upstream URL) or targets (a list of upstreams), not both or neither")
        policy = self.routing
        if policy is not None:
            count = len(self.targets or ()) or 1
            names = {t.name: i for i, t in enumerate(self.targets or ()) if t.name is not None}
            groups = [("default", policy.default or [])] + [(f"conditions.{i}.targets", c.targets) for i, c in enumerate(policy.conditions)]
            for where, refs in groups:
                for ref in refs:
                    if isinstance(ref, int) and not 0 <= ref < count:
                        raise ValueError(f"routing.{where}: target index {ref} does not exist (the rule has {count} target(s))")
                    if isinstance(ref, str) and ref not in names:
                        raise ValueError(f"routing.{where}: no target is named {ref!r}")
        return self


def _check_url_credentials(value: HttpUrl, where: str) -> None:
    if value.username or value.password:
        raise ValueError(
            f"{where} holds a user name or password (user:pass@host); put the credential in upstream_headers "
            "(e.g. Authorization), which the Admin API never shows"
        )
    named = sorted({name for name, _ in parse_qsl(value.query or "", keep_blank_values=True) if _credential_parameter(name)})
    if named:
        raise ValueError(
            f"{where}'s query holds credential parameter(s) {', '.join(named)}; put the credential in "
            "upstream_headers (e.g. Authorization or the upstream's API key header), which the Admin API never shows"
        )


def _check_header_fields(value: dict[str, str]) -> dict[str, str]:
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
