"""The last event of a stream the upstream cut off: an error in OpenAI's shape, and no ``[DONE]``."""

from __future__ import annotations

from ..errors import error_body

__all__ = ["INTERRUPTED_CODE", "interrupted_stream_event"]

INTERRUPTED_CODE = "upstream_stream_interrupted"


def interrupted_stream_event(request_id: str) -> bytes:
    """``data: {"error": {...}}`` ending the event stream: the official clients raise on it."""
    body = error_body(
        "upstream_error",
        INTERRUPTED_CODE,
        "the upstream of this route stopped before the answer was complete; the answer above is partial",
        request_id,
    )
    return b"data: " + body + b"\n\n"
