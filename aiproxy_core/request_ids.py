"""Request ids: the gateway's own for every request, and the client's ``X-Request-ID`` for tracing.

Billing, settlement and every other count key on the gateway's id, which no client can choose;
the client's id is only echoed (``X-Request-ID`` on the answer and in the error envelope) and
logged beside the gateway's, so a client can find its request in the operator's log.
"""

from __future__ import annotations

import itertools
import uuid

__all__ = ["client_request_id", "new_request_id"]

#: This process's random prefix plus a counter: unique across processes and restarts without an
#: os.urandom call per request.
_ID_PREFIX = uuid.uuid4().hex[:16]
_id_counter = itertools.count(1)

#: Longest client id echoed; longer ones are ignored (not truncated: a cut id would mislead).
MAX_CLIENT_ID_LENGTH = 200


def new_request_id() -> str:
    """A fresh gateway id (32 hex characters)."""
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


def client_request_id(given: str | None) -> str | None:
    """The client's ``X-Request-ID`` when it is fit to echo (printable, at most 200 characters)."""
    if given and len(given) <= MAX_CLIENT_ID_LENGTH and given.isprintable():
        return given
    return None
