"""What went wrong with one attempt, whether it is worth another, and how long to wait first."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import Sequence

from ..models.routing import RetryPolicy

__all__ = ["Failure", "RetryRules", "backoff_delay", "context_exceeded", "retry_after_seconds"]

#: The longest ``Retry-After`` believed (a day): anything longer is an upstream's mistake.
MAX_RETRY_AFTER = 86_400.0


class Failure:
    """One failed attempt: ``kind`` is ``connect_error``, ``timeout``, ``status`` or ``context_window``."""

    __slots__ = ("kind", "status", "retry_after", "target", "error")

    def __init__(self, kind: str, target: str, *, status: int = 0, retry_after: float | None = None, error: Exception | None = None) -> None:
        self.kind = kind
        self.target = target
        self.status = status
        self.retry_after = retry_after
        self.error = error

    def describe(self) -> str:
        """For the client: the target's label and what happened, never its URL."""
        if self.kind == "status":
            return f"target {self.target!r} answered {self.status}"
        if self.kind == "timeout":
            return f"target {self.target!r} did not answer in time"
        if self.kind == "context_window":
            return f"target {self.target!r} could not hold the prompt in its context window"
        return f"target {self.target!r} was unreachable"

    @property
    def trips_circuit(self) -> bool:
        """Failures that say the target is unwell (a 4xx other than 429 is the request's fault)."""
        if self.kind == "context_window":
            return False
        return self.kind != "status" or self.status == 429 or self.status >= 500


class RetryRules:
    """A :class:`RetryPolicy`'s ``retry_on`` as sets, for one lookup per attempt."""

    __slots__ = ("statuses", "client_errors", "server_errors", "connect_errors", "timeouts", "context_window")

    def __init__(self, retry_on: Sequence[int | str]) -> None:
        self.statuses = frozenset(item for item in retry_on if isinstance(item, int))
        self.client_errors = "4xx" in retry_on
        self.server_errors = "5xx" in retry_on
        self.connect_errors = "connect_error" in retry_on
        self.timeouts = "timeout" in retry_on
        self.context_window = "context_window" in retry_on

    def status_retryable(self, status: int) -> bool:
        if status < 400:
            return False
        return status in self.statuses or (self.server_errors and status >= 500) or (self.client_errors and status < 500)

    def retryable(self, failure: Failure) -> bool:
        if failure.kind == "status":
            return self.status_retryable(failure.status)
        return self.timeouts if failure.kind == "timeout" else self.connect_errors


#: What OpenAI (and Azure), Anthropic and OpenAI-compatible servers say of a prompt too long
#: for the model: the error code, and the words of the messages.
_CONTEXT_MARKERS = (b"context_length_exceeded", b"prompt is too long", b"maximum context length")


def context_exceeded(status: int, body: bytes | None) -> bool:
    """Whether an error answer says the prompt does not fit the model's context window."""
    return status in (400, 413) and body is not None and any(marker in body for marker in _CONTEXT_MARKERS)


def retry_after_seconds(headers: Sequence[tuple[bytes, bytes]]) -> float | None:
    """The wait an upstream asked for: ``retry-after-ms`` (OpenAI's, finer) before ``retry-after``
    (seconds or an HTTP date). None when it asked nothing or something unreadable."""
    seconds: float | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"retry-after-ms":
            try:
                milliseconds = float(value)
            except ValueError:
                continue
            if 0 <= milliseconds <= MAX_RETRY_AFTER * 1000:
                return milliseconds / 1000
        elif lowered == b"retry-after" and seconds is None:
            seconds = _retry_after(value.decode("latin-1").strip())
    return seconds


def _retry_after(text: str) -> float | None:
    if text.isdigit():
        value = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        value = max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return value if value <= MAX_RETRY_AFTER else None


def backoff_delay(policy: RetryPolicy, round_number: int) -> float:
    """Exponential backoff with full jitter (AWS's advice: spreads the retries of many clients)
    before the ``round_number``-th return to a target already tried (1 for the first)."""
    ceiling = min(policy.max_backoff, policy.backoff * (2 ** (round_number - 1)))
    return random.uniform(0, ceiling)
