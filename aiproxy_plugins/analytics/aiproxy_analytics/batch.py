"""A flush's rows, added up: one :class:`Aggregate` per combination of groups (tenant, minute,
consumer, rule, model, status class, country), and the kept records when they are on.

One pass in Python finds each row's group (a slice of the row: its minute is worked out only when
the rows cross into the next), a transpose in C takes the columns out; the sums and the sketches' bins are then numpy's work (``bincount`` per column, one
``unique`` for every combination's latency bins at once), so a row costs a few reads, not a
dozen additions and a logarithm in the interpreter. numpy also checks the values: the row holds
them as the request's annotations had them, and a plugin may annotate anything.
"""

from __future__ import annotations

import math
import operator
from itertools import repeat
from typing import Any, Sequence

import numpy

from .aggregate import COUNT_FIELDS, Aggregate
from .country import CountryOf
from .keys import NO_VALUE
from .record import RequestRecord, status_class
from .row import (
    CACHE, CLIENT_IP, CONSUMER, COST, COUNTRY_HEADER, FLAGS, GROUPED, INPUT_TOKENS, INTERRUPTED_BY, KEY_ID, LATENCY, MODEL, OUTPUT_TOKENS,
    REQUEST_BYTES, REQUEST_ID, RESPONSE_BYTES, RULE, STATUS, TARGET, TENANT, TIME, TTFT, UPSTREAM, Row,
)
from .sketch import LatencySketch, bin_keys

__all__ = ["Combination", "aggregates_of", "records_of"]

#: A request's every group at once: tenant, minute, consumer, rule, model, status class, country.
Combination = tuple[str, int, str, str, str, str, str]

def aggregates_of(rows: list[Row], country_of: CountryOf, accuracy: float) -> dict[Combination, Aggregate]:
    raw_groups, raw_keys = _raw_groups(rows)
    # Each raw group's combination: status class and country once per group, not once per row;
    # groups that differ only in address or status but share a country and class become one.
    index: dict[Combination, int] = {}
    final = []
    for (minute, (tenant, rule, consumer, model, status, address, header)) in raw_keys:
        combination = (
            tenant, minute, consumer or NO_VALUE, rule, model or NO_VALUE, status_class(status),
            country_of(address, header),
        )
        final.append(index.setdefault(combination, len(index)))
    group_array = numpy.array(final, dtype=numpy.int64)[numpy.fromiter(raw_groups, dtype=numpy.int64, count=len(raw_groups))]
    size = len(index)
    # One transpose in C instead of a comprehension per column; numpy checks the values.
    columns = list(zip(*rows))
    interrupted = numpy.fromiter(map(bool, columns[INTERRUPTED_BY]), dtype=bool, count=len(rows))
    # An error is what the client saw as one: a 4xx/5xx answer, or a stream cut short.
    errors = (numpy.fromiter(columns[STATUS], dtype=numpy.float64, count=len(rows)) >= 400) | interrupted
    # Cost is summed in integer micro-dollars, each request's rounded first (as one request's is).
    micros = numpy.rint(_numbers(columns[COST]) * 1_000_000)
    counted = [
        errors, _numbers(columns[INPUT_TOKENS]), _numbers(columns[OUTPUT_TOKENS]), micros, _numbers(columns[REQUEST_BYTES]),
        _numbers(columns[RESPONSE_BYTES]), interrupted, numpy.fromiter(map(operator.eq, columns[CACHE], repeat("hit")), dtype=bool, count=len(rows)),
        numpy.fromiter(map(bool, columns[FLAGS]), dtype=bool, count=len(rows)),
    ]
    sums = [numpy.bincount(group_array, minlength=size)]
    sums += [numpy.bincount(group_array, weights=column, minlength=size) for column in counted]
    aggregates = [Aggregate(accuracy) for _ in range(size)]
    for position, name in enumerate(COUNT_FIELDS):
        for group, total in enumerate(sums[position].tolist()):
            aggregates[group].counts[name] = int(total)
    _add_bins([aggregate.latency for aggregate in aggregates], group_array, _numbers(columns[LATENCY]), accuracy)
    ttfts = _numbers(columns[TTFT], missing=numpy.nan)
    timed = ~numpy.isnan(ttfts)
    if timed.any():
        _add_bins([aggregate.ttft for aggregate in aggregates], group_array[timed], ttfts[timed], accuracy)
    return dict(zip(index, aggregates))


def _raw_groups(rows: list[Row]) -> tuple[list[int], list[tuple[int, tuple[Any, ...]]]]:
    """Each row's raw group (its minute and the fields it is grouped by, taken with one slice),
    and every raw group's key. Rows come in time order, so the minute is worked out only when a
    row crosses into the next one."""
    groups: list[int] = []
    keys: list[tuple[int, tuple[Any, ...]]] = []
    index: dict[tuple[Any, ...], int] = {}
    minute, ends = 0, -math.inf
    for row in rows:
        at = row[TIME]
        if not minute <= at < ends:
            minute = int(at // 60) * 60
            ends = minute + 60
            index = {}  # a new minute (or a row out of order): its own groups
        grouped = row[GROUPED]
        group = index.get(grouped)
        if group is None:
            group = index[grouped] = len(keys)
            keys.append((minute, grouped))
        groups.append(group)
    return groups, keys


def _numbers(values: Sequence[Any], missing: float = 0.0) -> numpy.ndarray:
    """``values`` as floats, None as ``missing``; anything not a number (a plugin's mistake in an
    annotation) counts as ``missing`` too, as do negative and infinite ones, so one bad value
    cannot break or skew a whole flush."""
    try:  # fromiter: none of numpy.array's discovery of each value's shape and type
        array = numpy.fromiter(values, dtype=numpy.float64, count=len(values))
    except (TypeError, ValueError):
        array = numpy.array([value if _number(value) is not None else None for value in values], dtype=numpy.float64)
    array[~((array >= 0) & (array < numpy.inf))] = missing  # NaN (from None) compares false
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
    for row in rows:
        latency, upstream_ms, cost, target, cache, interrupted = (
            row[LATENCY], _number(row[UPSTREAM]), _number(row[COST]), row[TARGET], row[CACHE], row[INTERRUPTED_BY],
        )
        records.append(RequestRecord(
            request_id=row[REQUEST_ID],
            time=row[TIME],
            tenant_id=row[TENANT],
            rule_id=row[RULE],
            consumer_id=row[CONSUMER],
            key_id=row[KEY_ID],
            model=row[MODEL],
            status=row[STATUS],
            target=None if target is None else str(target),
            input_tokens=_count(row[INPUT_TOKENS]),
            output_tokens=_count(row[OUTPUT_TOKENS]),
            cost_micros=round(cost * 1_000_000) if cost is not None else 0,
            latency_ms=latency,
            upstream_ms=upstream_ms,
            overhead_ms=latency - upstream_ms if upstream_ms is not None else None,
            ttft_ms=_number(row[TTFT]),
            request_bytes=row[REQUEST_BYTES],
            response_bytes=row[RESPONSE_BYTES],
            country=country_of(row[CLIENT_IP], row[COUNTRY_HEADER]),
            cache=cache if isinstance(cache, str) else None,
            moderation_flags=list(row[FLAGS]),
            interrupted=str(interrupted) if interrupted else None,
        ))
    return records


def _count(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


def _number(value: Any) -> float | None:
    """A time, an amount or a count: a finite number >= 0, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        return None
    return float(value)
