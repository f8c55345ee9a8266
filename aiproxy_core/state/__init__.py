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
    Record,
    Records,
    RecordSink,
    Reservation,
    Set,
    SetIfAbsent,
    Values,
    WindowKind,
)
from .opened import opened_state
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
    "Record",
    "RecordSink",
    "Records",
    "Reservation",
    "Set",
    "SetIfAbsent",
    "StateService",
    "TurnBatch",
    "Values",
    "WindowKind",
    "opened_state",
]
