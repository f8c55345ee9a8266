"""Checking chain entries when a tenant or rule is saved, so nothing fails first at request time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from pydantic import ValidationError

from ..errors import GatewayError, ServiceUnavailable, ValidationFailed
from ..hookspecs import STAGE_HOOKS
from ..models import ChainEntry
from ..plugins import PluginRegistry
from ..plugins.hook_calls import call_and_await

if TYPE_CHECKING:
    from ..gateway import Gateway

logger = logging.getLogger("aiproxy.admin")


def check_plugin_names(names: Iterable[str], registry: PluginRegistry, field: str) -> None:
    for index, name in enumerate(names):
        if not registry.has(name):
            raise _unavailable(registry, name, f"{field}[{index}]", f"{field}.{index}")


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
            raise _unavailable(registry, name, f"{field}.name", f"{field}.name")
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


async def check_references(entries: Iterable[tuple[str, ChainEntry]], gateway: "Gateway", tenant_id: str) -> None:
    """Each ``(field, entry)`` whose plugin implements ``check_references``: the ids it names are the tenant's.

    Run after :func:`check_entries` (the settings are valid). A tenant must not point its rules at
    another tenant's knowledge base or plan, so the plugin looks each id up in ``tenant_id`` only.
    """
    registry = gateway.registry
    for field, entry in entries:
        impl = registry.hookimpl(entry.name, "check_references")
        if impl is None:
            continue
        available = {
            "tenant_id": tenant_id,
            "settings": registry.parse_settings(entry.name, entry.settings),
            "services": gateway.services,
            "config": gateway.plugin_configs.get(entry.name),
        }
        problems: Any
        try:
            problems = await call_and_await(impl, available)
            if problems and not isinstance(problems, Mapping):
                raise TypeError(f"check_references must return a mapping of field to message, not {type(problems).__name__}")
        except GatewayError:
            raise
        except Exception:
            logger.exception("plugin %r failed in check_references for tenant %s", entry.name, tenant_id)
            raise ServiceUnavailable(
                f"{field}: plugin {entry.name!r} could not check the ids its settings name; try again",
                code="plugin_unavailable",
            ) from None
        _refuse_missing(field, entry.name, problems)


def _refuse_missing(field: str, plugin: str, problems: Mapping[str, Any] | None) -> None:
    if not problems:
        return
    details = [
        {"field": f"{field}.settings.{path}", "plugin": plugin, "message": str(message)} for path, message in problems.items()
    ]
    first = details[0]
    raise ValidationFailed(f"{first['field']}: {first['message']}", code="reference_not_found", details=details)


def _unavailable(registry: PluginRegistry, name: str, shown: str, field: str) -> ValidationFailed:
    """422 ``unknown_plugin``: not installed, or installed but unloaded (its reason given)."""
    reason = registry.failed.get(name)
    if reason is not None:
        return ValidationFailed(
            f"{shown}: {name!r} is installed but not available in this gateway: {reason}",
            code="unknown_plugin",
            details=[{"field": field, "plugin": name, "message": reason}],
        )
    return ValidationFailed(
        f"{shown}: {name!r} is not an installed plugin (installed: {', '.join(registry.names()) or 'none'})",
        code="unknown_plugin",
        details=[{"field": field, "plugin": name, "message": "not installed"}],
    )
