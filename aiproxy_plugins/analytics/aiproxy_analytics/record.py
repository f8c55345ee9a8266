"""One request's analytics record as ``keep_records`` keeps it (built from its row at the flush)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["RequestRecord", "status_class"]


@dataclass(slots=True)
class RequestRecord:
    """Every field the issue lists; ``None`` where the gateway did not learn it."""

    request_id: str
    time: float
    tenant_id: str
    rule_id: str
    consumer_id: str | None
    key_id: str
    model: str | None
    status: int
    target: str | None
    input_tokens: int
    output_tokens: int
    cost_micros: int
    latency_ms: float
    upstream_ms: float | None
    overhead_ms: float | None
    ttft_ms: float | None
    request_bytes: int
    response_bytes: int
    country: str
    cache: str | None
    moderation_flags: list[str]
    interrupted: str | None

    def data(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies every field, the largest single cost of the plugin in a profile.
        data = {name: getattr(self, name) for name in _FIELDS}
        data["moderation_flags"] = list(self.moderation_flags)
        for name in ("latency_ms", "overhead_ms"):  # rounded only here: round(x, 3) costs µs per request
            if data[name] is not None:
                data[name] = round(data[name], 3)
        return data


_FIELDS = tuple(field.name for field in fields(RequestRecord))


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"
