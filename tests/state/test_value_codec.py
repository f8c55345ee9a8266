"""State values are written as canonical JSON text (compare-and-set compares it), and the faster
encoder and decoder (orjson) must not change one character of it or one value read back.

The reference is the encoding every earlier version wrote: ``json`` with sorted keys, no spaces and
UTF-8 as is. Hypothesis generates values of every kind the state API accepts, the edges included
(floats Python writes with an exponent, integers past 64 bits, control characters, separators).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiproxy_core.json_text import loads
from aiproxy_core.state.value_codec import decode, dump_json, encode

REFERENCE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")).encode

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)  # no lone surrogates: refused anyway
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(texts, inner, max_size=5), max_leaves=30)


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 is not 1.0 is not True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=800, deadline=None)
@given(values)
def test_the_text_is_the_canonical_json_of_every_earlier_version(value: Any) -> None:
    assert dump_json(value) == REFERENCE(value)


@settings(max_examples=800, deadline=None)
@given(values)
def test_every_value_reads_back_equal_with_its_types(value: Any) -> None:
    assert same(decode(encode(value)), value)
    assert same(loads(REFERENCE(value)), json.loads(REFERENCE(value)))
    assert same(loads(REFERENCE(value).encode()), json.loads(REFERENCE(value)))


@pytest.mark.parametrize(
    "value",
    [1e-05, 1e16, -2.5e-300, 1.7976931348623157e308, 2**64, -(2**63) - 1, 12345678901234567890123, {"b": [1e22, 0.5], "a": 2**80}],
)
def test_exponent_floats_and_big_integers_keep_their_text_and_their_type(value: Any) -> None:
    text = dump_json(value)
    assert text == REFERENCE(value)
    assert same(decode("j" + text), value)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "1" * 400])
def test_what_json_reads_and_orjson_refuses_still_reads_as_json_reads_it(text: str) -> None:
    expected = json.loads(text)
    got = loads(text)
    assert repr(got) == repr(expected)  # NaN != NaN: compare what they are


@pytest.mark.parametrize("bad", ["", "{", '{"a": 1,}', "[1] 2", b"\xff\xfe"])
def test_what_json_refuses_is_refused_with_a_value_error(bad: str | bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        loads(bad)


def test_refusals_still_name_what_to_fix() -> None:
    with pytest.raises(ValueError, match=r"value\['a'\]\[1\] is a set"):
        dump_json({"a": [1, {2}]})
    with pytest.raises(ValueError, match="NaN or infinity"):
        dump_json([float("nan")])
    with pytest.raises(ValueError, match="lone surrogate"):
        dump_json({"a": "\ud800"})
    with pytest.raises(ValueError, match="nested too deeply"):
        deep: Any = []
        for _ in range(100_000):
            deep = [deep]
        dump_json(deep)
