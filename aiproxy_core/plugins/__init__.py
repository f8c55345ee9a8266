"""Plugin discovery and registration."""

from .registry import ENTRY_POINT_GROUP, PluginInfo, PluginRegistry

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginRegistry"]
