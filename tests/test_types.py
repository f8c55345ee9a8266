"""The core and the SDK type-check under ``mypy --strict`` (the settings live in pyproject.toml).

Plugin authors build on these signatures, so a public function whose types lie is a bug a user
meets in their editor; this keeps them honest on every change.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_core_and_the_sdk_pass_mypy_strict() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"mypy --strict found problems:\n{result.stdout}{result.stderr}"
    assert "Success: no issues found" in result.stdout
