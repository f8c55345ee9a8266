"""Which plugins this process has: discovery through entry points, validation, description.

pluggy registers each plugin and checks its hook signatures; it is not asked to *call* stage
hooks (the chain executor does, in per-rule order). A plugin that fails to import or register is
kept out and remembered with the reason, so ``aiproxy plugins`` can show it.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel

from .. import hookspecs
from ..errors import PluginLoadError

logger = logging.getLogger("aiproxy.plugins")

ENTRY_POINT_GROUP = "aiproxy"


@dataclass
class PluginInfo:
    """What ``aiproxy plugins`` shows of one plugin."""

    name: str
    version: str | None
    hooks: list[str]
    settings_schema: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {"name": self.name, "version": self.version, "hooks": self.hooks}
        if self.error is None:
            data["settings_schema"] = self.settings_schema
        else:
            data["error"] = self.error
        return data


@dataclass
class PluginRegistry:
    """The registered plugins of one gateway process."""

    manager: pluggy.PluginManager = field(default_factory=lambda: _new_manager())
    failed: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    _settings_models: dict[str, type[BaseModel] | None] = field(default_factory=dict)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Register every installed plugin of ``group``; remember the ones that fail."""
        for ep in importlib.metadata.entry_points(group=group):
            if self.manager.has_plugin(ep.name) or ep.name in self.failed:
                continue
            version = ep.dist.version if ep.dist is not None else None
            try:
                obj = ep.load()
                self.register(obj() if inspect.isclass(obj) else obj, ep.name, version)
            except PluginLoadError as exc:
                self.failed[ep.name] = exc.reason
                logger.warning("%s", exc)
            except Exception as exc:  # an import error in a third-party plugin must not stop the gateway
                self.failed[ep.name] = f"{type(exc).__name__}: {exc}"
                logger.warning("plugin %r failed to load: %s: %s", ep.name, type(exc).__name__, exc)

    def register(self, plugin: object, name: str, version: str | None = None) -> None:
        """Register ``plugin`` (a module or an object with hookimpls) under ``name``."""
        if self.manager.has_plugin(name):
            raise PluginLoadError(name, "a plugin with this name is already registered")
        try:
            self.manager.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(name, str(exc)) from None
        self.versions[name] = version
        self.failed.pop(name, None)
        self._settings_models.pop(name, None)

    def names(self) -> list[str]:
        return sorted(n for n, _ in self.manager.list_name_plugin() if n in self.versions)

    def has(self, name: str) -> bool:
        return name in self.versions and self.manager.has_plugin(name)

    def hookimpl(self, name: str, hook: str) -> pluggy.HookImpl | None:
        """The implementation of ``hook`` by plugin ``name``, if it has one."""
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            if impl.plugin_name == name:
                return impl
        return None

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.manager.get_plugin(name)
        callers = self.manager.get_hookcallers(plugin) or []
        return sorted(caller.name for caller in callers)

    def settings_model(self, name: str) -> type[BaseModel] | None:
        """The plugin's settings model (asked once, then cached)."""
        if name not in self._settings_models:
            impl = self.hookimpl(name, "settings_model")
            model = impl.function() if impl is not None else None
            if model is not None and not (inspect.isclass(model) and issubclass(model, BaseModel)):
                raise PluginLoadError(name, "settings_model() must return a pydantic BaseModel subclass")
            self._settings_models[name] = model
        return self._settings_models[name]

    def parse_settings(self, name: str, settings: dict[str, Any]) -> Any:
        """Validate ``settings`` for plugin ``name``; raises pydantic's ValidationError."""
        model = self.settings_model(name)
        if model is None:
            return settings
        return model.model_validate(settings)

    def describe(self) -> list[PluginInfo]:
        infos = []
        for name in self.names():
            model = self.settings_model(name)
            schema = model.model_json_schema() if model is not None else None
            infos.append(PluginInfo(name, self.versions.get(name), self.hooks_of(name), schema))
        for name, reason in sorted(self.failed.items()):
            infos.append(PluginInfo(name, None, [], error=reason))
        return infos


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginRegistry"]
