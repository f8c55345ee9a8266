"""Runs run_recipe.py end to end (its own mock upstream and gateway on free ports, in a temp dir)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_the_recipe_signs_up_calls_reads_usage_and_rotates(tmp_path):
    done = subprocess.run([sys.executable, str(HERE / "run_recipe.py")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "plans on sale: " in out and "Free (free)" in out and "Pro (pay_per_call)" in out
    assert "a signup choosing its plan is refused: plan_id: unknown field" in out
    assert "usage this month: 2 requests" in out and "the old key now answers: 401 revoked_api_key" in out
    assert out.rstrip().splitlines()[-1] == "signed in as Ada's weather bot with the rotated key", out
    assert list(tmp_path.iterdir()) == []  # it wrote nothing where it ran
