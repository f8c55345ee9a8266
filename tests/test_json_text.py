"""json_text.loads reads what json.loads reads, exactly: integers past 64 bits stay integers (orjson
would give floats), also when other long digit runs sit inside strings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiproxy_core.json_text import loads

TEXTS = [
    '{"id": "3a41b2c9000000000000000000001f2e", "n": 1}',  # a request id: 19+ digits inside a string
    '{"id": "1234567890123456789012", "big": 123456789012345678901234}',
    "[18446744073709551615]",  # 2**64 - 1: orjson's own int
    "[18446744073709551616]",  # 2**64: orjson would say 1.8446744073709552e+19
    "-9223372036854775809",  # below -2**63
    '{"deep": [{"x": 99999999999999999999}]}',
    "[1e19, 12345678901234567890.5]",  # floats as large: the same floats either way
]


@pytest.mark.parametrize("text", TEXTS)
def test_loads_reads_what_json_reads(text: str) -> None:
    value = loads(text)
    assert value == json.loads(text)
    assert json.dumps(value) == json.dumps(json.loads(text))  # types too: 10**20 is no 1e20


def test_a_long_digit_run_inside_a_string_still_takes_the_fast_parser() -> None:
    # Not a promise of speed: the value must be the same, and an int stays an int.
    value = loads(b'{"request_id": "00000000000000000000001", "tokens": 12}')
    assert value == {"request_id": "00000000000000000000001", "tokens": 12}
    assert type(value["tokens"]) is int


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet="0123456789ab\"\\") | st.floats(allow_nan=False, allow_infinity=False),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4), max_leaves=12))
def test_any_json_value_reads_back_as_json_loads_reads_it(value: object) -> None:
    text = json.dumps(value)
    assert json.dumps(loads(text)) == json.dumps(json.loads(text))
