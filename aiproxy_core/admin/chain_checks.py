"""Checking chain entries when a tenant or rule is saved, so nothing fails first at request time."""

from __future__ import annotations

from typing import Iterable

from pydantic import ValidationError

from ..errors import ValidationFailed
from ..hookspecs import STAGE_HOOKS
from ..models import ChainEntry
from ..plugins import PluginRegistry


def check_plugin_names(names: Iterable[str], registry: PluginRegistry, field: str) -> None:
    for index, name in enumerate(names):
        if not registry.has(name):
            raise ValidationFailed(
                f"{field}[{index}]: {name!r} is not an installed plugin (installed: {', '.join(registry.names()) or 'none'})",
                code="unknown_plugin",
                details=[{"field": f"{field}.{index}", "plugin": name, "message": "not installed"}],
            )


def check_entries(
    entries: Iterable[tuple[str, ChainEntry]],
    registry: PluginRegistry,
    allowed: list[str] | None = None,
    required: Iterable[str] = (),
) -> None:
    """Each ``(field, entry)``: installed, allowed for the tenant, stages it has, valid settings."""
    required = set(required)
    for field, entry in entries:
        name = entry.name
        if not registry.has(name):
            raise ValidationFailed(
                f"{field}.name: {name!r} is not an installed plugin (installed: {', '.join(registry.names()) or 'none'})",
                code="unknown_plugin",
                details=[{"field": f"{field}.name", "plugin": name, "message": "not installed"}],
            )
        if allowed is not None and name not in allowed and name not in required:
            raise ValidationFailed(
                f"{field}.name: plugin {name!r} is not in this tenant's enabled_plugins {allowed}",
                code="plugin_not_enabled",
                details=[{"field": f"{field}.name", "plugin": name, "message": "not enabled for this tenant"}],
            )
        implemented = [h for h in STAGE_HOOKS if registry.hookimpl(name, h) is not None]
        for stage in entry.stages() or ():
            if stage not in implemented:
                raise ValidationFailed(
                    f"{field}.stage: plugin {name!r} has no {stage} hook; it runs in {implemented or 'no stage'}",
                    code="invalid_stage",
                    details=[{"field": f"{field}.stage", "plugin": name, "message": f"no {stage} hook"}],
                )
        try:
            registry.parse_settings(name, entry.settings)
        except ValidationError as exc:
            details = [
                {"field": f"{field}.settings." + ".".join(str(p) for p in e["loc"]), "plugin": name, "message": e["msg"]}
                for e in exc.errors(include_url=False)
            ]
            first = details[0]
            raise ValidationFailed(
                f"plugin {name!r}: {first['field']}: {first['message']}", code="invalid_plugin_settings", details=details
            ) from None
