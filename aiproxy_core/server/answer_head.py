"""The head of an answer as both HTTP protocols write it (the Proxy listener's own and uvicorn's
with the gateway's cycle): checked, framed, and with what it says about the connection."""

from __future__ import annotations

from typing import Any, Iterable

from .refusals import HEADER_NAME_BYTES, HEADER_VALUE_BYTES, STATUS_LINE

__all__ = ["AnswerHead", "answer_head", "check_body_message", "framed_body"]


#: ``(head, chunked, expected_length, keep_alive)``: the head's bytes; whether the body is chunked
#: (True), has a Content-Length (False) or is none (None: HEAD without one, 204, 304); the
#: Content-Length given (0 when chunked or none); whether the connection may serve another
#: request after this answer. A plain tuple: made once per answer, a NamedTuple's Python-level
#: constructor cost ~1 k instructions more.
AnswerHead = tuple[bytes, "bool | None", int, bool]


def answer_head(
    status: int, headers: Iterable[tuple[bytes, bytes]], default_headers: list[tuple[bytes, bytes]], keep_alive: bool, no_body: bool,
) -> AnswerHead:
    """The head for an ``http.response.start`` message. RuntimeError before anything is built for
    a header name with a separator or control byte, or a value with CR, LF or another control byte
    (an upstream or a plugin trying to inject a header or split the answer). ``no_body``: a HEAD
    request's answer (its Content-Length describes what a GET would get)."""
    headers = list(headers)
    # One check over all names (and one over all values) joined finds what a check of each would.
    if b"".join([name for name, _ in headers]).translate(None, HEADER_NAME_BYTES):
        raise RuntimeError("Invalid HTTP header name.")
    if b"".join([value for _, value in headers]).translate(None, HEADER_VALUE_BYTES):
        raise RuntimeError("Invalid HTTP header value.")
    content: list[Any] = [STATUS_LINE[status]]
    for name, value in default_headers:  # the server's own (Server, Date): already valid
        content += (name, b": ", value, b"\r\n")
    chunked: bool | None = None
    expected_length = 0
    has_close = False
    for name, value in headers:
        name = name.lower()
        if name == b"content-length":
            if chunked is None:
                expected_length = int(value.decode())
                chunked = False
        elif name == b"transfer-encoding":
            if value.lower() == b"chunked":
                expected_length = 0
                chunked = True
        elif name == b"connection":
            if b"close" in [token.lower().strip() for token in value.split(b",")]:
                keep_alive = False
                has_close = True
        content += (name, b": ", value, b"\r\n")
    if not keep_alive and not has_close:
        content.append(b"connection: close\r\n")
    if chunked is None and not (no_body or status in (204, 304)):
        chunked = True  # neither Content-Length nor Transfer-Encoding given
        content.append(b"transfer-encoding: chunked\r\n")
    content.append(b"\r\n")
    return b"".join(content), chunked, expected_length, keep_alive


def framed_body(body: bytes, more_body: bool, chunked: bool | None, no_body: bool, expected_length: int, held: bytes | None) -> tuple[bytes, int]:
    """What to write for one ``http.response.body`` message, and the Content-Length still
    expected: a chunk (and the last chunk when no more body follows), or the body itself after
    ``held`` (the head, when it waited for it). RuntimeError when the body passes its
    Content-Length, or ends short of it."""
    if no_body:
        data, expected_length = b"", 0
    elif chunked:
        data = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
        if not more_body:
            data += b"0\r\n\r\n"
    else:
        if len(body) > expected_length:
            raise RuntimeError("Response content longer than Content-Length")
        expected_length -= len(body)
        data = body
    if held is not None:
        data = held + data
    if not more_body and expected_length != 0:
        raise RuntimeError("Response content shorter than Content-Length")
    return data, expected_length


def check_body_message(message: Any, response_complete: bool) -> None:
    """RuntimeError (the app's mistake: the connection closes) for a message that cannot follow
    an answer's head."""
    if response_complete:
        raise RuntimeError(f"Unexpected ASGI message '{message['type']}' sent, after response already completed.")
    if message["type"] != "http.response.body":
        raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{message['type']}'.")
