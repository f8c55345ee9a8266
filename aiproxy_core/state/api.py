"""The state API's contract: what a plugin may ask of the core's state, whatever the backend.

A plugin gets its namespace with ``services.state("my_plugin")`` (a :class:`PluginState`). Every
operation names the tenant it belongs to, so a tenant's state can be dropped whole when the tenant
is deleted, and on a Redis Cluster every key of one tenant shares a hash slot (``{tenant}``).

Three primitives, each with one implementation per backend inside the core (SQLite embedded,
Redis), held to one parametrized test suite (``tests/state/``):

* :class:`Values` - keys to values (JSON-compatible data or ``bytes``) with optional TTLs,
  set-if-absent, compare-and-set, integer field increments (ledger aggregates), listing and
  deleting by prefix, and several operations as one atomic step.
* :class:`Counters` - windowed counts with a ceiling, by the store's own clock (rate limits,
  quotas), and balances with reserve and settle (prepaid credits).
* :class:`Queue` - a durable queue with worker groups: append (batched per event-loop turn),
  claim, reclaim from dead workers, acknowledge.

Keys are strings of at most 512 characters, without NUL; the core maps them to backend keys
(nothing a plugin writes can name another plugin's or tenant's state).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Awaitable, Literal, Sequence, TypeVar, Union

__all__ = [
    "CounterRefund",
    "CounterRequest",
    "Counters",
    "CounterVerdict",
    "Delete",
    "Increment",
    "MAX_ONCE_INCREMENTS",
    "MAX_ONCE_STEPS",
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
    "CompareAndSet",
    "Value",
    "Values",
    "WindowKind",
]

#: What a value may be: JSON-compatible data (dict, list, str, int, float, bool, None) or bytes
#: (serialized indexes). A value read back is equal to the one written (bytes stay bytes).
Value = Any

#: How a counter's window counts.
#: ``sliding``: a sliding-window counter (two fixed buckets, the previous one weighted by how much
#: of it still lies in the window; O(1) memory, error documented in docs/plugin_state.md);
#: ``fixed``: a fixed window aligned to the window length (resets at each boundary);
#: ``exact``: an exact sliding log (one entry per admitted unit; memory grows with the limit, for
#: small limits only).
WindowKind = Literal["sliding", "fixed", "exact"]


# -- one atomic step of several operations ---------------------------------------------------------


@dataclass(frozen=True)
class Set:
    key: str
    value: Value
    ttl: float | None = None


@dataclass(frozen=True)
class SetIfAbsent:
    """Fails the whole step when ``key`` exists."""

    key: str
    value: Value
    ttl: float | None = None


@dataclass(frozen=True)
class CompareAndSet:
    """Fails the whole step unless ``key`` holds ``expected`` (None: the key is absent)."""

    key: str
    expected: Value
    value: Value
    ttl: float | None = None


@dataclass(frozen=True)
class Delete:
    key: str


@dataclass(frozen=True)
class Increment:
    """Adds integers to fields of the record at ``key`` (created when absent)."""

    key: str
    fields: dict[str, int]
    ttl: float | None = None


Operation = Union[Set, SetIfAbsent, CompareAndSet, Delete, Increment]


@dataclass(frozen=True)
class OnceStep:
    """Increments that take effect once per ``once_key`` (an idempotency key, such as the
    gateway's request id of the event being counted): see :meth:`Values.increment_once`."""

    once_key: str
    increments: tuple[Increment, ...]


#: At most this many steps, and this many increments in all, per :meth:`Values.increment_once`
#: call (one script on Redis: it must stay short, since Redis runs nothing else meanwhile).
MAX_ONCE_STEPS = 1000
MAX_ONCE_INCREMENTS = 5000


class Values(abc.ABC):
    """One plugin's values of one tenant."""

    @abc.abstractmethod
    async def get(self, key: str) -> Value | None:
        """The value at ``key``, or None when absent or expired."""

    @abc.abstractmethod
    async def set(self, key: str, value: Value, ttl: float | None = None) -> None:
        """Write ``value``; ``ttl`` seconds until it expires (None: never)."""

    @abc.abstractmethod
    async def set_if_absent(self, key: str, value: Value, ttl: float | None = None) -> bool:
        """Write only if ``key`` is absent (or expired); True when written."""

    @abc.abstractmethod
    async def delete(self, key: str) -> bool:
        """True when something was deleted."""

    @abc.abstractmethod
    async def compare_and_set(self, key: str, expected: Value | None, value: Value, ttl: float | None = None) -> bool:
        """Write ``value`` only if ``key`` holds ``expected`` now (None: absent); True when written."""

    @abc.abstractmethod
    async def increment(self, key: str, fields: dict[str, int], ttl: float | None = None) -> dict[str, int]:
        """Add to integer fields of the record at ``key`` atomically; return all its fields after.

        ``ttl`` (when given) is set when the record is created and left alone afterwards.
        """

    @abc.abstractmethod
    async def increment_once(self, steps: Sequence[OnceStep], *, remember: float) -> list[bool]:
        """As one atomic step: apply the increments of each step whose ``once_key`` was not seen
        in the last ``remember`` seconds (as :meth:`increment` would, ``ttl`` included) and
        remember that key for ``remember`` seconds. One bool per step: True when applied, False
        when its key was remembered (also for a key repeated within the call).

        This is how a queue's worker makes its effects idempotent: a batch replayed after a
        crash, within ``remember`` seconds, changes nothing. Once-keys are kept apart from the
        values (``get``/``keys``/``delete_prefix`` never see them), by the store's clock, and
        dropped with the tenant. An increment that cannot apply (a plain value at its key, a
        field overflow) raises ``ValueError`` and nothing of the call is applied or remembered.
        At most :data:`MAX_ONCE_STEPS` steps and :data:`MAX_ONCE_INCREMENTS` increments per call.
        """

    @abc.abstractmethod
    async def fields(self, key: str) -> dict[str, int]:
        """The integer fields of the record at ``key`` ({} when absent)."""

    @abc.abstractmethod
    async def keys(self, prefix: str = "", limit: int = 1000) -> list[str]:
        """Keys starting with ``prefix``, in lexical order, at most ``limit``."""

    @abc.abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix`` (``""``: all of them); how many."""

    @abc.abstractmethod
    async def atomic(self, operations: Sequence[Operation]) -> bool:
        """Apply all ``operations`` as one step, or none of them when a condition fails (a
        :class:`SetIfAbsent` whose key exists, a :class:`CompareAndSet` whose key differs); True
        when applied. No other caller sees a state in between."""


# -- counters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterVerdict:
    """The outcome of :meth:`Counters.add`.

    ``count`` is the window's count after the call (with the cost when allowed, without it when
    not); ``reset_after`` the seconds until the count has fallen back by the cost (when a retry
    of the same cost can succeed if nothing else is counted meanwhile); ``retry_after`` is 0
    when allowed.
    """

    allowed: bool
    count: float
    limit: int
    remaining: float
    retry_after: float
    reset_after: float


def new_verdict(allowed: bool, count: float, limit: int, retry_after: float, reset_after: float) -> CounterVerdict:
    """What the stores answer (``remaining`` follows from ``count``), built by :func:`_frozen`."""
    return _frozen(CounterVerdict, {
        "allowed": allowed, "count": count, "limit": limit, "remaining": max(0.0, limit - count),
        "retry_after": retry_after, "reset_after": reset_after,
    })


_T = TypeVar("_T")


def _frozen(cls: type[_T], fields: dict[str, Any]) -> _T:
    """An instance of the frozen dataclass ``cls`` (no slots, no ``__post_init__`` to run) with
    ``fields`` as its ``__dict__``. Its own ``__init__`` sets each field through
    ``object.__setattr__``: 1.5 µs for a verdict against ~0.4 µs here, and the stores build one
    per counter per rate-limited request, one per claimed queue item."""
    instance = _new(cls)
    _set(instance, "__dict__", fields)
    return instance


_new, _set = object.__new__, object.__setattr__


@dataclass(frozen=True, slots=True)
class CounterRequest:
    """One counter of a :meth:`Counters.add_all` call: count ``cost`` under ``limit``."""

    name: str
    cost: int
    limit: int
    window: float
    kind: WindowKind = "sliding"


@dataclass(frozen=True, slots=True)
class CounterRefund:
    """One counter of a :meth:`Counters.refund_all` call: take back ``cost``."""

    name: str
    cost: int
    window: float
    kind: WindowKind = "sliding"


@dataclass(frozen=True)
class Reservation:
    """What :meth:`Counters.reserve` took, to hand back to :meth:`Counters.settle`."""

    name: str
    amount: int
    token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Counters(abc.ABC):
    """One plugin's counters of one tenant. Times come from the store's clock, not the caller's.

    A store that cannot be reached raises the builtin ``ConnectionError`` (``OSError``) or
    ``TimeoutError``, on every backend and client, so a caller can decide what an outage means
    (fail open or closed) without knowing the backend.
    """

    @abc.abstractmethod
    async def add(self, name: str, cost: int, *, limit: int, window: float, kind: WindowKind = "sliding") -> CounterVerdict:
        """Count ``cost`` in the window of ``window`` seconds unless that would pass ``limit``
        (then nothing is counted and the verdict says when to retry)."""

    @abc.abstractmethod
    def add_all(self, requests: Sequence[CounterRequest], *, timeout: float | None = None) -> Awaitable[list[CounterVerdict]]:
        """Count each request's cost in its counter only if *every* one fits, as one atomic step
        (one script on Redis, one transaction on SQLite): all counted or none. One verdict per
        request, in order; each ``allowed`` is the step's outcome. When refused, the counters
        that lacked room have ``retry_after > 0`` (``math.inf``: that cost never fits) and the
        others 0, so the step can be retried after the largest ``retry_after``. A counter may
        appear once per call (the same name, kind and window twice is a ``ValueError``).

        ``timeout``: raise ``TimeoutError`` when the store has not answered within that many
        seconds (None: the backend's own bound, 5 s on Redis). Cheaper than wrapping the call in
        ``asyncio.timeout``: on Redis one timer covers every call of an event-loop turn. The
        embedded SQLite file answers without waiting on a network, so it has no use for it."""

    @abc.abstractmethod
    async def refund(self, name: str, cost: int, *, window: float, kind: WindowKind = "sliding") -> None:
        """Take back ``cost`` counted earlier in the current window (never below zero)."""

    @abc.abstractmethod
    async def refund_all(self, refunds: Sequence[CounterRefund], *, timeout: float | None = None) -> None:
        """:meth:`refund` of several counters as one step (one round trip); ``timeout`` as in :meth:`add_all`."""

    @abc.abstractmethod
    async def peek(self, name: str, *, limit: int, window: float, kind: WindowKind = "sliding") -> CounterVerdict:
        """The window's count now, counting nothing."""

    # Balances (prepaid credits): a total that may not go below zero.

    @abc.abstractmethod
    async def balance(self, name: str) -> int:
        """The balance now (0 when never credited)."""

    @abc.abstractmethod
    async def credit(self, name: str, amount: int, *, ceiling: int | None = None) -> int | None:
        """Add ``amount``; the new balance, or None (and nothing added) when it would pass ``ceiling``."""

    @abc.abstractmethod
    async def reserve(self, name: str, amount: int) -> Reservation | None:
        """Take ``amount`` from the balance, or None (nothing taken) when the balance is smaller."""

    @abc.abstractmethod
    async def settle(self, reservation: Reservation, spent: int) -> int:
        """Give back what a reservation took beyond ``spent`` (or take the rest, down to zero,
        when ``spent`` is more); the shortfall that could not be taken (0 when all was paid)."""


# -- queue ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    """A claimed item: ``id`` to acknowledge, ``item`` as appended, ``attempts`` claims so far,
    and ``batch``: the append it travelled in (on Redis the items appended in one event-loop turn,
    claimed and reclaimed together; on SQLite the item alone). A batch id is never reused within
    the queue. A consumer that writes the effect of every item it claimed of a batch before
    acknowledging any of them may make that write idempotent per batch (one idempotency key for a
    batch instead of one per item: what billing's ledger does); defaults to ``id``."""

    id: str
    item: Value
    attempts: int = 1
    batch: str = ""

    def __post_init__(self) -> None:
        if not self.batch:
            object.__setattr__(self, "batch", self.id)


def new_queue_entry(item_id: str, item: Value, attempts: int, batch: str) -> QueueEntry:
    """A claimed item as the stores hand it out (``batch`` given), built by :func:`_frozen`."""
    return _frozen(QueueEntry, {"id": item_id, "item": item, "attempts": attempts, "batch": batch or item_id})


class Queue(abc.ABC):
    """One plugin's durable queue (one per name). Items carry what they need, tenant included."""

    @abc.abstractmethod
    def append(self, item: Value) -> Awaitable[None]:
        """Queue ``item`` durably: ``await queue.append(item)`` returns once it is written, and
        raises ValueError for an item that cannot be stored (the others of its turn are written).
        Items appended in one event-loop turn are written together. (An awaitable, not
        necessarily a coroutine: the stores hand back their write's future, one await level less
        per append.)"""

    @abc.abstractmethod
    async def claim(self, group: str, worker: str, *, count: int = 100, reclaim_after: float = 30.0) -> list[QueueEntry]:
        """About ``count`` items for ``worker`` of ``group``: new ones, and ones another worker
        of the group claimed more than ``reclaim_after`` seconds ago without acknowledging (it
        died). Each group sees every item; workers of one group share them. On Redis the items
        appended in one event-loop turn travel as one entry and are claimed whole, one entry after
        another until ``count`` is reached, so a claim may return up to one entry's items more."""

    @abc.abstractmethod
    async def ack(self, group: str, ids: Sequence[str]) -> None:
        """Done with these entries (after an idempotent write of their effect); an item every
        group acknowledged is removed, so the queue does not grow with traffic."""

    @abc.abstractmethod
    async def backlog(self, group: str) -> int:
        """Items appended and not yet acknowledged by ``group`` (claimed or not)."""


# -- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """A record that must be kept (an event of a ledger): ``id`` is unique per tenant within its
    :class:`Records` (writing it again is a no-op), ``time`` the event's time (unix seconds),
    ``data`` a JSON object."""

    tenant_id: str
    id: str
    time: float
    data: dict[str, Any]


#: Where a deployment's records go: the SQLite state file (embedded), a PostgreSQL server
#: (``records.postgresql``), or nowhere (on Redis without PostgreSQL: aggregates only).
RecordSink = Literal["sqlite", "postgresql", "none"]


class Records(abc.ABC):
    """One plugin's kept records of one name (billing's ``ledger``), outside Redis: records grow
    with traffic, and Redis holds only what configuration bounds."""

    #: Where they go; ``"none"``: this deployment keeps no records (``write`` discards them).
    sink: RecordSink

    @abc.abstractmethod
    async def write(self, records: Sequence[Record]) -> int:
        """Keep ``records`` (idempotent by tenant + id); how many were new. A sink that cannot
        be reached raises ``ConnectionError``/``OSError`` or ``TimeoutError`` and nothing of the
        call is kept, so the caller retries the whole batch."""

    @abc.abstractmethod
    async def read(
        self, tenant_id: str, *, since: float | None = None, until: float | None = None, after: str | None = None, limit: int = 1000
    ) -> list[Record]:
        """A tenant's records with ``since <= time < until``, ordered by (time, id), at most
        ``limit``; ``after``: the id of the last record of the previous page (pagination)."""

    @abc.abstractmethod
    async def count(self, tenant_id: str) -> int:
        """How many records the tenant has (0 with the ``none`` sink)."""


class PluginState(abc.ABC):
    """One plugin's namespace: ``services.state("my_plugin")``."""

    plugin: str

    @abc.abstractmethod
    def values(self, tenant_id: str) -> Values: ...

    @abc.abstractmethod
    def counters(self, tenant_id: str) -> Counters: ...

    @abc.abstractmethod
    def queue(self, name: str) -> Queue: ...

    @abc.abstractmethod
    def records(self, name: str) -> Records:
        """This plugin's kept records of ``name`` (see :class:`Records` for where they go)."""

    @abc.abstractmethod
    async def drop_tenant(self, tenant_id: str) -> None:
        """Delete all of this plugin's values and counters of a tenant (its queued items and
        kept records stay: they are records)."""
