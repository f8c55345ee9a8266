"""A local OpenAI-compatible upstream for demos, tests and benchmarks (and Anthropic's Messages
API at ``/v1/messages``: :mod:`.anthropic_messages`).

It answers deterministically ("You said: ..."), so gateway tests can assert on exact
bodies and token counts without a real provider, and it can inject latency and errors so
retries, timeouts and fallbacks can be exercised. Any path it does not implement is
echoed back, which lets tests see exactly what the gateway forwarded.

Azure OpenAI's shape is served too: ``POST /openai/deployments/<name>/chat/completions`` wants
an ``api-version`` query (404 without, as Azure) and an ``api-key`` header (401 without).

Per-request controls (headers):

- ``X-Mock-Latency-Ms``: delay before the response starts (overrides ``latency_ms``).
- ``X-Mock-Stream-Delay-Ms``: delay between stream events (overrides ``stream_delay_ms``).
- ``X-Mock-Status``: answer with this error status (400..599) in the OpenAI error envelope.
- ``X-Mock-Retry-After-Ms``: with ``X-Mock-Status``, the error says when to retry, as providers
  do: ``retry-after`` (whole seconds, rounded up) and ``retry-after-ms``.
- ``X-Mock-Fail-Times`` (with ``X-Mock-Status``): only the first N requests with the same
  ``X-Mock-Fail-Key`` fail; the rest are answered (an upstream that recovers).
- ``X-Mock-Context-Window: N``: a prompt of more than N words is refused as the provider refuses
  one its model cannot hold (400 ``context_length_exceeded``; Anthropic's "prompt is too long").
- ``X-Mock-First-Event-Delay-Ms``: a streamed answer sends its headers at once and its first event
  this much later (a model slow to its first token: what a time-to-first-token timeout catches).
- ``X-Mock-Fault: close-mid-stream``: a streamed answer is cut after its first two events: no
  final chunk, no ``[DONE]``, the connection closed (an upstream that dies while answering).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import random
import re
import struct
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .anthropic_messages import anthropic_error, messages
from .openai_tool_calls import ToolCall, tool_call_chunks, tool_call_for, tool_call_message
from .own_logs import mock_logger

__all__ = ["create_mock_upstream", "MOCK_MODEL", "EMBEDDING_DIMENSIONS"]

#: The mock's own logger (see :mod:`.own_logs`): its errors are never mistaken for the gateway's.
logger = mock_logger()

MOCK_MODEL = "mock-model"
EMBEDDING_DIMENSIONS = 16
# A fixed timestamp keeps the model list byte-for-byte stable across runs.
MODEL_CREATED = 1_700_000_000
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

# The error "type" the official client expects for each status, so it raises the right class.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class MockSettings:
    """Defaults the headers can override per request."""

    latency_ms: float
    error_rate: float
    stream_delay_ms: float


class MockRequestError(Exception):
    """A client mistake, turned into a 400 envelope instead of a traceback."""

    def __init__(self, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def error_response(status: int, error_type: str, code: str, message: str) -> JSONResponse:
    """Build OpenAI's error envelope so clients and the gateway parse it as a real one."""
    return JSONResponse(
        {"error": {"type": error_type, "code": code, "message": message}},
        status_code=status,
    )


def injected_error(status: int, retry_after_ms: float | None = None, *, anthropic: bool = False) -> JSONResponse:
    """The envelope used for every deliberately injected failure (with when to retry, if asked),
    OpenAI's or (``anthropic``) Anthropic's."""
    if anthropic:
        response = anthropic_error(status, "injected error")
    else:
        error_type = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        response = error_response(status, error_type, "mock_error", "injected error")
    if retry_after_ms is not None:
        response.headers["retry-after"] = str(math.ceil(retry_after_ms / 1000))
        response.headers["retry-after-ms"] = str(round(retry_after_ms))
    return response


#: The faults ``X-Mock-Fault`` can ask for.
FAULTS = ("close-mid-stream",)


def requested_fault(request: Request) -> str | None:
    fault = request.headers.get("x-mock-fault")
    if fault is not None and fault not in FAULTS:
        raise MockRequestError(f"X-Mock-Fault must be one of {', '.join(FAULTS)}", "invalid_mock_header")
    return fault


def header_milliseconds(request: Request, name: str, default: float) -> float:
    """Read a non-negative millisecond override from a header, falling back to the default."""
    raw = request.headers.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise MockRequestError(f"{name} must be a number of milliseconds", "invalid_mock_header") from None
    if not math.isfinite(value) or value < 0:
        raise MockRequestError(f"{name} must be a non-negative number", "invalid_mock_header")
    return value


def header_whole_number(raw: str, name: str) -> int:
    """A header's whole number: ASCII digits only (``str.isdigit`` passes "²", which ``int``
    refuses), and few enough of them for ``int`` (it refuses over 4,300 digits)."""
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise MockRequestError(f"{name} must be a whole number (at most 18 digits)", "invalid_mock_header")
    return int(raw)


def forced_status(request: Request) -> int | None:
    """The status demanded by X-Mock-Status, if any."""
    raw = request.headers.get("x-mock-status")
    if raw is None:
        return None
    try:
        status = int(raw)
    except ValueError:
        raise MockRequestError("X-Mock-Status must be an integer", "invalid_mock_header") from None
    if not 400 <= status <= 599:
        raise MockRequestError("X-Mock-Status must be between 400 and 599", "invalid_mock_header")
    return status


class FailureBudget:
    """``X-Mock-Fail-Times: N``: of the requests carrying the same ``X-Mock-Fail-Key`` (any text),
    only the first N get ``X-Mock-Status``; later ones are answered. An upstream that recovers,
    for retries and circuit breakers to meet. Counted per mock process."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def due(self, request: Request) -> bool:
        raw = request.headers.get("x-mock-fail-times")
        if raw is None:
            return True
        times = header_whole_number(raw, "X-Mock-Fail-Times")
        key = request.headers.get("x-mock-fail-key", "")[:200]
        if key not in self.seen and len(self.seen) >= 10_000:
            self.seen.clear()
        count = self.seen[key] = self.seen.get(key, 0) + 1
        return count <= times


def with_injection(
    endpoint: Endpoint, settings: MockSettings, rng: random.Random, failures: FailureBudget, *, anthropic: bool = False
) -> Endpoint:
    """Wrap an endpoint with latency, forced and random errors, and 400s for bad input (in
    Anthropic's envelope for its Messages API)."""

    async def wrapped(request: Request) -> Response:
        try:
            latency_ms = header_milliseconds(request, "x-mock-latency-ms", settings.latency_ms)
            if latency_ms > 0:
                await asyncio.sleep(latency_ms / 1000)
            status = forced_status(request)
            if status is not None and not failures.due(request):
                status = None
            if status is not None:
                retry_after = header_milliseconds(request, "x-mock-retry-after-ms", -1)
                return injected_error(status, retry_after if retry_after >= 0 else None, anthropic=anthropic)
            requested_fault(request)  # a misspelt fault is a 400, not silently ignored
            too_long = await over_context_window(request)
            if too_long is not None:
                return context_window_error(too_long, anthropic=anthropic)
            if settings.error_rate > 0 and rng.random() < settings.error_rate:
                return injected_error(500, anthropic=anthropic)
            return await endpoint(request)
        except MockRequestError as exc:
            if anthropic:
                return anthropic_error(400, exc.message)
            return error_response(400, "invalid_request_error", exc.code, exc.message)
        except Exception as exc:
            # A bug of the mock's own, not the subject of the demo or test that met it: one line on
            # the mock's logger (the traceback only at DEBUG) and a 500 the gateway can pass on,
            # instead of uvicorn's traceback in the terminal of whoever runs the mock.
            logger.error(
                "%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            if anthropic:
                return anthropic_error(500, "the mock upstream failed")
            return error_response(500, "server_error", "mock_internal_error", "the mock upstream failed")

    return wrapped


async def over_context_window(request: Request) -> tuple[int, int] | None:
    """``X-Mock-Context-Window: N``: (prompt words, N) when the messages hold more than N words."""
    raw = request.headers.get("x-mock-context-window")
    if raw is None:
        return None
    window = header_whole_number(raw, "X-Mock-Context-Window")
    body = await json_object(request)
    messages = body.get("messages")
    words = 0
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            words += word_count(content_text(message.get("content")))
    words += word_count(content_text(body.get("system")))
    return (words, window) if words > window else None


def context_window_error(too_long: tuple[int, int], *, anthropic: bool) -> JSONResponse:
    """What each provider answers for a prompt its model cannot hold."""
    words, window = too_long
    if anthropic:
        return anthropic_error(400, f"prompt is too long: {words} tokens > {window} maximum")
    message = f"This model's maximum context length is {window} tokens. However, your messages resulted in {words} tokens."
    return error_response(400, "invalid_request_error", "context_length_exceeded", message)


async def json_object(request: Request) -> dict[str, Any]:
    """Parse the body as a JSON object, or raise a 400-worthy error."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
        raise MockRequestError("request body is not valid JSON", "invalid_json") from None
    if not isinstance(body, dict):
        raise MockRequestError("request body must be a JSON object", "invalid_json")
    return body


def requested_model(body: dict[str, Any]) -> str:
    """Echo the caller's model so routing through the gateway is visible in the answer."""
    model = body.get("model")
    return model if isinstance(model, str) and model else MOCK_MODEL


def word_count(text: str) -> int:
    """The mock's tokenizer: whitespace-separated words, simple and deterministic."""
    return len(text.split())


def content_text(content: Any) -> str:
    """Flatten a message content (string or list of parts) to its text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
        return " ".join(texts)
    return ""


def chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate ``messages`` like the real API does: a list of objects."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise MockRequestError("'messages' must be a list of message objects")
    return messages


def token_limit(body: dict[str, Any]) -> int | None:
    """The completion budget from ``max_tokens`` (or its newer name ``max_completion_tokens``)."""
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise MockRequestError(f"'{key}' must be a positive integer")
        return value
    return None


def answer_pieces(messages: list[dict[str, Any]], limit: int | None) -> tuple[list[str], str]:
    """Split the answer into words (with their trailing whitespace) and apply the token limit.

    Keeping the whitespace makes the streamed pieces join back to the exact plain answer.
    """
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    answer = "You said: " + (content_text(last_user.get("content")) if last_user else "")
    pieces = re.findall(r"\S+\s*", answer)
    if limit is not None and len(pieces) > limit:
        pieces = pieces[:limit]
        pieces[-1] = pieces[-1].rstrip()
        return pieces, "length"
    return pieces, "stop"


def chat_usage(messages: list[dict[str, Any]], answer: str) -> dict[str, int]:
    """Deterministic usage so gateway accounting can be asserted exactly."""
    prompt = sum(word_count(content_text(m.get("content"))) for m in messages)
    completion = word_count(answer)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def chat_completions(request: Request, stream_delay_default: float) -> Response:
    """POST /v1/chat/completions: a plain or streamed echo of the last user message."""
    body = await json_object(request)
    messages = chat_messages(body)
    pieces, finish_reason = answer_pieces(messages, token_limit(body))
    answer = "".join(pieces)
    usage = chat_usage(messages, answer)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    model = requested_model(body)
    created = int(time.time())
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    call = tool_call_for(body, messages, content_text(last_user.get("content")) if last_user else "")
    if call is not None:
        finish_reason = "tool_calls"
        usage = chat_usage(messages, call["function"]["arguments"])
    if body.get("stream") is True:
        delay_ms = header_milliseconds(request, "x-mock-stream-delay-ms", stream_delay_default)
        first_ms = header_milliseconds(request, "x-mock-first-event-delay-ms", 0)
        chunks = stream_chunks(completion_id, created, model, pieces, finish_reason, usage, call)
        events = sse_events(chunks, delay_ms, first_ms)
        if requested_fault(request) == "close-mid-stream":
            return CutStream(events, after=2)
        return StreamingResponse(events, media_type="text/event-stream", headers={"cache-control": "no-cache"})
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": tool_call_message(call) if call is not None else {"role": "assistant", "content": answer},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }
    )


def stream_chunks(
    completion_id: str,
    created: int,
    model: str,
    pieces: list[str],
    finish_reason: str,
    usage: dict[str, int],
    call: ToolCall | None = None,
) -> list[dict[str, Any]]:
    """All chunks of a streamed answer (a tool call's, with ``call``); usage is always last, as
    include_usage would send it."""

    def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
        }

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    if call is not None:
        chunks = [chunk([choice(delta)]) for delta in tool_call_chunks(call)]
    else:
        chunks = [chunk([choice({"role": "assistant", "content": ""})])]
        chunks += [chunk([choice({"content": piece})]) for piece in pieces]
    chunks.append(chunk([choice({}, finish_reason)]))
    chunks.append({**chunk([]), "usage": usage})
    return chunks


async def sse_events(chunks: list[dict[str, Any]], delay_ms: float, first_ms: float = 0) -> AsyncIterator[bytes]:
    """Serialize chunks as server-sent events, pausing between them to mimic generation (and
    ``first_ms`` before the first: the time to the first token)."""
    events = [f"data: {json.dumps(c, separators=(',', ':'))}\n\n" for c in chunks]
    events.append("data: [DONE]\n\n")
    for index, event in enumerate(events):
        pause = delay_ms if index else first_ms
        if pause > 0:
            await asyncio.sleep(pause / 1000)
        yield event.encode()


class CutStream(Response):
    """An event stream that sends its headers and ``after`` events, then ends without finishing
    the answer: the server closes the connection with no final chunk (uvicorn logs one line,
    "ASGI callable returned without completing response", and no traceback)."""

    def __init__(self, events: AsyncIterator[bytes], *, after: int) -> None:
        super().__init__(media_type="text/event-stream", headers={"cache-control": "no-cache"})
        if "content-length" in self.headers:
            del self.headers["content-length"]
        self._events = events
        self._after = after

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        sent = 0
        async for event in self._events:
            if sent == self._after:
                break
            await send({"type": "http.response.body", "body": event, "more_body": True})
            sent += 1


def embedding_vector(text: str) -> list[float]:
    """A stable unit vector from the text's hash: same text, same vector, every run."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = struct.unpack(f">{EMBEDDING_DIMENSIONS}h", digest[: 2 * EMBEDDING_DIMENSIONS])
    norm = math.sqrt(sum(v * v for v in raw))
    if norm == 0:
        return [1.0] + [0.0] * (EMBEDDING_DIMENSIONS - 1)
    return [v / norm for v in raw]


def encode_embedding(vector: list[float], encoding_format: str) -> list[float] | str:
    """Float list, or base64 float32 (the official client asks for base64 by default)."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    """Accept ``input`` as a string or a non-empty list of strings."""
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise MockRequestError("'input' must be a string or a non-empty list of strings")


async def embeddings(request: Request) -> Response:
    """POST /v1/embeddings: deterministic vectors in OpenAI's response shape."""
    body = await json_object(request)
    texts = embedding_inputs(body)
    encoding_format = body.get("encoding_format", "float")
    if encoding_format not in ("float", "base64"):
        raise MockRequestError("'encoding_format' must be 'float' or 'base64'")
    tokens = sum(word_count(t) for t in texts)
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode_embedding(embedding_vector(t), encoding_format)}
                for i, t in enumerate(texts)
            ],
            "model": requested_model(body),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


async def list_models(request: Request) -> Response:
    """GET /v1/models: the single model the mock serves."""
    return JSONResponse(
        {
            "object": "list",
            "data": [{"id": MOCK_MODEL, "object": "model", "created": MODEL_CREATED, "owned_by": "aiproxy-mock"}],
        }
    )


async def echo(request: Request) -> Response:
    """Any other route: reflect the request so tests can see what the gateway forwarded."""
    body = await request.body()
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": headers,
            "body": body.decode("utf-8", errors="replace"),
        }
    )


def create_mock_upstream(
    latency_ms: float = 0,
    error_rate: float = 0.0,
    stream_delay_ms: float = 0,
    seed: int | None = None,
) -> Starlette:
    """Build the mock app; ``seed`` makes the random error injection reproducible."""
    if latency_ms < 0 or stream_delay_ms < 0:
        raise ValueError("latency_ms and stream_delay_ms must be non-negative")
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    settings = MockSettings(latency_ms=latency_ms, error_rate=error_rate, stream_delay_ms=stream_delay_ms)
    rng = random.Random(seed)

    async def chat(request: Request) -> Response:
        return await chat_completions(request, settings.stream_delay_ms)

    async def anthropic_messages(request: Request) -> Response:
        return await messages(request, settings.stream_delay_ms)

    async def azure_chat(request: Request) -> Response:
        # Azure OpenAI's shape: the deployment in the path, api-version in the query, the key in
        # an api-key header (or Entra's bearer token); without them Azure refuses, and so does this.
        if not request.query_params.get("api-version"):
            return JSONResponse({"error": {"code": "404", "message": "Resource not found"}}, status_code=404)
        if not request.headers.get("api-key") and not request.headers.get("authorization"):
            return JSONResponse(
                {"error": {"code": "401", "message": "Access denied due to missing subscription key."}}, status_code=401
            )
        return await chat_completions(request, settings.stream_delay_ms)

    failures = FailureBudget()

    def route(path: str, endpoint: Endpoint, methods: list[str], anthropic: bool = False) -> Route:
        return Route(path, with_injection(endpoint, settings, rng, failures, anthropic=anthropic), methods=methods)

    return Starlette(
        routes=[
            route("/v1/chat/completions", chat, ["POST"]),
            route("/v1/messages", anthropic_messages, ["POST"], anthropic=True),
            route("/openai/deployments/{deployment}/chat/completions", azure_chat, ["POST"]),
            route("/v1/embeddings", embeddings, ["POST"]),
            route("/v1/models", list_models, ["GET"]),
            route("/{path:path}", echo, ALL_METHODS),
        ]
    )
