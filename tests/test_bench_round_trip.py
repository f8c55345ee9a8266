"""bench/redis_round_trip.py measures what it names: each path prints its waits, and the counter
it counted on is gone afterwards (a benchmark must not leave keys in the operator's Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from redis import Redis

from aiproxy_sdk.redis_space import require_redis

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "redis_round_trip.py"


def test_the_round_trip_benchmark_times_each_path_and_leaves_no_key() -> None:
    require_redis()
    ran = subprocess.run(
        [sys.executable, str(SCRIPT)], env={**os.environ, "CALLS": "50"}, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    rows = [line.split() for line in ran.stdout.splitlines()[1:] if line.strip()]
    paths = [" ".join(row[:-3]) for row in rows]
    assert paths == ["ping", "evalsha", "turn batch"] * 2
    assert all(float(value) > 0 for row in rows for value in row[-3:])
    assert list(Redis().scan_iter(match="aiproxy-bench-rtt:*")) == []
