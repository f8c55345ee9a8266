"""docs/configuration.md is the reference generated from the config models, and is current."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel

from aiproxy_core import PluginRegistry
from aiproxy_core.config.reference import COMMAND, config_keys, config_reference
from aiproxy_core.config.schema import GatewayConfig, ServerConfig
from aiproxy_sdk import run_aiproxy

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.md"


def repository_plugin_models() -> dict[str, type[BaseModel]]:
    """The ``config_model`` of each plugin of this repository (installed ones of others left out)."""
    ours = set()
    for pyproject in ROOT.glob("aiproxy_plugins/*/pyproject.toml"):
        ours |= set(tomllib.loads(pyproject.read_text())["project"].get("entry-points", {}).get("aiproxy", {}))
    registry = PluginRegistry()
    registry.load_entry_points()
    return {name: model for name in registry.names() if name in ours and (model := registry.config_model(name)) is not None}


def test_the_page_is_current():
    models = repository_plugin_models()
    assert {"billing", "analytics"} <= set(models)
    assert PAGE.read_text() == config_reference(models), f"docs/configuration.md is not current: run `{COMMAND}`"


def test_every_key_is_described():
    models = {"": GatewayConfig, **{f"plugins.{name}": model for name, model in repository_plugin_models().items()}}
    keys = [key for prefix, model in models.items() for key in config_keys(model, prefix) if key.key != ".plugins"]
    undescribed = [key.key for key in keys if not key.description]
    assert keys and not undescribed, f"keys without a Field(description=...): {undescribed}"


def test_every_key_reads_with_its_type_and_default():
    rows = {key.key: key for key in config_keys(ServerConfig, "server")}
    assert rows["server.admin_port"].type == "integer (>= 0, <= 65535)"
    assert rows["server.admin_port"].default == "`8080`"
    assert rows["server.admin_token"].type == "string or null (length >= 16)"
    assert rows["server.trusted_proxies"].type == "list of CIDR"
    assert '`["localhost", "127.0.0.1", "::1"]`' == rows["server.admin_hostnames"].default
    page = PAGE.read_text()
    assert "| `plugins.analytics.retention.minute` |" in page
    assert "| `records.postgresql` | secret string or null |" in page
    assert "`^(?i:debug\\|info\\|warning\\|error\\|critical)$`" in page  # a pipe would end the table cell


def test_the_command_prints_the_installed_plugins_reference(tmp_path):
    printed = run_aiproxy("config-reference")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("# Configuration reference") and "### `plugins.billing`" in printed.stdout
    written = run_aiproxy("config-reference", "--write", str(tmp_path / "page.md"))
    assert written.returncode == 0 and (tmp_path / "page.md").read_text() == printed.stdout
