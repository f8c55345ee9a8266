"""Change events: how every gateway process learns that its cached view of the store is stale."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Callable, Literal

EventKind = Literal["tenant", "rule", "key", "consumer", "reset"]


@dataclass(frozen=True)
class ChangeEvent:
    """``tenant``/``rule`` events name the tenant; ``key`` events carry the key's SHA-256;
    ``consumer`` events name tenant and consumer.

    ``reset`` tells a listener to drop everything it cached (sent after a lost subscription).
    """

    kind: EventKind
    tenant_id: str | None = None
    key_hash: str | None = None
    consumer_id: str | None = None

    def encode(self, origin: str | None = None) -> str:
        """JSON for pub/sub; ``origin`` names the sending store so it can skip its own echo."""
        data: dict[str, object] = asdict(self)
        if origin is not None:
            data["origin"] = origin
        return json.dumps(data)

    @classmethod
    def decode(cls, raw: str | bytes) -> "ChangeEvent":
        return cls.decode_with_origin(raw)[0]

    @classmethod
    def decode_with_origin(cls, raw: str | bytes) -> "tuple[ChangeEvent, str | None]":
        """The event and the origin it was encoded with (None when it had none).

        Keys other than the event's fields are dropped, so a newer gateway that adds one does not
        break the subscribers of an older one sharing the same Redis.
        """
        data = json.loads(raw)
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError(f"not a change event: {raw!r}")
        origin = data.get("origin")
        event = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        return event, origin if isinstance(origin, str) else None


Listener = Callable[[ChangeEvent], None]
