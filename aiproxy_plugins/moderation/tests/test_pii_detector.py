"""The PII detector against a labelled set (``pii_labelled.jsonl``), and its checksums.

Each line is a text and the PII it holds as ``[type, value]`` pairs; a found span counts as right
only with the same type, start and end. The set is heavy on look-alikes (Luhn-failing cards,
IBANs with a wrong checksum, order ids, dates, versions, times) because a detector that redacts
those breaks prompts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aiproxy_moderation import find_pii
from aiproxy_moderation.checksums import iban_valid, luhn_valid
from aiproxy_moderation.settings import PII_TYPES

LABELLED = Path(__file__).with_name("pii_labelled.jsonl")
PRECISION_FLOOR = 0.95
RECALL_FLOOR = 0.9


def labelled_rows() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]


def expected_spans(row: dict) -> set[tuple[str, int, int]]:
    spans = set()
    for type_, value in row["pii"]:
        start = row["text"].index(value)
        spans.add((type_, start, start + len(value)))
    return spans


def test_precision_and_recall_meet_their_floors():
    rows = labelled_rows()
    assert len(rows) >= 60
    true_pos = false_pos = false_neg = 0
    per_type: dict[str, list[int]] = {t: [0, 0, 0] for t in PII_TYPES}
    for row in rows:
        expected = expected_spans(row)
        found = {(s.type, s.start, s.end) for s in find_pii(row["text"], PII_TYPES)}
        true_pos += len(expected & found)
        false_pos += len(found - expected)
        false_neg += len(expected - found)
        for type_, *_ in expected & found:
            per_type[type_][0] += 1
        for type_, *_ in found - expected:
            per_type[type_][1] += 1
        for type_, *_ in expected - found:
            per_type[type_][2] += 1
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(f"\nPII detector on {len(rows)} texts: {true_pos} right, {false_pos} wrong, {false_neg} missed; "
          f"precision {precision:.3f}, recall {recall:.3f}")
    for type_, (tp, fp, fn) in per_type.items():
        print(f"  {type_:5}: {tp} right, {fp} wrong, {fn} missed")
    assert precision >= PRECISION_FLOOR
    assert recall >= RECALL_FLOOR


def test_every_labelled_negative_text_has_look_alikes():
    # A guard on the set itself: the negatives must stay hard (digits or @ or dots), not filler.
    negatives = [row["text"] for row in labelled_rows() if not row["pii"]]
    assert len(negatives) >= 20
    assert sum(bool(re.search(r"\d{3}|@|\d\.\d", text)) for text in negatives) >= 18


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4111111111111111", True), ("4111111111111112", False), ("378282246310005", True), ("79927398713", True), ("12a4", False)],
)
def test_luhn(number, valid):
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("de89370400440532013000", True),
        ("DE89 3704 0044 0532 0130 01", False),
        ("GB82WEST12345698765432", True),
        ("XX00", False),
        ("DE8937040044053201300!", False),
    ],
)
def test_iban_checksum(iban, valid):
    assert iban_valid(iban) is valid


def test_tenant_patterns_win_overlaps_and_name_their_type():
    custom = [("EMPLOYEE", re.compile(r"EMP-\d{6}"))]
    spans = find_pii("ask EMP-123456 at 10.1.2.3", PII_TYPES, custom)
    assert [(s.type, s.text) for s in spans] == [("EMPLOYEE", "EMP-123456"), ("IP", "10.1.2.3")]


def test_types_can_be_switched_off():
    assert [span.type for span in find_pii("mail a@example.com from 10.0.0.1", ["IP"])] == ["IP"]
