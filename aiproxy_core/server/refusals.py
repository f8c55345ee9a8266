"""The bytes both HTTP protocols (the Proxy listener's own, :mod:`.proxy_protocol`, and uvicorn's
with limits, :mod:`.http_protocol`) write themselves: status lines, what a header must not hold,
and a refusal (the JSON error envelope with a fresh request id and ``Connection: close``, written
straight to the socket: no app is involved)."""

from __future__ import annotations

import http

from ..errors import BadRequest, GatewayError

__all__ = [
    "HEADER_NAME_BYTES",
    "HEADER_VALUE_BYTES",
    "LINGER_SECONDS",
    "METHOD_MARGIN",
    "REQUEST_LINE_AND_END",
    "STATUS_LINE",
    "invalid_request",
    "refusal_bytes",
]

#: Every byte a response header name may hold, and every byte a value may: the complements of
#: uvicorn's HEADER_RE (a control byte, space or separator) and HEADER_VALUE_RE (a control byte
#: but tab). ``joined.translate(None, HEADER_NAME_BYTES)`` deletes the allowed bytes, so what is
#: left is what a header must not hold; all names (or values) joined are checked at once. One C
#: loop over the bytes: the regular expressions' character classes took ~3x as long.
HEADER_NAME_BYTES = bytes(set(range(0x21, 0x7F)) - set(b'()<>@,;:[]={}\\"') | set(range(0x80, 0x100)))
HEADER_VALUE_BYTES = bytes(set(range(0x20, 0x7F)) | {0x09} | set(range(0x80, 0x100)))

#: What a request line adds to the URL and method: two spaces, "HTTP/1.1", CRLF; and the blank line.
REQUEST_LINE_AND_END = 2 + 8 + 2 + 2
#: Longer than any method name httptools accepts: below this margin the exact method length
#: cannot matter, so ``get_method()`` is only called near the limit.
METHOD_MARGIN = 32
#: How long a refused client may keep sending (discarded) after its answer, so closing the socket
#: with unread input does not reset the connection before the client has read the answer.
LINGER_SECONDS = 2.0


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase)


#: ``HTTP/1.1 <status> <phrase>\r\n`` for every status a handler may send.
STATUS_LINE = {status: _status_line(status) for status in range(100, 600)}


def invalid_request() -> BadRequest:
    return BadRequest("the request is not valid HTTP/1.1; check the request line and header syntax", code="invalid_http_request")


def refusal_bytes(error: GatewayError, request_id: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole answer (head and envelope) refusing a request with ``error``; the connection closes after it."""
    body = error.to_body(request_id)
    head = [STATUS_LINE[error.status]]
    for name, value in default_headers:
        head += [name, b": ", value, b"\r\n"]
    head += [
        b"content-type: application/json\r\ncontent-length: ",
        str(len(body)).encode(),
        b"\r\nx-request-id: ",
        request_id.encode(),
        b"\r\nconnection: close\r\n\r\n",
        body,
    ]
    return b"".join(head)
