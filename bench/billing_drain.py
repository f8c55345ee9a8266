"""CPU per event of the billing worker's drain (claim, ledger write, acknowledge) on a Redis.

Queues events as the request path does (``--per-turn`` appended together, one queue entry each
turn) through the gateway's script connection, then drains them with the worker's own
:class:`~aiproxy_billing.worker.Drain`, and prints the process's CPU time (``getrusage``, user +
system) per event drained, one figure per round after a warm-up round. Pin it to one core for a
steadier figure: ``taskset -c 1 .venv/bin/python bench/billing_drain.py``.

Usage: python bench/billing_drain.py [--host 127.0.0.1] [--port 6379] [--rounds 5] [--events 3000] [--per-turn 30]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import uuid
from pathlib import Path

from redis.asyncio import Redis

from aiproxy_billing.backend import open_backend
from aiproxy_billing.events import BillingEvent
from aiproxy_billing.worker import Drain
from aiproxy_core.redis_scripts import ScriptConnection
from aiproxy_core.state import StateService


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _event() -> BillingEvent:
    return BillingEvent(
        request_id=uuid.uuid4().hex, tenant_id="tnt_bench", consumer_id="con_bench", key_id="key_bench", rule_id="rul_bench",
        endpoint="/v1/chat/completions", model="gpt-4o-mini", input_tokens=12, output_tokens=30, status=200,
        latency_ms=1.5, timestamp=BillingEvent.now(), plan_id="pln_bench",
    )


async def measure(host: str, port: int, rounds: int, events: int, per_turn: int) -> list[float]:
    redis = Redis(host=host, port=port, decode_responses=True)
    # A prefix of its own: the drain sees only this run's events, and leaves other keys alone.
    service = StateService(Path(tempfile.mkdtemp()), redis=redis, scripts=ScriptConnection(host, port), prefix=f"bench-drain-{uuid.uuid4().hex[:8]}")
    service.open()
    await service.start()
    try:
        backend = open_backend(service.for_plugin("billing"))
        drain = Drain(backend.queue.queue, backend.ledger, batch_size=200)
        figures = []
        for _ in range(rounds + 1):  # the first round warms up
            for _ in range(events // per_turn):
                await asyncio.gather(*[backend.queue.put(_event()) for _ in range(per_turn)])
            start, moved = _cpu_seconds(), 0
            while (step := await drain.step(0)) > 0:
                moved += step
            figures.append((_cpu_seconds() - start) / max(moved, 1) * 1e6)
        return figures[1:]
    finally:
        await service.stop()
        service.close()
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--per-turn", type=int, default=30)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.host, args.port, args.rounds, args.events, args.per_turn))
    print("billing drain, CPU µs per event, per round:", " ".join(f"{figure:.2f}" for figure in figures))


if __name__ == "__main__":
    main()
