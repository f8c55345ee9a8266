"""One request's wait for a counter call at one connection, taken apart: the round trip of the
gateway's script connection alone (PING), the rate limiter's count script sent straight
(EVALSHA), and the same through the counters' turn batch (CountBatch: a flush scheduled for the
end of the turn, then a task that sends the script), each awaited one after another.

What it answers: how much of the counter call's latency is Redis and the round trip, and how much
the batching in front of it adds (what a flush without its task could save). Compare with
``redis-benchmark -c 1 -t ping`` (a C client's round trip).

Usage: python bench/redis_round_trip.py [HOST] [PORT]   (default 127.0.0.1 6379; uvloop, as the gateway)
Env: CALLS (timed calls per path and round, default 5000).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from typing import Any, Awaitable, Callable

import uvloop

from aiproxy_core.redis_scripts import ScriptConnection
from aiproxy_core.state.redis_count_batch import COUNT_MANY, CountBatch, count_many_arguments

CALLS = int(os.environ.get("CALLS", "5000"))
WARMUP = min(500, CALLS)
ROUNDS = 2
#: The one counter's key starts so (deleted at the end).
KEY_PREFIX = "aiproxy-bench-rtt:"


async def main(host: str, port: int) -> None:
    scripts = ScriptConnection(host, port)
    batch = CountBatch(scripts)
    keys = [f"{KEY_PREFIX}{{{uuid.uuid4().hex}}}:c"]
    counters: list[Any] = ["s", 1, 100_000_000, 60_000]  # one sliding counter no run fills, as the benchmark's limit
    script_keys, script_args = count_many_arguments([("a", keys, counters)])

    paths: dict[str, Callable[[], Awaitable[Any]]] = {
        "ping": lambda: scripts.command(b"PING"),
        "evalsha": lambda: scripts.evalsha(COUNT_MANY, script_keys, script_args),
        "turn batch": lambda: batch.count("a", keys, counters, 5.0),
    }
    try:
        print(f"{'path':12}{'p50 us':>10}{'p90 us':>10}{'p99 us':>10}")
        for _ in range(ROUNDS):  # rounds in turns: the host's load moves between them
            for name, call in paths.items():
                for _ in range(WARMUP):
                    await call()
                waits = []
                for _ in range(CALLS):
                    started = time.perf_counter()
                    await call()
                    waits.append((time.perf_counter() - started) * 1e6)
                waits.sort()
                print(f"{name:12}{waits[CALLS // 2]:10.1f}{waits[CALLS * 9 // 10]:10.1f}{waits[CALLS * 99 // 100]:10.1f}")
    finally:
        await scripts.command(b"DEL", *keys)
        await scripts.close()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 6379))
