"""Reading an Admin API body: size limit, JSON syntax, then the pydantic model, each with its own error."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ..errors import BadRequest, PayloadTooLarge, ValidationFailed
from ..json_text import UnfitJSON, strict_loads

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, limit: int, what: str = "the body") -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes (declared or sent)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"{what} is larger than the limit of {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} is larger than the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def read_json(request: Request, limit: int, *, optional: bool = False) -> Any:
    body = await read_body(request, limit)
    if not body.strip():
        if optional:
            return {}
        raise BadRequest("the request needs a JSON object body", code="missing_body")
    try:
        return strict_loads(body)
    except UnfitJSON as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from None


def validation_failed(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    """One 422 naming every bad field (``field``: dotted path) and what is wrong with it."""
    details = [
        {"field": prefix + ".".join(str(p) for p in error["loc"]), "message": _message(error)}
        for error in exc.errors(include_url=False)
    ]
    first = details[0]
    summary = f"{first['field'] or 'body'}: {first['message']}"
    if len(details) > 1:
        summary += f" (and {len(details) - 1} more problem(s), see details)"
    return ValidationFailed(summary, details=details)


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (check its spelling)"
    return str(error["msg"])


async def read_model(request: Request, model: type[M], limit: int, *, optional: bool = False) -> M:
    data = await read_json(request, limit, optional=optional)
    if not isinstance(data, dict):
        raise BadRequest(f"the body must be a JSON object, not {type(data).__name__}", code="invalid_body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc) from None
