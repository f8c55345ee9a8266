"""The metering queue: one item per billable request, on the core's durable state queue.

``post_response`` appends; the core writes every item appended in one event-loop turn together
(one Redis command, or one SQLite transaction), so the request path does one shared write for
billing. The ledger worker (:mod:`.worker`) claims items as group ``ledger``.
"""

from __future__ import annotations

from typing import Any, Awaitable

from aiproxy_core.state import PluginState, Queue

from .events import BillingEvent

__all__ = ["GROUP", "MeteringQueue"]

#: The worker group that moves events into the ledger.
GROUP = "ledger"


class MeteringQueue:
    def __init__(self, state: PluginState) -> None:
        self.queue: Queue = state.queue("events")

    def put(self, event: BillingEvent) -> Awaitable[None]:
        """``await`` it: done once the event is queued durably. The queue's own awaitable is
        handed back (no coroutine of ours per billed request)."""
        return self.queue.append(event.to_dict())

    async def backlog(self) -> dict[str, Any]:
        """What waits for a worker: ``events_waiting`` stays near 0 when the workers keep up."""
        return {"kind": "state queue", "queue": "billing/events", "events_waiting": await self.queue.backlog(GROUP)}
