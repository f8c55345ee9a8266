"""The core's state API for plugins (``services.state(name)``); see docs/plugin_state.md."""

from .api import (
    CompareAndSet,
    Counters,
    CounterVerdict,
    Delete,
    Increment,
    Operation,
    PluginState,
    Queue,
    QueueEntry,
    Reservation,
    Set,
    SetIfAbsent,
    Values,
    WindowKind,
)
from .service import StateService

__all__ = [
    "CompareAndSet",
    "CounterVerdict",
    "Counters",
    "Delete",
    "Increment",
    "Operation",
    "PluginState",
    "Queue",
    "QueueEntry",
    "Reservation",
    "Set",
    "SetIfAbsent",
    "StateService",
    "Values",
    "WindowKind",
]
