"""Runs failover.py as its README says and checks each step's outcome."""

from pathlib import Path

from recipe_support import lines_starting, run_script


def test_requests_fail_over_to_the_anthropic_backup_and_the_circuit_opens():
    done = run_script(Path(__file__).parent / "failover.py", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    served = lines_starting(done.stdout, "served by")
    assert served[0] == "primary in 1 attempt(s), model gpt-4o-mini: 'You said: Hello'"
    # The backup's answer came from Anthropic's Messages API, translated back to OpenAI's format.
    assert served[1] == "claude in 2 attempt(s), model claude-sonnet-4-5: 'You said: Still there?'"
    assert served[-1] == "claude in 1 attempt(s), model claude-sonnet-4-5: 'You said: And now?'"
    assert lines_starting(done.stdout, "target primary")[0].startswith("circuit open")
    assert lines_starting(done.stdout, "target claude")[0].startswith("circuit closed")
