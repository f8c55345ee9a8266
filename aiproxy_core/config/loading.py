"""Reading ``config.yaml`` plus ``AIPROXY_<SECTION>__<KEY>`` environment overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .schema import GatewayConfig

ENV_PREFIX = "AIPROXY_"


def load_config(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load and validate the config; errors name the file (or variable) and the key.

    ``path`` None reads nothing from disk (all defaults); environment overrides apply either way.
    A variable like ``AIPROXY_SERVER__ADMIN_PORT=9000`` sets ``server.admin_port``; its value is
    read as YAML, so numbers, booleans and ``null`` keep their types.
    """
    environ = os.environ if environ is None else environ
    source = str(path) if path is not None else "defaults"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections (server, redis, ...)")
        data = loaded or {}
    overridden = _apply_env(data, environ)
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, overridden)) from None


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Write overrides into ``data``; return which dotted key came from which variable."""
    overridden: dict[str, str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        if not all(parts):
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
        overridden[".".join(parts)] = name
    return overridden


def _describe(exc: ValidationError, source: str, overridden: dict[str, str]) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"])
        where = f"environment variable {overridden[key]}" if key in overridden else source
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and section)"
        lines.append(f"{where}: {key}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
