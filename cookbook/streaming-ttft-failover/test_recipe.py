"""Runs ttft_failover.py as its README says and checks who served each stream, and how fast."""

import re
from pathlib import Path

from recipe_support import lines_starting, run_script


def first_token(line):
    return float(re.search(r"first token after ([0-9.]+) s", line).group(1))


def test_a_slow_first_token_is_failed_over_and_a_broken_stream_is_not_retried():
    done = run_script(Path(__file__).parent / "ttft_failover.py", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    [plain] = lines_starting(out, "/plain/chat/completions stream")
    assert plain.startswith("target slow in 1 attempt(s)") and first_token(plain) >= 1.9
    assert plain.endswith("'You said: Hello there', ended with [DONE]")
    [moved] = lines_starting(out, "/v1/chat/completions stream")
    assert moved.startswith("target fast in 2 attempt(s)") and 0.4 <= first_token(moved) < 1.9
    assert moved.endswith("'You said: Hello there', ended with [DONE]")
    [broken] = lines_starting(out, "/broken/chat/completions stream")
    assert broken.startswith("target flaky in 1 attempt(s)")
    assert broken.endswith("ended with no [DONE], error event upstream_stream_interrupted")
