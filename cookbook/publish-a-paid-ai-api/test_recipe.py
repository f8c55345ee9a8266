"""Runs run_recipe.sh end to end (mock upstream, gateway, curl, CLI) as its README says, and checks
what it promises: free ports of its own, nothing written into the checkout, loud failures."""

import os
import re
import socket
import sys
from pathlib import Path

from recipe_support import run_script

SCRIPT = Path(__file__).parent / "run_recipe.sh"


def user_env(tmp_path, **extra):
    """The environment of a user whose venv is active (its bin first on PATH), temp files in tmp_path."""
    bin_dir = str(Path(sys.executable).parent)  # where `aiproxy` is installed beside this Python
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {"PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "TMPDIR": str(tmp_path / "tmp"), **extra}
    for name in ("AIPROXY", "PYTHON", "ADMIN_PORT", "PROXY_PORT", "MOCK_PORT", "KEEP_DATA"):
        env.setdefault(name, "")
    return env


def test_the_recipe_ends_with_the_hand_computed_invoice_and_leaves_nothing(tmp_path):
    done = run_script(SCRIPT, env=user_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    # 5 chat completions x 0.015 = 0.075, 2 embeddings x 0.0005 = 0.001: 0.076, rounded half up to the cent
    assert done.stdout.rstrip().splitlines()[-1] == "invoice total: 0.08 USD", done.stdout
    assert '"subtotal": "0.076"' in done.stdout and '"requests": 7' in done.stdout
    assert list((tmp_path / "tmp").iterdir()) == []  # its temporary directory is gone


def test_a_port_that_already_answers_is_refused(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_script(SCRIPT, env=user_env(tmp_path, PROXY_PORT=str(port)), timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"something already answers on 127.0.0.1:{port}" in done.stderr
    assert "tenant:" not in done.stdout  # it stopped before calling anything
    assert list((tmp_path / "tmp").iterdir()) == []


def test_an_error_answer_stops_the_recipe_with_the_apis_message(tmp_path):
    # An Admin API body limit of 10 bytes makes the gateway refuse the first call (creating the tenant).
    done = run_script(SCRIPT, env=user_env(tmp_path, AIPROXY_SERVER__MAX_ADMIN_BODY_BYTES="10"), timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    failure = [line for line in done.stderr.splitlines() if line.startswith("recipe failed: ")]
    assert failure and re.fullmatch(r"recipe failed: POST http://127\.0\.0\.1:\d+/api/v1/tenants answered 413: \w+: .*bytes.*", failure[0]), done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []
