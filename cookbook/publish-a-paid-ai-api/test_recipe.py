"""Runs run_recipe.sh end to end (mock upstream, gateway, curl, CLI) on free ports in a temp dir."""

import os
import subprocess
import sys
from pathlib import Path

from aiproxy_sdk import free_port

HERE = Path(__file__).parent


def test_the_recipe_ends_with_the_hand_computed_invoice(tmp_path):
    bin_dir = str(Path(sys.executable).parent)  # where `aiproxy` is installed beside this Python
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "AIPROXY": str(Path(bin_dir) / "aiproxy"),
        "PYTHON": sys.executable,
        "ADMIN_PORT": str(free_port()),
        "PROXY_PORT": str(free_port()),
        "MOCK_PORT": str(free_port()),
        "DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(["bash", str(HERE / "run_recipe.sh")], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # 5 chat completions x 0.015 = 0.075, 2 embeddings x 0.0005 = 0.001: 0.076, rounded half up to the cent
    assert done.stdout.rstrip().splitlines()[-1] == "invoice total: 0.08 USD", done.stdout
    assert '"subtotal": "0.076"' in done.stdout and '"requests": 7' in done.stdout
