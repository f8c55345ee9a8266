"""The last event of a stream the upstream cut off: an error in the client's API's shape, and no
``[DONE]`` (OpenAI) or ``message_stop`` (Anthropic)."""

from __future__ import annotations

import json

from ..errors import error_body

__all__ = ["INTERRUPTED_CODE", "interrupted_stream_event"]

INTERRUPTED_CODE = "upstream_stream_interrupted"


_MESSAGE = "the upstream of this route stopped before the answer was complete; the answer above is partial"


def interrupted_stream_event(request_id: str, client_format: str = "openai") -> bytes:
    """The event ending a cut-off stream, which the official clients raise on: ``data: {"error":
    {...}}`` for OpenAI's, an ``error`` event (``api_error``) for Anthropic's."""
    if client_format == "anthropic":
        error = {"type": "error", "error": {"type": "api_error", "message": _MESSAGE}, "request_id": request_id}
        return b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n"
    return b"data: " + error_body("upstream_error", INTERRUPTED_CODE, _MESSAGE, request_id) + b"\n\n"
