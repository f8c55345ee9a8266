"""The core's state API for plugins (``services.state(name)``); see docs/plugin_state.md."""

from .api import (
    CompareAndSet,
    CounterRefund,
    CounterRequest,
    Counters,
    CounterVerdict,
    Delete,
    Increment,
    OnceStep,
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
from .turn_batch import TurnBatch

__all__ = [
    "CompareAndSet",
    "CounterRefund",
    "CounterRequest",
    "CounterVerdict",
    "Counters",
    "Delete",
    "Increment",
    "OnceStep",
    "Operation",
    "PluginState",
    "Queue",
    "QueueEntry",
    "Reservation",
    "Set",
    "SetIfAbsent",
    "StateService",
    "TurnBatch",
    "Values",
    "WindowKind",
]
