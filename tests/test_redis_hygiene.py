"""The SDK's pytest plugin keeps the suite honest about the shared Redis.

Each check runs an inner pytest session in a subprocess (its own list of handed-out prefixes),
with the SDK plugin loaded through its entry point as in any plugin author's project.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import redis

from aiproxy_sdk.redis_space import REDIS_URL

def inner_session(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    environment = {k: v for k, v in os.environ.items() if k != "CI"} | env
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=environment,
    )


def test_a_key_left_under_a_handed_out_prefix_fails_the_session_and_is_removed(tmp_path: Path, aiproxy_redis_prefix: str) -> None:
    ran = inner_session(
        tmp_path,
        """
        import redis
        from aiproxy_sdk.redis_space import REDIS_URL, new_prefix

        def test_leaks():
            prefix = new_prefix()
            print("PREFIX", prefix)
            redis.Redis.from_url(REDIS_URL).set(f"{prefix}:left-behind", 1)
        """,
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout and "keys left in the shared Redis" in ran.stdout
    leaked = next(line for line in ran.stdout.splitlines() if ":left-behind" in line).split(":")[0].strip()
    assert leaked.startswith("aiproxy-test-")
    assert redis.Redis.from_url(REDIS_URL).exists(f"{leaked}:left-behind") == 0  # and it is gone now


def test_a_session_that_cleans_up_passes(tmp_path: Path, aiproxy_redis_prefix: str) -> None:
    ran = inner_session(
        tmp_path,
        """
        import redis

        def test_uses_the_fixture(aiproxy_redis_prefix):
            redis.Redis.from_url("redis://127.0.0.1:6379/0").set(f"{aiproxy_redis_prefix}:temporary", 1)
        """,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "keys left" not in ran.stdout


MISSING_REDIS = """
    import aiproxy_sdk.redis_space

    aiproxy_sdk.redis_space.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    def test_needs_redis(aiproxy_redis_prefix):
        pass
"""


def test_a_missing_redis_skips_locally(tmp_path: Path) -> None:
    ran = inner_session(tmp_path, MISSING_REDIS)
    assert ran.returncode == 0 and "1 skipped" in ran.stdout, ran.stdout + ran.stderr


def test_a_missing_redis_fails_under_ci(tmp_path: Path) -> None:
    ran = inner_session(tmp_path, MISSING_REDIS, CI="true")
    assert ran.returncode == 1 and "1 error" in ran.stdout, ran.stdout + ran.stderr
    assert "the CI environment (CI is set) must run Redis" in ran.stdout
