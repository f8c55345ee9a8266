"""A flush's rows, added up: one :class:`Aggregate` per combination of groups (tenant, minute,
consumer, rule, model, status class, country), and the kept records when they are on.

One pass in Python reads each row's annotations into columns and finds its combination; the
sums and the sketches' bins are then numpy's work (``bincount`` per column, one ``unique`` for
every combination's latency bins at once), so a row costs a few dict reads, not a dozen
additions and a logarithm in the interpreter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from aiproxy_core.state_keys import INTERRUPTED, TTFT_MS, UPSTREAM_MS, USAGE

from .aggregate import COUNT_FIELDS, Aggregate
from .country import CountryOf
from .keys import NO_VALUE
from .record import RequestRecord, status_class
from .row import ANNOTATIONS, CLIENT_IP, CONSUMER, COUNTRY_HEADER, LATENCY, MODEL, REQUEST_BYTES, RESPONSE_BYTES, RULE, STATUS, TENANT, TIME, \
    USAGE_SEEN, Row
from .sketch import LatencySketch, bin_keys

__all__ = ["Combination", "aggregates_of", "records_of"]

#: A request's every group at once: tenant, minute, consumer, rule, model, status class, country.
Combination = tuple[str, int, str, str, str, str, str]

_STATUS_CLASSES = {status: status_class(status) for status in range(0, 600)}


def aggregates_of(rows: list[Row], country_of: CountryOf, accuracy: float) -> dict[Combination, Aggregate]:
    index: dict[Combination, int] = {}
    groups: list[int] = []
    classes = _STATUS_CLASSES
    for row in rows:
        status = row[STATUS]
        combination = (
            row[TENANT], int(row[TIME] // 60) * 60, row[CONSUMER] or NO_VALUE, row[RULE], row[MODEL] or NO_VALUE,
            classes.get(status) or status_class(status), country_of(row[CLIENT_IP], row[COUNTRY_HEADER]),
        )
        group = index.get(combination)
        if group is None:
            group = index[combination] = len(index)
        groups.append(group)
    # Each column in one comprehension (no appends): the row's annotations are read here, once.
    annotations = [row[ANNOTATIONS] for row in rows]
    usages = [notes.get(USAGE) for notes in annotations]
    inputs = _numbers([usage.get("input_tokens") if usage.__class__ is dict else _seen(row, "input_tokens") for usage, row in zip(usages, rows)])
    outputs = _numbers([usage.get("output_tokens") if usage.__class__ is dict else _seen(row, "output_tokens") for usage, row in zip(usages, rows)])
    # Cost is summed in integer micro-dollars, each request's rounded first (as one request's is).
    micros = numpy.rint(_numbers([notes.get("cost") for notes in annotations]) * 1_000_000)
    statuses = numpy.array([row[STATUS] for row in rows])
    interrupted = numpy.array([bool(notes.get(INTERRUPTED)) for notes in annotations])
    # An error is what the client saw as one: a 4xx/5xx answer, or a stream cut short.
    errors = (statuses >= 400) | interrupted
    cache_hits = [notes.get("cache") == "hit" for notes in annotations]
    flagged = ["moderation" in notes and bool(_flags(notes)) for notes in annotations]
    sent = [row[REQUEST_BYTES] for row in rows]
    answered = [row[RESPONSE_BYTES] for row in rows]
    size = len(index)
    group_array = numpy.array(groups, dtype=numpy.int64)
    columns = [errors, inputs, outputs, micros, sent, answered, interrupted, cache_hits, flagged]
    sums = [numpy.bincount(group_array, minlength=size)]
    sums += [numpy.bincount(group_array, weights=numpy.asarray(column, dtype=numpy.float64), minlength=size) for column in columns]
    aggregates = [Aggregate(accuracy) for _ in range(size)]
    for position, name in enumerate(COUNT_FIELDS):
        for group, total in enumerate(sums[position].tolist()):
            aggregates[group].counts[name] = int(total)
    _add_bins([aggregate.latency for aggregate in aggregates], group_array, numpy.array([row[LATENCY] for row in rows]), accuracy)
    ttfts = _numbers([notes.get(TTFT_MS) for notes in annotations], missing=numpy.nan)
    timed = ~numpy.isnan(ttfts)
    if timed.any():
        _add_bins([aggregate.ttft for aggregate in aggregates], group_array[timed], ttfts[timed], accuracy)
    return dict(zip(index, aggregates))


def _seen(row: Row, name: str) -> int:
    """Tokens the row's own usage reported (a stream's events, an answer no upstream gave)."""
    usage = row[USAGE_SEEN]
    return 0 if usage is None else getattr(usage, name)


def _numbers(values: list[Any], missing: float = 0.0) -> numpy.ndarray:
    """``values`` as floats, None as ``missing``; anything not a number (a plugin's mistake in an
    annotation) counts as ``missing`` too, as do negative counts, so one bad value cannot break
    or skew a whole flush."""
    try:
        array = numpy.array(values, dtype=numpy.float64)
    except (TypeError, ValueError):
        array = numpy.array([value if _number(value) is not None else None for value in values], dtype=numpy.float64)
    array[~(array >= 0)] = missing  # negative, NaN (None) or infinite below
    array[numpy.isinf(array)] = missing
    return array


def _add_bins(sketches: list[LatencySketch], groups: numpy.ndarray, milliseconds: numpy.ndarray, accuracy: float) -> None:
    """Each group's values into its sketch: one ``unique`` over (group, bin) pairs for all groups."""
    keys, binned = bin_keys(milliseconds, accuracy)
    zeros = numpy.bincount(groups[~binned], minlength=len(sketches)).tolist()
    groups, keys = groups[binned], keys[binned]
    if len(keys):
        low = int(keys.min())
        span = int(keys.max()) - low + 1
        pairs, counts = numpy.unique(groups * span + (keys - low), return_counts=True)
        pair_groups, pair_keys = numpy.divmod(pairs, span)
        for group in numpy.unique(pair_groups).tolist():
            mine = pair_groups == group
            sketches[group].add_bins((pair_keys[mine] + low).tolist(), counts[mine].tolist())
    for group, count in enumerate(zeros):
        if count:
            sketches[group].add_bins((), (), count)


def records_of(rows: list[Row], country_of: CountryOf) -> list[RequestRecord]:
    """Each row as the record kept in ``records("requests")`` (``keep_records``)."""
    records = []
    for at, latency, tenant, rule, consumer, model, status, annotations, sent, answered, ip, header, seen, request_id, key_id in rows:
        usage = annotations.get(USAGE)
        upstream_ms = _number(annotations.get(UPSTREAM_MS))
        cost = _number(annotations.get("cost"))
        target = annotations.get("target")
        cache = annotations.get("cache")
        records.append(RequestRecord(
            request_id=request_id,
            time=at,
            tenant_id=tenant,
            rule_id=rule,
            consumer_id=consumer,
            key_id=key_id,
            model=model,
            status=status,
            target=None if target is None else str(target),
            input_tokens=_count(usage.get("input_tokens")) if isinstance(usage, dict) else seen.input_tokens if seen else 0,
            output_tokens=_count(usage.get("output_tokens")) if isinstance(usage, dict) else seen.output_tokens if seen else 0,
            cost_micros=round(cost * 1_000_000) if cost is not None else 0,
            latency_ms=latency,
            upstream_ms=upstream_ms,
            overhead_ms=latency - upstream_ms if upstream_ms is not None else None,
            ttft_ms=_number(annotations.get(TTFT_MS)),
            request_bytes=sent,
            response_bytes=answered,
            country=country_of(ip, header),
            cache=cache if isinstance(cache, str) else None,
            moderation_flags=[str(flag) for flag in _flags(annotations)],
            interrupted=str(annotations[INTERRUPTED]) if annotations.get(INTERRUPTED) else None,
        ))
    return records


def _flags(annotations: dict[str, Any]) -> list[Any]:
    moderation = annotations.get("moderation")
    flags = moderation.get("flagged") if isinstance(moderation, dict) else None
    return flags if isinstance(flags, list) else []


def _count(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0


def _number(value: Any) -> float | None:
    """A time or an amount: a finite number >= 0, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        return None
    return float(value)
