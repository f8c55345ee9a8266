"""Checks and the JSON form of kept records, shared by every :class:`Records` backend."""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

from .api import Record
from .keyspace import checked_key, checked_tenant
from .value_codec import dump_json

__all__ = ["MAX_RECORDS_PER_WRITE", "checked_name", "checked_page", "checked_records", "loaded"]

#: Records per ``write`` (one statement or transaction: it stays short).
MAX_RECORDS_PER_WRITE = 10_000


def checked_name(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 64 or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise ValueError(f"a records name is 1-64 letters, digits, _ . -, not {name!r:.80}")
    return name


def checked_records(records: Sequence[Record]) -> list[tuple[str, str, float, str]]:
    """Each record as (tenant, id, time, JSON text), checked before anything is written."""
    if len(records) > MAX_RECORDS_PER_WRITE:
        raise ValueError(f"write takes at most {MAX_RECORDS_PER_WRITE} records per call, not {len(records)}: split the batch")
    rows = []
    for record in records:
        if not isinstance(record, Record):
            raise ValueError(f"write takes Record items, not {type(record).__name__}")
        if isinstance(record.time, bool) or not isinstance(record.time, (int, float)) or not math.isfinite(record.time):
            raise ValueError(f"a record's time is a finite number of seconds, not {record.time!r:.40}")
        if not isinstance(record.data, dict):
            raise ValueError(f"a record's data is a JSON object (a dict), not a {type(record.data).__name__}")
        rows.append((checked_tenant(record.tenant_id), checked_key(record.id), float(record.time), dump_json(record.data)))
    return rows


def checked_page(tenant_id: str, limit: int, after: str | None) -> None:
    checked_tenant(tenant_id)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise ValueError(f"limit is an int from 1 to 10000, not {limit!r:.40}")
    if after is not None:
        checked_key(after)


def loaded(tenant_id: str, record_id: str, time: float, data: Any) -> Record:
    return Record(tenant_id, record_id, float(time), json.loads(data) if isinstance(data, str) else data)
