"""``Values.increment_once``: idempotent increments, the ledger's primitive, on every backend.

A queue's worker counts each event once even when a batch is replayed after a crash: these
tests replay, repeat keys inside a call, race 50 callers on one key, and check that a call that
cannot apply changes nothing at all (not even its once-keys).
"""

from __future__ import annotations

import asyncio

import pytest

from aiproxy_core.state import Increment, OnceStep, StateService
from aiproxy_core.state.api import MAX_ONCE_INCREMENTS, MAX_ONCE_STEPS


def event(request_id: str, consumer: str, tokens: int, day: str = "2026-12-05") -> OnceStep:
    return OnceStep(request_id, (Increment(f"daily:{consumer}:{day}", {"requests": 1, "tokens": tokens}),))


async def test_each_step_applies_once_and_a_replay_changes_nothing(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    batch = [event("req-1", "alice", 10), event("req-2", "alice", 5), event("req-3", "bob", 7)]
    assert await values.increment_once(batch, remember=60) == [True, True, True]
    assert await values.fields("daily:alice:2026-12-05") == {"requests": 2, "tokens": 15}
    assert await values.fields("daily:bob:2026-12-05") == {"requests": 1, "tokens": 7}

    # The worker died before acknowledging: the same batch again, plus one new event.
    replay = [*batch, event("req-4", "bob", 1)]
    assert await values.increment_once(replay, remember=60) == [False, False, False, True]
    assert await values.fields("daily:alice:2026-12-05") == {"requests": 2, "tokens": 15}
    assert await values.fields("daily:bob:2026-12-05") == {"requests": 2, "tokens": 8}


async def test_a_key_repeated_within_one_call_applies_once(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    assert await values.increment_once([event("same", "alice", 3), event("same", "alice", 3)], remember=60) == [True, False]
    assert await values.fields("daily:alice:2026-12-05") == {"requests": 1, "tokens": 3}


async def test_once_keys_are_forgotten_after_remember(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    assert await values.increment_once([event("r", "alice", 1)], remember=0.2) == [True]
    assert await values.increment_once([event("r", "alice", 1)], remember=0.2) == [False]
    await asyncio.sleep(0.35)
    assert await values.increment_once([event("r", "alice", 1)], remember=0.2) == [True]
    assert await values.fields("daily:alice:2026-12-05") == {"requests": 2, "tokens": 2}


async def test_once_keys_are_not_values(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    await values.increment_once([event("req-1", "alice", 1)], remember=60)
    assert await values.get("req-1") is None
    assert await values.keys() == ["daily:alice:2026-12-05"]
    assert await values.delete_prefix("") == 1
    # Deleting every value does not forget what was counted: a replay is still a no-op.
    assert await values.increment_once([event("req-1", "alice", 1)], remember=60) == [False]
    assert await values.fields("daily:alice:2026-12-05") == {}


async def test_a_record_created_by_a_step_gets_its_ttl(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    step = OnceStep("r1", (Increment("window", {"n": 1}, ttl=0.2),))
    assert await values.increment_once([step], remember=60) == [True]
    assert await values.fields("window") == {"n": 1}
    await asyncio.sleep(0.35)
    assert await values.fields("window") == {}


async def test_fifty_concurrent_callers_with_one_key_apply_it_once(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    results = await asyncio.gather(*(values.increment_once([event("shared", "alice", 2)], remember=60) for _ in range(50)))
    assert sorted(flag for (flag,) in results) == [False] * 49 + [True]
    assert await values.fields("daily:alice:2026-12-05") == {"requests": 1, "tokens": 2}


async def test_a_call_that_cannot_apply_changes_nothing_not_even_its_once_keys(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    await values.set("plain", {"not": "fields"})
    steps = [event("ok-1", "alice", 1), OnceStep("bad", (Increment("plain", {"n": 1}),))]
    with pytest.raises(ValueError, match="holds a value"):
        await values.increment_once(steps, remember=60)
    assert await values.fields("daily:alice:2026-12-05") == {}
    assert await values.increment_once([event("ok-1", "alice", 1)], remember=60) == [True]

    await values.increment("big", {"n": 9_000_000_000_000_000_000})
    overflowing = [event("ok-2", "alice", 1), OnceStep("huge", (Increment("big", {"n": 500_000_000_000_000_000}),))]
    with pytest.raises(ValueError, match="would pass"):
        await values.increment_once(overflowing, remember=60)
    assert await values.fields("daily:alice:2026-12-05") == {"requests": 1, "tokens": 1}
    assert await values.fields("big") == {"n": 9_000_000_000_000_000_000}


@pytest.mark.parametrize(
    "steps, remember, named",
    [
        ([event("r", "a", 1)], 0, "remember"),
        ([event("r", "a", 1)], None, "remember"),
        ([OnceStep("x\x00", ())], 60, "state key"),
        ([OnceStep("r", (Increment("k", {"n": 1.5}),))], 60, "int"),  # type: ignore[dict-item]
        ([OnceStep("r", ({"key": "k"},))], 60, "Increment"),  # type: ignore[arg-type]
        (["r"], 60, "OnceStep"),
        ([OnceStep(f"r{i}", ()) for i in range(MAX_ONCE_STEPS + 1)], 60, str(MAX_ONCE_STEPS)),
        (
            [OnceStep(f"r{i}", tuple(Increment(f"k{j}", {"n": 1}) for j in range(10))) for i in range(MAX_ONCE_INCREMENTS // 10 + 1)],
            60,
            str(MAX_ONCE_INCREMENTS),
        ),
    ],
)
async def test_bad_calls_are_refused_before_anything_is_written(state_backend: StateService, steps, remember, named) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    with pytest.raises(ValueError, match=named):
        await values.increment_once(steps, remember=remember)
    assert await values.keys() == []


async def test_tenants_and_plugins_do_not_share_once_keys(state_backend: StateService) -> None:
    billing_t1 = state_backend.for_plugin("billing").values("t1")
    billing_t2 = state_backend.for_plugin("billing").values("t2")
    other_t1 = state_backend.for_plugin("other").values("t1")
    for values in (billing_t1, billing_t2, other_t1):
        assert await values.increment_once([event("req-1", "alice", 1)], remember=60) == [True]


async def test_dropping_a_tenant_forgets_its_once_keys(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    await values.increment_once([event("req-1", "alice", 1)], remember=60)
    await state_backend.drop_tenant("t1")
    assert await values.increment_once([event("req-1", "alice", 1)], remember=60) == [True]


async def test_an_empty_call_is_an_empty_answer(state_backend: StateService) -> None:
    values = state_backend.for_plugin("billing").values("t1")
    assert await values.increment_once([], remember=60) == []
