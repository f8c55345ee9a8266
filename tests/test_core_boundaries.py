"""The core imports no plugin and no model library (DESIGN.md §1)."""

import subprocess
import sys

FORBIDDEN = ("torch", "faiss", "sentence_transformers", "numpy", "aiproxy_rate_limiter", "aiproxy_billing", "aiproxy_rag")


def test_importing_and_building_the_core_loads_no_model_library_or_plugin():
    code = (
        "import sys, aiproxy_core\n"
        "from aiproxy_core import Gateway, GatewayConfig, PluginRegistry\n"
        "Gateway(GatewayConfig(), registry=PluginRegistry())\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
