"""The parts both OpenAPI documents share: pydantic models turned into ``components.schemas``,
and the gateway's one error envelope (``errors.error_body``) with the responses that carry it.

Operations are written as plain dicts in which a pydantic model class may stand wherever a
schema goes (``{"schema": TenantCreate}``, ``{"items": Rule}``). :func:`resolve_models` swaps each
for a ``$ref`` and puts every model's JSON Schema (from pydantic, the same models the endpoints
validate with) into ``components.schemas``, once: so the document cannot drift from the code, and
plugins describe their routes with their own models without handling references.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

__all__ = ["ERROR_SCHEMA", "REF_PREFIX", "error_response", "json_content", "resolve_models"]

REF_PREFIX = "#/components/schemas/"

#: ``{"error": {"type", "code", "message", "request_id", "details"?}}``: every error of either API.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The gateway's error envelope (OpenAI's shape, so the official clients raise the matching exception).",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message", "request_id"],
            "properties": {
                "type": {"type": "string", "description": "The class of error, e.g. invalid_request_error, authentication_error."},
                "code": {"type": "string", "description": "A stable code to branch on, e.g. invalid_api_key, validation_error."},
                "message": {"type": "string", "description": "What went wrong and what to change."},
                "request_id": {"type": ["string", "null"], "description": "The request's id, also in the X-Request-ID header."},
                "details": {
                    "type": "array",
                    "description": "Field-level problems (422): each names a dotted field and what is wrong with it.",
                    "items": {"type": "object", "additionalProperties": True},
                },
            },
        }
    },
}


def json_content(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response object whose body is the error envelope."""
    response: dict[str, Any] = {"description": description, "content": json_content({"$ref": REF_PREFIX + "Error"})}
    if headers:
        response["headers"] = headers
    return response


_Key = tuple[type[BaseModel], Literal["validation", "serialization"]]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _walk(value: Any, mode: JsonSchemaMode, found: dict[_Key, dict[str, Any] | None]) -> None:
    if _is_model(value):
        found.setdefault((value, mode), None)
    elif isinstance(value, dict):
        for key, item in value.items():
            # What a client sends is validated; what it gets back is serialized.
            _walk(item, "validation" if key in ("requestBody", "parameters") else mode, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _walk(item, mode, found)


def _swap(value: Any, mode: JsonSchemaMode, refs: Mapping[Any, Any]) -> Any:
    if _is_model(value):
        return dict(refs[(value, mode)] or {})
    if isinstance(value, dict):
        return {key: _swap(item, "validation" if key in ("requestBody", "parameters") else mode, refs) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_swap(item, mode, refs) for item in value]
    return value


def resolve_models(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every pydantic model class replaced by a ``$ref`` to its schema in
    ``components.schemas`` (pydantic names them, telling apart models that share a name)."""
    found: dict[_Key, dict[str, Any] | None] = {}
    _walk(document, "serialization", found)
    if not found:
        return document
    refs, definitions = models_json_schema(list(found), ref_template=REF_PREFIX + "{model}")
    resolved: dict[str, Any] = _swap(document, "serialization", refs)
    schemas = resolved.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    return resolved
