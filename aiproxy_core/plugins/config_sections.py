"""Validating config.yaml's ``plugins:`` section: each installed plugin's options, by its own model.

The file is loaded before any plugin is, so the core keeps each plugin's section as a plain mapping
(``GatewayConfig.plugins``) and checks it here, once the registry knows the plugins: a misspelt
plugin name or option fails at start-up with the key to fix, instead of being silently ignored.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .registry import PluginRegistry

__all__ = ["plugin_configs"]


def plugin_configs(registry: PluginRegistry, sections: Mapping[str, Mapping[str, Any]]) -> dict[str, BaseModel]:
    """Each loaded plugin with a ``config_model``: its validated section (defaults when absent).

    Raises :class:`ConfigError` listing every problem: an unknown or failed plugin, a plugin that
    takes no options, an option that is unknown or has a bad value.
    """
    problems: list[str] = []
    for name in sections:
        if name in registry.failed:
            problems.append(f"plugins.{name}: the plugin failed to load ({registry.failed[name]})")
        elif not registry.has(name):
            installed = ", ".join(registry.names()) or "none"
            problems.append(f"plugins.{name}: no installed plugin has this name (installed: {installed})")
        elif registry.config_model(name) is None:
            problems.append(f"plugins.{name}: this plugin takes no options here (its settings go in a rule's plugin_chain)")
    configs: dict[str, BaseModel] = {}
    for name in registry.names():
        model = registry.config_model(name)
        if model is None:
            continue
        try:
            configs[name] = model.model_validate(dict(sections.get(name) or {}))
        except ValidationError as exc:
            for error in exc.errors():
                key = ".".join(["plugins", name, *(str(part) for part in error["loc"])])
                message = "unknown option (check its spelling)" if error["type"] == "extra_forbidden" else error["msg"]
                problems.append(f"{key}: {message}")
    if problems:
        raise ConfigError(
            "invalid configuration (in the config file, or AIPROXY_PLUGINS__<PLUGIN>__<OPTION>):\n  " + "\n  ".join(problems)
        )
    return configs
