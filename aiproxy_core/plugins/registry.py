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
from .hook_calls import call_now

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
    #: The schema of the plugin's ``plugins.<name>`` section of config.yaml (None: it takes none).
    config_schema: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "version": self.version, "hooks": self.hooks}
        if self.error is None:
            data["settings_schema"] = self.settings_schema
            data["config_schema"] = self.config_schema
        else:
            data["error"] = self.error
        return data


@dataclass
class PluginRegistry:
    """The registered plugins of one gateway process."""

    manager: pluggy.PluginManager = field(default_factory=lambda: _new_manager())
    failed: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    #: (plugin, "settings_model" | "config_model") -> what the hook returned.
    _models: dict[tuple[str, str], type[BaseModel] | None] = field(default_factory=dict)

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
        self._models = {key: model for key, model in self._models.items() if key[0] != name}

    def names(self) -> list[str]:
        return sorted(n for n, _ in self.manager.list_name_plugin() if n in self.versions)

    def has(self, name: str) -> bool:
        return name in self.versions and self.manager.has_plugin(name)

    def hookimpl(self, name: str, hook: str) -> pluggy.HookImpl | None:
        """The implementation of ``hook`` by plugin ``name``, if it has one."""
        impls: list[pluggy.HookImpl] = getattr(self.manager.hook, hook).get_hookimpls()
        for impl in impls:
            if impl.plugin_name == name:
                return impl
        return None

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.manager.get_plugin(name)
        callers = self.manager.get_hookcallers(plugin) or []
        return sorted(caller.name for caller in callers)

    def settings_model(self, name: str) -> type[BaseModel] | None:
        """The plugin's settings model for chain entries (asked once, then cached)."""
        return self._model(name, "settings_model")

    def config_model(self, name: str) -> type[BaseModel] | None:
        """The plugin's model for its ``plugins.<name>`` section of config.yaml (asked once, then cached)."""
        return self._model(name, "config_model")

    def _model(self, name: str, hook: str) -> type[BaseModel] | None:
        cached = self._models.get((name, hook), _UNASKED)
        if cached is _UNASKED:
            impl = self.hookimpl(name, hook)
            cached = call_now(impl, {}) if impl is not None else None
            if cached is not None and not (inspect.isclass(cached) and issubclass(cached, BaseModel)):
                raise PluginLoadError(name, f"{hook}() must return a pydantic BaseModel subclass")
            self._models[(name, hook)] = cached
        return cached  # type: ignore[return-value]

    def parse_settings(self, name: str, settings: dict[str, Any]) -> Any:
        """Validate ``settings`` for plugin ``name``; raises pydantic's ValidationError."""
        model = self.settings_model(name)
        if model is None:
            return settings
        return model.model_validate(settings)

    def describe(self) -> list[PluginInfo]:
        infos = []
        for name in self.names():
            settings, config = self.settings_model(name), self.config_model(name)
            infos.append(PluginInfo(
                name, self.versions.get(name), self.hooks_of(name),
                settings.model_json_schema() if settings is not None else None,
                config_schema=config.model_json_schema() if config is not None else None,
            ))
        for name, reason in sorted(self.failed.items()):
            infos.append(PluginInfo(name, None, [], error=reason))
        return infos


_UNASKED = object()


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginRegistry"]
