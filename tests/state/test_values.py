"""The values primitive of the state API, on every backend (``state_backend``: SQLite and Redis).

Everything goes through the public API, ``service.for_plugin(name).values(tenant)``, and every
assertion is about what a plugin reads back afterwards.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from aiproxy_core.state import CompareAndSet, Delete, Increment, Set, SetIfAbsent, StateService

# -- helpers ---------------------------------------------------------------------------------------


def values(service: StateService, tenant: str = "t1", plugin: str = "p"):  # type: ignore[no-untyped-def]
    return service.for_plugin(plugin).values(tenant)


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    """Poll the async ``condition`` until it holds; fail after ``timeout`` seconds (a bound, not a speed check)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        await asyncio.sleep(0.05)


ROUND_TRIPS = [
    {"a": 1, "b": [1, 2.5, "x", None, True, False], "c": {"d": {"e": []}}},
    [],
    {},
    [1, [2, [3, {"four": 4}]]],
    "",
    "plain",
    "ünïcødé ✓ 漢字 🎉",
    'quotes " and \\ backslashes \n newlines \x01',
    0,
    1,
    -17,
    2**62,
    2**80,
    1.5,
    1.0,
    -0.25,
    1e300,
    True,
    False,
    b"",
    b"\x00\xff\x80 binary \r\n",
    bytes(range(256)) * 40,
    "j{} looks like an encoding",
    "b AAAA",
]


# -- get / set / round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=lambda v: type(v).__name__ + ":" + repr(v)[:20])
async def test_every_value_type_reads_back_equal_with_its_type(state_backend, value):
    store = values(state_backend)
    await store.set("k", value)
    got = await store.get("k")
    assert got == value
    assert type(got) is type(value)  # bytes stay bytes, 1.0 stays a float, True a bool
    if isinstance(value, dict) and "b" in value:
        assert [type(item) for item in got["b"]] == [int, float, str, type(None), bool, bool]


async def test_get_of_an_absent_key_is_none_and_set_overwrites(state_backend):
    store = values(state_backend)
    assert await store.get("missing") is None
    await store.set("k", {"v": 1})
    await store.set("k", b"second")
    assert await store.get("k") == b"second"


async def test_a_stored_none_is_a_key_that_exists(state_backend):
    store = values(state_backend)
    await store.set("k", None)
    assert await store.get("k") is None
    assert await store.keys() == ["k"]
    assert await store.set_if_absent("k", 1) is False
    assert await store.compare_and_set("k", None, 2) is False  # expected None means absent


@pytest.mark.parametrize(
    "bad, named",
    [
        ({1, 2}, "value is a set"),
        ((1, 2), "value is a tuple"),
        ({1: "a"}, "has the key 1 (int)"),
        ({"a": [1, {2}]}, "value['a'][1] is a set"),
        (math.nan, "NaN"),
        ({"x": math.inf}, "value['x'] is inf"),
        ([b"x"], "value[0] is bytes"),
        (object(), "value is a object"),
        (bytearray(b"x"), "value is a bytearray"),
        ("\ud800", "lone surrogate"),
    ],
    ids=lambda v: repr(v)[:20],
)
async def test_what_cannot_be_stored_is_refused_naming_the_problem_and_nothing_is_written(state_backend, bad, named):
    store = values(state_backend)
    await store.set("k", "before")
    for write in (
        store.set("k", bad),
        store.set_if_absent("new", bad),
        store.compare_and_set("k", "before", bad),
        store.atomic([Set("other", 1), Set("k", bad)]),
    ):
        with pytest.raises(ValueError) as refused:
            await write
        assert named in str(refused.value)
    assert await store.get("k") == "before"
    assert await store.keys() == ["k"]


async def test_a_value_nested_too_deeply_is_refused(state_backend):
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        await values(state_backend).set("k", deep)


@pytest.mark.parametrize("key", ["x" * 513, "a\x00b", 7, None])
async def test_bad_keys_are_refused(state_backend, key):
    store = values(state_backend)
    for call in (store.get(key), store.set(key, 1), store.delete(key), store.increment(key, {"n": 1}), store.atomic([Set(key, 1)])):
        with pytest.raises(ValueError, match="at most 512 characters"):
            await call
    assert await store.keys() == []


async def test_a_key_of_512_characters_and_any_text_is_fine(state_backend):
    store = values(state_backend)
    for key in ("x" * 512, "a:b:{c}*?[d]\\", "ü✓ 🎉", " "):
        await store.set(key, key)
        assert await store.get(key) == key


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf, "1", True])
async def test_bad_ttls_are_refused(state_backend, ttl):
    store = values(state_backend)
    for call in (store.set("k", 1, ttl), store.set_if_absent("k", 1, ttl), store.increment("k", {"n": 1}, ttl), store.atomic([Set("k", 1, ttl)])):
        with pytest.raises(ValueError, match="ttl is a positive number"):
            await call
    assert await store.keys() == []


# -- TTLs ------------------------------------------------------------------------------------------


async def test_set_with_a_ttl_expires_and_a_later_set_without_one_does_not(state_backend):
    store = values(state_backend)
    await store.set("short", "v", ttl=0.2)
    await store.set("kept", "v", ttl=0.2)
    await store.set("kept", "v2")  # a set without ttl: never expires
    assert await store.get("short") == "v"

    async def gone() -> bool:
        return await store.get("short") is None

    await wait_until(gone)
    assert await store.keys() == ["kept"]
    assert await store.delete("short") is False
    assert await store.get("kept") == "v2"


async def test_set_if_absent_with_a_ttl_expires_and_then_can_be_taken_again(state_backend):
    store = values(state_backend)
    assert await store.set_if_absent("lock", "first", ttl=0.2) is True
    assert await store.set_if_absent("lock", "second", ttl=0.2) is False

    async def taken() -> bool:
        return await store.set_if_absent("lock", "third") is True

    await wait_until(taken)
    assert await store.get("lock") == "third"


async def test_increment_ttl_is_set_at_creation_only(state_backend):
    store = values(state_backend)
    assert await store.increment("window", {"n": 1}, ttl=0.3) == {"n": 1}
    assert await store.increment("window", {"n": 1}, ttl=3600) == {"n": 2}  # does not extend it
    assert await store.increment("forever", {"n": 1}) == {"n": 1}

    async def gone() -> bool:
        return await store.fields("window") == {}

    await wait_until(gone)
    assert await store.increment("window", {"n": 5}) == {"n": 5}  # a new record, no TTL
    await asyncio.sleep(0.4)
    assert await store.fields("window") == {"n": 5}
    assert await store.fields("forever") == {"n": 1}


# -- set_if_absent / delete / compare_and_set ------------------------------------------------------


async def test_set_if_absent_writes_once(state_backend):
    store = values(state_backend)
    assert await store.set_if_absent("k", {"owner": "a"}) is True
    assert await store.set_if_absent("k", {"owner": "b"}) is False
    assert await store.get("k") == {"owner": "a"}
    await store.increment("fields", {"n": 1})
    assert await store.set_if_absent("fields", 1) is False  # a field record exists too


async def test_delete_says_whether_something_was_deleted(state_backend):
    store = values(state_backend)
    await store.set("k", 1)
    await store.increment("f", {"n": 1})
    assert await store.delete("k") is True
    assert await store.delete("k") is False
    assert await store.delete("f") is True
    assert await store.delete("never") is False
    assert await store.get("k") is None and await store.fields("f") == {}


async def test_compare_and_set_writes_only_over_the_expected_value(state_backend):
    store = values(state_backend)
    assert await store.compare_and_set("k", "wrong", 1) is False
    assert await store.get("k") is None  # an absent key holds nothing but None
    assert await store.compare_and_set("k", None, {"v": 1}) is True
    assert await store.compare_and_set("k", None, {"v": 9}) is False
    assert await store.compare_and_set("k", {"v": 2}, {"v": 9}) is False
    assert await store.compare_and_set("k", {"v": 1}, {"v": 2}) is True
    assert await store.get("k") == {"v": 2}


async def test_compare_and_set_compares_dicts_by_value_and_bytes_exactly(state_backend):
    store = values(state_backend)
    await store.set("d", {"a": 1, "b": [1, 2]})
    assert await store.compare_and_set("d", {"b": [1, 2], "a": 1}, "next") is True  # key order does not matter
    await store.set("raw", b"\x00\x01")
    assert await store.compare_and_set("raw", b"\x00\x02", b"x") is False
    assert await store.compare_and_set("raw", "\x00\x01", b"x") is False  # a str is not bytes
    assert await store.compare_and_set("raw", b"\x00\x01", b"\xff") is True
    assert await store.get("raw") == b"\xff"


async def test_compare_and_set_is_type_strict(state_backend):
    store = values(state_backend)
    await store.set("n", 1)
    assert await store.compare_and_set("n", 1.0, 2) is False
    assert await store.compare_and_set("n", True, 2) is False
    assert await store.compare_and_set("n", 1, 2) is True
    await store.increment("fields", {"n": 1})
    assert await store.compare_and_set("fields", {"n": 1}, 2) is False  # a field record is not a value
    assert await store.fields("fields") == {"n": 1}


async def test_compare_and_set_with_a_ttl(state_backend):
    store = values(state_backend)
    assert await store.compare_and_set("k", None, "v", ttl=0.2) is True

    async def gone() -> bool:
        return await store.get("k") is None

    await wait_until(gone)
    assert await store.compare_and_set("k", None, "again") is True  # an expired key is absent


# -- increment / fields ----------------------------------------------------------------------------


async def test_increment_adds_several_fields_and_returns_all_of_them(state_backend):
    store = values(state_backend)
    assert await store.fields("ledger") == {}
    assert await store.increment("ledger", {"requests": 1, "tokens": 120}) == {"requests": 1, "tokens": 120}
    assert await store.increment("ledger", {"tokens": -20, "cost": 7}) == {"requests": 1, "tokens": 100, "cost": 7}
    assert await store.fields("ledger") == {"requests": 1, "tokens": 100, "cost": 7}
    assert await store.increment("ledger", {}) == {"requests": 1, "tokens": 100, "cost": 7}
    assert await store.increment("empty", {}) == {}
    assert await store.keys() == ["ledger"]  # an empty increment creates nothing


async def test_increment_and_get_keep_values_and_field_records_apart(state_backend):
    store = values(state_backend)
    await store.set("plain", {"n": 1})
    with pytest.raises(ValueError, match="'plain' holds a value \\(written by set\\), not integer fields: nothing was changed"):
        await store.increment("plain", {"n": 1})
    with pytest.raises(ValueError, match="read it with get"):
        await store.fields("plain")
    assert await store.get("plain") == {"n": 1}
    await store.increment("record", {"n": 1})
    with pytest.raises(ValueError, match="read it with fields"):
        await store.get("record")
    await store.set("record", "replaced")  # set writes over either kind
    assert await store.get("record") == "replaced"


@pytest.mark.parametrize(
    "fields, named",
    [({"n": True}, "not True"), ({"n": 1.5}, "not 1.5"), ({"n": "1"}, "not '1'"), ({"": 1}, "field name"), ({3: 1}, "field name"), ({"n": 10**19}, "magnitude")],
)
async def test_bad_increments_are_refused(state_backend, fields, named):
    store = values(state_backend)
    await store.increment("k", {"n": 1})
    with pytest.raises(ValueError, match=named):
        await store.increment("k", fields)
    assert await store.fields("k") == {"n": 1}


async def test_an_increment_past_the_field_limit_adds_nothing(state_backend):
    store = values(state_backend)
    big = 9_000_000_000_000_000_000
    await store.increment("k", {"a": 1, "b": big})
    with pytest.raises(ValueError, match="field 'b' of 'k' would pass 9200000000000000000 in magnitude: nothing was changed"):
        await store.increment("k", {"a": 1, "b": big})
    assert await store.fields("k") == {"a": 1, "b": big}  # not even field a
    assert await store.increment("k", {"b": -big, "a": 1}) == {"a": 2, "b": 0}


# -- keys / delete_prefix --------------------------------------------------------------------------


async def test_keys_in_lexical_order_by_prefix_and_limit(state_backend):
    store = values(state_backend)
    names = ["b", "a:2", "a:10", "a:1", "a", "ab", "A", "ä", "a:\U0010ffff", "a:\U0010ffffz", "z"]
    for name in names:
        await store.set(name, 1)
    await store.increment("a:fields", {"n": 1})
    assert await store.keys() == sorted(names + ["a:fields"])
    assert await store.keys("a:") == ["a:1", "a:10", "a:2", "a:fields", "a:\U0010ffff", "a:\U0010ffffz"]
    assert await store.keys("a:\U0010ffff") == ["a:\U0010ffff", "a:\U0010ffffz"]
    assert await store.keys("a", limit=3) == ["a", "a:1", "a:10"]
    assert await store.keys("nothing") == []
    with pytest.raises(ValueError, match="limit"):
        await store.keys(limit=0)


async def test_keys_and_delete_prefix_take_glob_characters_literally(state_backend):
    store = values(state_backend)
    for name in ("a*", "a*b", "ab", "a?", "ax", "[x]", "x", "back\\slash", "backslash"):
        await store.set(name, 1)
    assert await store.keys("a*") == ["a*", "a*b"]
    assert await store.keys("a?") == ["a?"]
    assert await store.keys("[x") == ["[x]"]
    assert await store.keys("back\\") == ["back\\slash"]
    assert await store.delete_prefix("a*") == 2
    assert await store.delete_prefix("[") == 1
    assert await store.keys() == ["a?", "ab", "ax", "back\\slash", "backslash", "x"]


async def test_delete_prefix_deletes_what_starts_with_it_and_counts(state_backend):
    store = values(state_backend)
    for index in range(30):
        await store.set(f"session:{index}", index)
    await store.increment("session:fields", {"n": 1})
    await store.set("other", 1)
    assert await store.delete_prefix("session:") == 31
    assert await store.keys() == ["other"]
    assert await store.delete_prefix("session:") == 0
    assert await store.delete_prefix("") == 1
    assert await store.keys() == []


async def test_expired_keys_are_not_listed_or_counted(state_backend):
    store = values(state_backend)
    await store.set("p:short", 1, ttl=0.2)
    await store.increment("p:fields", {"n": 1}, ttl=0.2)
    await store.set("p:kept", 1)

    async def only_kept() -> bool:
        return await store.keys("p:") == ["p:kept"]

    await wait_until(only_kept)
    assert await store.delete_prefix("p:") == 1


# -- atomic ----------------------------------------------------------------------------------------


async def test_atomic_applies_every_operation(state_backend):
    store = values(state_backend)
    await store.set("old", "x")
    await store.set("version", 1)
    applied = await store.atomic(
        [
            SetIfAbsent("idempotency:req-1", True, ttl=60),
            CompareAndSet("version", 1, 2),
            Increment("ledger", {"requests": 1, "tokens": 42}),
            Set("last", {"at": "now"}),
            Delete("old"),
        ]
    )
    assert applied is True
    assert await store.get("idempotency:req-1") is True
    assert await store.get("version") == 2
    assert await store.fields("ledger") == {"requests": 1, "tokens": 42}
    assert await store.get("last") == {"at": "now"}
    assert await store.get("old") is None
    assert await store.atomic([]) is True


async def _snapshot(store: Any) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for key in await store.keys():
        try:
            state[key] = await store.get(key)
        except ValueError:
            state[key] = ("fields", await store.fields(key))
    return state


@pytest.mark.parametrize(
    "failing",
    [SetIfAbsent("taken", "mine"), CompareAndSet("version", 99, 100), CompareAndSet("taken", None, "mine")],
    ids=["set_if_absent on a taken key", "compare_and_set on another value", "compare_and_set expecting absent"],
)
async def test_atomic_applies_nothing_when_one_condition_fails(state_backend, failing):
    store = values(state_backend)
    await store.set("taken", "theirs")
    await store.set("version", 1)
    await store.increment("ledger", {"requests": 5})
    await store.set("old", "x")
    before = await _snapshot(store)
    operations = [
        Set("new", 1),
        Increment("ledger", {"requests": 1}),
        Delete("old"),
        CompareAndSet("version", 1, 2),
        failing,
        Set("later", 2),
    ]
    assert await store.atomic(operations) is False
    assert await _snapshot(store) == before


async def test_atomic_checks_conditions_against_the_state_before_the_step(state_backend):
    store = values(state_backend)
    # The Set comes first, but the condition sees the key absent: the step applies.
    assert await store.atomic([Set("k", "set"), SetIfAbsent("k", "if absent")]) is True
    assert await store.get("k") == "if absent"  # applied in order
    # Delete then SetIfAbsent: the key exists before the step, so nothing happens.
    assert await store.atomic([Delete("k"), SetIfAbsent("k", "again")]) is False
    assert await store.get("k") == "if absent"


async def test_atomic_resets_and_increments_one_record_in_order(state_backend):
    store = values(state_backend)
    await store.increment("window", {"n": 7})
    assert await store.atomic([Delete("window"), Increment("window", {"n": 1}), Increment("window", {"n": 2, "m": 1})]) is True
    assert await store.fields("window") == {"n": 3, "m": 1}


async def test_atomic_with_an_impossible_increment_raises_and_applies_nothing(state_backend):
    store = values(state_backend)
    await store.set("plain", "v")
    await store.increment("big", {"n": 9_000_000_000_000_000_000})
    before = await _snapshot(store)
    for impossible in (Increment("plain", {"n": 1}), Increment("big", {"n": 500_000_000_000_000_000})):
        with pytest.raises(ValueError, match="nothing was changed"):
            await store.atomic([Set("new", 1), Delete("big"), impossible] if impossible.key == "plain" else [Set("new", 1), impossible])
        assert await _snapshot(store) == before
    # A Set earlier in the step makes the key a value: the increment after it is refused too.
    with pytest.raises(ValueError):
        await store.atomic([Set("fresh", 1), Increment("fresh", {"n": 1})])
    assert await _snapshot(store) == before


async def test_atomic_refuses_what_is_not_an_operation(state_backend):
    store = values(state_backend)
    with pytest.raises(ValueError, match="atomic\\(\\) takes"):
        await store.atomic([Set("a", 1), ("set", "b", 2)])  # type: ignore[list-item]
    assert await store.keys() == []


# -- concurrency -----------------------------------------------------------------------------------


async def test_200_concurrent_increments_of_two_fields_end_at_200_each(state_backend, state_storage):
    store = values(state_backend)
    second = values(await state_storage.service())  # another connection (SQLite) or client (Redis)
    results = await asyncio.gather(*(s.increment("ledger", {"requests": 1, "tokens": 1}) for s in [store, second] * 100))
    assert await store.fields("ledger") == {"requests": 200, "tokens": 200}
    assert sorted(result["requests"] for result in results) == list(range(1, 201))  # each saw its own step
    assert all(result["requests"] == result["tokens"] for result in results)  # both fields in one step


async def test_100_concurrent_set_if_absent_exactly_one_wins(state_backend, state_storage):
    store = values(state_backend)
    second = values(await state_storage.service())
    won = await asyncio.gather(*((store if i % 2 else second).set_if_absent("lock", f"worker-{i}") for i in range(100)))
    assert won.count(True) == 1
    assert await store.get("lock") == f"worker-{won.index(True)}"


async def test_compare_and_set_races_exactly_one_wins_and_retry_loops_lose_nothing(state_backend, state_storage):
    store = values(state_backend)
    second = values(await state_storage.service())
    await store.set("v", {"version": 0})
    won = await asyncio.gather(*((store if i % 2 else second).compare_and_set("v", {"version": 0}, {"version": 1, "by": i}) for i in range(50)))
    assert won.count(True) == 1
    assert await store.get("v") == {"version": 1, "by": won.index(True)}

    await store.set("counter", 0)

    async def add_one(client: Any) -> None:
        while True:
            current = await client.get("counter")
            if await client.compare_and_set("counter", current, current + 1):
                return

    await asyncio.gather(*(add_one(store if i % 2 else second) for i in range(60)))
    assert await store.get("counter") == 60


async def test_concurrent_atomic_steps_never_apply_twice(state_backend):
    store = values(state_backend)

    async def bill(request_id: str) -> bool:
        return await store.atomic([SetIfAbsent(f"seen:{request_id}", 1), Increment("ledger", {"requests": 1})])

    applied = await asyncio.gather(*(bill(f"req-{i % 10}") for i in range(100)))
    assert applied.count(True) == 10
    assert await store.fields("ledger") == {"requests": 10}


# -- isolation and dropping a tenant ---------------------------------------------------------------

SCOPES = [("t1", "p"), ("t2", "p"), ("t1", "q"), ("t*", "p"), ("t1", "p.x")]


async def _fill(service: StateService) -> None:
    for tenant, plugin in SCOPES:
        store = values(service, tenant, plugin)
        await store.set("k", f"{tenant}/{plugin}")
        await store.increment("f", {"n": 1})


async def _contents(service: StateService) -> dict[tuple[str, str], Any]:
    found = {}
    for tenant, plugin in SCOPES:
        store = values(service, tenant, plugin)
        found[(tenant, plugin)] = (await store.keys(), await store.get("k"), await store.fields("f"))
    return found


def _full(tenant: str, plugin: str) -> tuple[list[str], str, dict[str, int]]:
    return (["f", "k"], f"{tenant}/{plugin}", {"n": 1})


EMPTY = ([], None, {})


async def test_tenants_and_plugins_never_see_each_others_values(state_backend):
    await _fill(state_backend)
    assert await _contents(state_backend) == {scope: _full(*scope) for scope in SCOPES}
    await values(state_backend, "t1", "p").delete_prefix("")
    await values(state_backend, "t2", "p").delete("k")
    expected = {scope: _full(*scope) for scope in SCOPES}
    expected[("t1", "p")] = EMPTY
    expected[("t2", "p")] = (["f"], None, {"n": 1})
    assert await _contents(state_backend) == expected


async def test_service_drop_tenant_drops_every_plugins_values_of_that_tenant_only(state_backend):
    await _fill(state_backend)
    await state_backend.drop_tenant("t*")  # glob characters in a tenant id match only that tenant
    expected = {scope: _full(*scope) for scope in SCOPES}
    expected[("t*", "p")] = EMPTY
    assert await _contents(state_backend) == expected
    await state_backend.drop_tenant("t1")
    for scope in SCOPES:
        expected[scope] = EMPTY if scope[0] in ("t1", "t*") else _full(*scope)
    assert await _contents(state_backend) == expected


async def test_plugin_drop_tenant_drops_that_plugins_values_of_that_tenant_only(state_backend):
    await _fill(state_backend)
    await state_backend.for_plugin("p").drop_tenant("t1")
    expected = {scope: _full(*scope) for scope in SCOPES}
    expected[("t1", "p")] = EMPTY  # "p.x" and "q" of t1 stay, and "p" of t2
    assert await _contents(state_backend) == expected


async def test_values_survive_closing_and_reopening_the_service(state_backend, state_storage):
    store = values(state_backend)
    await store.set("doc", {"a": [1, 2.5]})
    await store.set("raw", b"\x00\x01")
    await store.set("short", 1, ttl=0.3)
    await store.increment("ledger", {"n": 3})
    await state_storage.shut(state_backend)

    reopened = values(await state_storage.service())
    assert await reopened.get("doc") == {"a": [1, 2.5]}
    assert await reopened.get("raw") == b"\x00\x01"
    assert await reopened.fields("ledger") == {"n": 3}

    async def expired() -> bool:
        return await reopened.get("short") is None

    await wait_until(expired)  # the TTL survived too
    assert await reopened.keys() == ["doc", "ledger", "raw"]


# -- through a real gateway ------------------------------------------------------------------------


async def test_a_plugin_counts_requests_in_values_and_a_deleted_tenants_values_are_gone(aiproxy_gateway_factory, plugin_maker, aiproxy_backend):
    async def pre_request(ctx):
        await ctx.services.state("counter_plugin").values(ctx.tenant.id).increment("requests", {"count": 1})

    gw = await aiproxy_gateway_factory(
        plugins={"counter_plugin": plugin_maker("counter_plugin", pre_request=pre_request)},
        chain=[{"name": "counter_plugin"}],
        redis=aiproxy_backend,
    )
    tenant = gw.tenant["id"]
    for _ in range(3):
        assert (await gw.chat()).status_code == 200
    state = gw.gateway.services.state("counter_plugin")
    other = state.values("another-tenant")
    await other.set("kept", 1)
    assert await state.values(tenant).fields("requests") == {"count": 3}

    assert (await gw.admin.delete(f"/api/v1/tenants/{tenant}")).status_code == 204
    assert await state.values(tenant).fields("requests") == {}
    assert await state.values(tenant).keys() == []
    assert await other.get("kept") == 1
    await other.delete("kept")
