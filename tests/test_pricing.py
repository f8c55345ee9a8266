"""``aiproxy_core.pricing``: the dated model price table (data), how client model names resolve in
it, a tenant's prices over it, and the cost of one answer from each API's usage shape."""

from __future__ import annotations

import fnmatch
import json
import math
import tomllib
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from aiproxy_core.openai_shapes import TokenUsage
from aiproxy_core.pricing import (
    MAX_RESOLVED_NAMES,
    ModelPrice,
    ModelPriceInput,
    PriceOverrides,
    PriceTable,
    UsageCounts,
    format_cost,
    usage_counts,
)
from aiproxy_core.pricing import price_table as price_table_module
from aiproxy_core.pricing.price_file import PRICE_FILE, load_price_file

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = PriceTable.builtin()


def builtin(name: str) -> ModelPrice:
    return BUILTIN.prices[name]


# -- resolving the names clients send -----------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "priced_as"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("azure/openai/gpt-4o-mini", "gpt-4o-mini"),
        ("anthropic/claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the longest name, not gpt-4o
        ("gpt-4o-mini-search-preview", "gpt-4o-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("gpt-5-chat-latest", "gpt-5"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("CLAUDE-3-HAIKU-20240307", "claude-3-haiku"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("mock-model", "mock-model"),
    ],
)
def test_client_names_resolve_to_the_priced_model(asked: str, priced_as: str) -> None:
    assert BUILTIN.price_of(asked) is builtin(priced_as)


def test_an_entry_of_its_own_wins_over_the_family_it_starts_with() -> None:
    # Priced apart from gpt-4o, gpt-5, o3: the exact name is found before any rule applies.
    assert BUILTIN.price_of("gpt-4o-2024-05-13") == ModelPrice(5.0, 15.0)
    assert BUILTIN.price_of("gpt-5-pro") is builtin("gpt-5-pro") != builtin("gpt-5")
    assert BUILTIN.price_of("o3-pro-2025-06-10") is builtin("o3-pro")


def test_the_longest_priced_prefix_ending_at_a_dash_wins() -> None:
    short, long = ModelPrice(1, 1), ModelPrice(2, 2)
    table = PriceTable({"fam": short, "fam-mini": long})
    assert table.price_of("fam-mini-x-y") is long
    assert table.price_of("fam-minix") is short  # "fam-mini" is not followed by "-" there
    assert table.price_of("fam-x") is short
    assert table.price_of("family") is None  # a prefix must end at a "-"
    assert table.price_of("-fam") is None


@pytest.mark.parametrize(
    "unknown",
    [
        "",
        "llama-3-70b",
        "gpt",
        "gpt-4",  # not priced: gpt-4-1106-preview would be mispriced as it
        "ft:gpt-4o-mini-2024-07-18:org::abc123",  # fine-tunes cost more: unknown, not gpt-4o-mini
        "openai/",
        "/",
        "o",
        "x" * 201,
    ],
)
def test_unknown_models_have_no_price_and_no_cost(unknown: str) -> None:
    assert BUILTIN.price_of(unknown) is None
    assert BUILTIN.cost(unknown, UsageCounts(10, 10)) is None


def test_a_name_longer_than_200_characters_is_not_resolved_nor_remembered() -> None:
    table = PriceTable({"m": ModelPrice(1, 1)})
    assert table.price_of("m-" + "x" * 198) is not None  # 200 characters
    assert table.price_of("m-" + "x" * 199) is None
    assert len(table._resolved) == 1


def test_non_text_names_have_no_price() -> None:
    assert BUILTIN.price_of(None) is None  # type: ignore[arg-type]
    assert BUILTIN.price_of(42) is None  # type: ignore[arg-type]


def test_resolutions_are_remembered_in_a_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_RESOLVED_NAMES == 4096
    table = PriceTable({"gpt-4o": ModelPrice(1, 1)})
    for index in range(MAX_RESOLVED_NAMES + 100):  # client-chosen names, each new
        table.price_of(f"gpt-4o-{index}")
    assert 0 < len(table._resolved) <= MAX_RESOLVED_NAMES
    monkeypatch.setattr(price_table_module, "MAX_RESOLVED_NAMES", 8)
    small = PriceTable({"gpt-4o": ModelPrice(1, 1)})
    for index in range(50):
        assert small.price_of(f"gpt-4o-{index}") is not None
        assert len(small._resolved) <= 8
    assert small.price_of("gpt-4o-49") is small.prices["gpt-4o"]  # still right after clearing


def test_the_builtin_table_is_read_once() -> None:
    assert PriceTable.builtin() is PriceTable.builtin()
    assert PriceTable.builtin().as_of == date(2026, 11, 1)


# -- cost of each API's usage ---------------------------------------------------------------------


def test_openai_chat_usage_with_cached_tokens_inside_prompt_tokens() -> None:
    usage = {
        "prompt_tokens": 2000,
        "completion_tokens": 300,
        "total_tokens": 2300,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 100},
    }
    counts = usage_counts(usage)
    assert counts == UsageCounts(2000, 300, cached_input_tokens=1024)
    # gpt-4o: 976 uncached * 2.50 + 1024 cached * 1.25 + 300 * 10.00, per 1M
    assert BUILTIN.cost("gpt-4o-2024-08-06", counts) == pytest.approx((976 * 2.5 + 1024 * 1.25 + 300 * 10) / 1e6, abs=1e-12)
    assert BUILTIN.cost("gpt-4o", counts) == 0.00672


def test_openai_responses_usage_with_cached_input_tokens() -> None:
    usage = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 400}, "output_tokens": 50,
             "output_tokens_details": {"reasoning_tokens": 20}, "total_tokens": 1050}
    counts = usage_counts(usage)
    assert counts == UsageCounts(1000, 50, cached_input_tokens=400)
    # gpt-5-mini: 600 * 0.25 + 400 * 0.025 + 50 * 2.00 = 150 + 10 + 100
    assert BUILTIN.cost("gpt-5-mini", counts) == 0.00026


def test_anthropic_usage_with_cache_reads_and_writes_outside_input_tokens() -> None:
    usage = {"input_tokens": 100, "cache_read_input_tokens": 5000, "cache_creation_input_tokens": 2000, "output_tokens": 400}
    counts = usage_counts(usage)
    assert counts == UsageCounts(7100, 400, cached_input_tokens=5000, cache_write_tokens=2000)
    assert counts is not None and counts.uncached_input_tokens == 100
    # claude-sonnet-4-5: 100 * 3 + 5000 * 0.30 + 2000 * 3.75 + 400 * 15 = 300 + 1500 + 7500 + 6000
    assert BUILTIN.cost("claude-sonnet-4-5-20250929", counts) == 0.0153


def test_anthropic_usage_without_cache_keys_and_its_streamed_output_only_delta() -> None:
    assert usage_counts({"input_tokens": 12, "output_tokens": 34}) == UsageCounts(12, 34)
    assert usage_counts({"output_tokens": 34}) == UsageCounts(0, 34)
    assert usage_counts({"input_tokens": 12, "cache_read_input_tokens": None, "output_tokens": 1}) == UsageCounts(12, 1)


def test_embeddings_usage_has_no_completion_tokens() -> None:
    counts = usage_counts({"prompt_tokens": 8, "total_tokens": 8})
    assert counts == UsageCounts(8, 0)
    assert BUILTIN.cost("text-embedding-3-small", counts) == 1.6e-7
    assert format_cost(1.6e-7) == "0.00000016"


def test_token_usage_from_openai_shapes_prices_all_input_as_uncached() -> None:
    assert BUILTIN.cost("gpt-4o-mini", TokenUsage(1_000_000, 1_000_000, None)) == 0.75
    assert BUILTIN.cost("gpt-4o-mini", TokenUsage(10**13, 0, None)) is None  # beyond MAX_TOKENS: garbage


def test_missing_cache_prices_fall_back_to_the_input_price() -> None:
    table = PriceTable({"plain": ModelPrice(2.0, 4.0)})
    counts = UsageCounts(1000, 0, cached_input_tokens=300, cache_write_tokens=200)
    assert table.cost("plain", counts) == 0.002  # 1000 input tokens at 2.0, however cached
    assert BUILTIN.cost("gpt-3.5-turbo", UsageCounts(100, 0, cached_input_tokens=100)) == 0.00005


def test_the_mock_upstreams_model_has_a_cost_for_the_offline_demo() -> None:
    from aiproxy_core.mock_upstream.app import MOCK_MODEL

    price = BUILTIN.price_of(MOCK_MODEL)
    assert price is not None and price.input > 0
    assert BUILTIN.cost(MOCK_MODEL, usage_counts({"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8})) == 0.000013


def test_no_cost_without_a_model_or_a_usage() -> None:
    assert BUILTIN.cost(None, UsageCounts(1, 1)) is None
    assert BUILTIN.cost("gpt-4o", None) is None
    assert BUILTIN.cost("gpt-4o", usage_counts({})) is None


def test_costs_are_rounded_to_ten_decimals() -> None:
    table = PriceTable({"m": ModelPrice(0.1, 0.2)})
    assert table.cost("m", UsageCounts(3, 0)) == 3e-7  # not 3.0000000000000004e-07
    assert table.cost("m", UsageCounts(1, 0)) == 1e-7
    assert PriceTable({"m": ModelPrice(0.00001, 0)}).cost("m", UsageCounts(1, 0)) == 0.0  # below 1e-10 USD


@pytest.mark.parametrize(
    "hostile",
    [
        None, 3, "usage", [], [1], True,
        {"prompt_tokens": "10", "completion_tokens": "5"},
        {"prompt_tokens": True, "completion_tokens": False},
        {"prompt_tokens": -5, "completion_tokens": -1},
        {"prompt_tokens": 10**30, "completion_tokens": 2**64},
        {"prompt_tokens": 1.5, "completion_tokens": float("nan")},
        {"input_tokens": None, "output_tokens": {}},
        {"cache_read_input_tokens": "x", "cache_creation_input_tokens": -1},
    ],
)
def test_malformed_usage_has_no_counts(hostile: Any) -> None:
    assert usage_counts(hostile) is None


def test_malformed_parts_count_zero_and_cached_tokens_never_exceed_the_prompt() -> None:
    assert usage_counts({"prompt_tokens": 10, "completion_tokens": "5"}) == UsageCounts(10, 0)
    assert usage_counts({"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 99}}) == UsageCounts(
        10, 1, cached_input_tokens=10
    )
    assert usage_counts({"prompt_tokens": 10, "prompt_tokens_details": [1]}) == UsageCounts(10, 0)
    assert usage_counts({"input_tokens": 10, "cache_read_input_tokens": True, "output_tokens": 1}) == UsageCounts(10, 1)
    # Three counts each under the limit, summing over it: refused rather than overflowing.
    assert usage_counts({"input_tokens": 10**12, "cache_read_input_tokens": 10**12, "output_tokens": 1}) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
_usage_keys = st.sampled_from(
    ["prompt_tokens", "completion_tokens", "total_tokens", "input_tokens", "output_tokens", "prompt_tokens_details",
     "input_tokens_details", "cached_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"]
)
_usage_like = st.dictionaries(_usage_keys, _json | st.dictionaries(_usage_keys, _json, max_size=3), max_size=6)


@settings(max_examples=400, deadline=None)
@given(usage=_json | _usage_like, model=st.text(max_size=30) | st.sampled_from(sorted(BUILTIN.prices)))
def test_random_json_usage_never_raises(usage: Any, model: str) -> None:
    counts = usage_counts(usage)
    if counts is not None:
        assert 0 <= counts.cached_input_tokens + counts.cache_write_tokens <= counts.input_tokens
    cost = BUILTIN.cost(model, counts)
    if cost is not None:
        assert math.isfinite(cost) and cost >= 0
        format_cost(cost)


# -- a tenant's own prices ------------------------------------------------------------------------


def test_a_tenants_prices_win_and_resolve_like_the_builtin_ones() -> None:
    tenant = BUILTIN.with_overrides(
        {
            "gpt-4o": {"input": 1.0, "output": 2.0},
            "My-Finetune": ModelPriceInput(input=3, output=6, cached_input=1.5),
            "claude-3-haiku": ModelPrice(0.1, 0.2),
        }
    )
    assert tenant.price_of("gpt-4o-2024-08-06") == ModelPrice(1.0, 2.0)
    assert tenant.cost("openai/gpt-4o", UsageCounts(1000, 1000)) == 0.003
    assert tenant.price_of("my-finetune") == ModelPrice(3.0, 6.0, cached_input=1.5)
    assert tenant.price_of("claude-3-haiku-20240307") == ModelPrice(0.1, 0.2)
    assert tenant.price_of("gpt-4o-mini") is builtin("gpt-4o-mini")  # the rest stays built-in
    assert BUILTIN.price_of("gpt-4o") is builtin("gpt-4o")  # the built-in table is untouched
    assert tenant.as_of == BUILTIN.as_of


def test_no_overrides_is_the_same_table_and_bad_ones_are_refused() -> None:
    assert BUILTIN.with_overrides({}) is BUILTIN
    with pytest.raises(ValidationError):
        BUILTIN.with_overrides({"m": {"input": -1, "output": 1}})
    with pytest.raises(TypeError):
        BUILTIN.with_overrides({"m": 2.5})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        BUILTIN.with_overrides({"x" * 201: ModelPrice(1, 1)})


_overrides = TypeAdapter(PriceOverrides)


def test_price_overrides_accept_a_tenants_document() -> None:
    parsed = _overrides.validate_python(
        {"gpt-4o": {"input": 2, "output": 8.5}, "azure/my-deployment": {"input": 0, "output": 0, "cached_input": 0, "cache_write_input": 0}}
    )
    assert parsed["gpt-4o"] == ModelPriceInput(input=2.0, output=8.5)
    assert parsed["gpt-4o"].to_price() == ModelPrice(2.0, 8.5)
    assert _overrides.validate_json('{"m": {"input": 10000, "output": 1}}')["m"].input == 10000


@pytest.mark.parametrize(
    "document",
    [
        {"m": {"input": 1}},  # output is required
        {"m": {"output": 1}},
        {"m": {"input": 1, "output": 1, "provider": "openai"}},  # extra keys are forbidden
        {"m": {"input": -0.01, "output": 1}},
        {"m": {"input": 1, "output": 10000.01}},
        {"m": {"input": 1, "output": 1, "cached_input": -1}},
        {"m": {"input": "2.5", "output": 1}},
        {"m": {"input": True, "output": 1}},
        {"m": {"input": float("nan"), "output": 1}},
        {"m": {"input": float("inf"), "output": 1}},
        {"": {"input": 1, "output": 1}},
        {"x" * 201: {"input": 1, "output": 1}},
        {"gpt\n4o": {"input": 1, "output": 1}},
        {"gpt\x00": {"input": 1, "output": 1}},
        {"gpt\x7f": {"input": 1, "output": 1}},
        {"GPT-4o": {"input": 1, "output": 1}, "gpt-4o": {"input": 2, "output": 2}},
        {f"m{index}": {"input": 1, "output": 1} for index in range(501)},
        {"m": None},
        [],
    ],
)
def test_price_overrides_refuse_bad_documents(document: Any) -> None:
    with pytest.raises(ValidationError):
        _overrides.validate_python(document)


def test_price_overrides_take_500_models_of_200_character_names() -> None:
    document = {f"{index:03d}" + "m" * 197: {"input": 1, "output": 1} for index in range(500)}
    assert len(_overrides.validate_python(document)) == 500


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf"), True, "1"])
def test_model_price_refuses_what_is_not_a_price(bad: Any) -> None:
    for price in ((bad, 1), (1, bad), (1, 1, bad), (1, 1, None, bad)):
        with pytest.raises(ValueError):
            ModelPrice(*price)
    with pytest.raises(ValueError):
        ModelPrice(1, None)  # type: ignore[arg-type]  # only the cache prices may be absent


@pytest.mark.parametrize("bad", [-1, True, 1.0, "1", 10**12 + 1])
def test_usage_counts_refuse_what_is_not_a_count(bad: Any) -> None:
    with pytest.raises(ValueError):
        UsageCounts(bad, 0)
    with pytest.raises(ValueError):
        UsageCounts(0, 0, cache_write_tokens=bad)


# -- the header value -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cost", "text"),
    [
        (0, "0"),
        (0.0, "0"),
        (-0.0, "0"),
        (1e-11, "0"),
        (1e-10, "0.0000000001"),
        (0.0000125, "0.0000125"),
        (1.25e-05, "0.0000125"),
        (0.00674, "0.00674"),
        (0.1 + 0.2, "0.3"),
        (2.0, "2"),
        (1.5, "1.5"),
        (123456.789, "123456.789"),
        (1e20, "100000000000000000000"),
    ],
)
def test_format_cost(cost: float, text: str) -> None:
    assert format_cost(cost) == text


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_format_cost_refuses_what_is_not_a_cost(bad: float) -> None:
    with pytest.raises(ValueError):
        format_cost(bad)


@given(st.floats(min_value=0, max_value=1e9))
def test_format_cost_is_a_plain_decimal_within_1e_10(cost: float) -> None:
    text = format_cost(cost)
    assert "e" not in text.lower() and not text.endswith(".")
    assert text == "0" or not text.endswith("0") or "." not in text
    assert len(text.partition(".")[2]) <= 10
    assert abs(Decimal(text) - Decimal(cost)) <= Decimal("0.00000000005") + Decimal(cost) * Decimal("1e-15")


# -- the data file --------------------------------------------------------------------------------

#: The models the table must price: OpenAI's and Anthropic's common ones, and the mock's.
REQUIRED_MODELS = {
    "openai": [
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini", "o4-mini",
        "gpt-3.5-turbo", "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
        "gpt-5", "gpt-5-mini", "gpt-5-nano",
    ],
    "anthropic": [
        "claude-3-5-haiku", "claude-3-5-sonnet", "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4",
        "claude-opus-4-1", "claude-haiku-4-5", "claude-sonnet-4-5", "claude-3-haiku", "claude-3-opus",
    ],
    "mock": ["mock-model"],
}


def _raw_price_file() -> dict[str, Any]:
    text = resources.files("aiproxy_core.pricing").joinpath(PRICE_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def test_the_price_file_is_dated_sourced_and_every_entry_is_a_valid_price() -> None:
    document = _raw_price_file()
    assert date.fromisoformat(document["as_of"]) == date(2026, 11, 1)
    assert (document["currency"], document["unit"]) == ("USD", "per 1M tokens")
    assert "pricing" in document["source"]
    known = {"provider", "input", "output", "cached_input", "cache_write_input"}
    for name, entry in document["models"].items():
        assert set(entry) <= known and {"provider", "input", "output"} <= set(entry), name
        assert entry["provider"] in REQUIRED_MODELS, name
        for key in known - {"provider"}:
            value = entry.get(key, 0)
            assert type(value) in (int, float) and math.isfinite(value) and 0 <= value <= 10_000, (name, key)
        # Sanity of hand-typed numbers: a cache read is a discount, a cache write a surcharge.
        assert entry.get("cached_input", entry["input"]) <= entry["input"], name
        assert entry.get("cache_write_input", entry["input"]) >= entry["input"], name
    for provider, names in REQUIRED_MODELS.items():
        for name in names:
            assert document["models"][name]["provider"] == provider, name
    for name in REQUIRED_MODELS["anthropic"]:
        assert {"cached_input", "cache_write_input"} <= set(document["models"][name]), name


def test_the_loaded_table_is_the_file() -> None:
    document = _raw_price_file()
    assert set(BUILTIN.prices) == set(document["models"])
    for name, entry in document["models"].items():
        price = BUILTIN.prices[name]
        assert (price.input, price.output, price.cached_input, price.cache_write_input) == (
            entry["input"], entry["output"], entry.get("cached_input"), entry.get("cache_write_input")
        )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("as_of"), "missing keys"),
        (lambda d: d.update(as_of="November 2026"), "as_of"),
        (lambda d: d.update(unit="per 1K tokens"), "per 1M"),
        (lambda d: d["models"]["gpt-4o"].update(input=-1), "gpt-4o"),
        (lambda d: d["models"]["gpt-4o"].update(output="10"), "gpt-4o"),
        (lambda d: d["models"]["gpt-4o"].update(cache_read=1), "unknown keys"),
        (lambda d: d["models"].update({"GPT-X": {"provider": "openai", "input": 1, "output": 1}}), "lowercase"),
    ],
)
def test_a_mistyped_price_file_fails_loudly(change: Any, problem: str) -> None:
    document = _raw_price_file()
    change(document)
    with pytest.raises(ValueError, match=problem):
        load_price_file(json.dumps(document))


def test_a_model_priced_twice_in_the_file_fails_loudly() -> None:
    text = json.dumps(_raw_price_file()).replace('"gpt-4o": {', '"gpt-4o": {"provider": "x"}, "gpt-4o": {', 1)
    with pytest.raises(ValueError, match="twice"):
        load_price_file(text)


def test_the_price_file_is_shipped_as_package_data() -> None:
    # importlib.resources finds it in a source checkout either way; a wheel has it only if listed.
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data.get("aiproxy_core.pricing", []) + [
        pattern.removeprefix("pricing/") for pattern in package_data.get("aiproxy_core", []) if pattern.startswith("pricing/")
    ]
    assert any(fnmatch.fnmatch(PRICE_FILE, pattern) for pattern in patterns), "add it to [tool.setuptools.package-data]"
