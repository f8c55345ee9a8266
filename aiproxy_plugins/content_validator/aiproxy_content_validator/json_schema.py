"""JSON Schemas in settings: refused when saved if invalid, compiled once, and errors made readable.

Schemas are read as Draft 2020-12. They come from tenants, so they may only reference their own
parts (``#/$defs/...``): the validator gets an empty registry and never fetches a remote
``$ref``, which would otherwise let a tenant make the gateway send requests anywhere.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

__all__ = ["SchemaViolations", "check_json_schema", "compile_schema", "short", "violations"]

#: At most this many violations are listed in an error's details.
MAX_LISTED = 10
_REFERENCE_KEYWORDS = ("$ref", "$dynamicRef")


def check_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Refuse a schema that is not valid 2020-12 or references anything outside itself."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema (Draft 2020-12): {exc.message} (at {exc.json_path})") from None
    resolver = Registry().with_resource("", DRAFT202012.create_resource(schema)).resolver()
    for reference in _references(schema):
        if not reference.startswith("#"):
            raise ValueError(f"$ref {reference!r}: only references inside the schema (starting with '#') are allowed")
        try:
            resolver.lookup(reference)
        except Unresolvable:
            raise ValueError(f"$ref {reference!r} points to nothing in this schema") from None
    return schema


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REFERENCE_KEYWORDS and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def compile_schema(schema: dict[str, Any]) -> Draft202012Validator:
    # format_checker: "format": "email" etc. are asserted, which is what a gateway policy means.
    return Draft202012Validator(schema, registry=Registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


class SchemaViolations:
    """The first violations of one instance, with the most relevant one picked out."""

    def __init__(self, errors: list[ValidationError]) -> None:
        self.errors = errors
        self.best = best_match(errors)

    def listed(self, *, with_messages: bool) -> list[dict[str, Any]]:
        """Path and keyword of each; ``with_messages`` adds jsonschema's message, which quotes the value."""
        listed = []
        for error in self.errors:
            entry: dict[str, Any] = {"path": error.json_path, "keyword": str(error.validator)}
            if with_messages:
                entry["message"] = short(error.message)
            listed.append(entry)
        return listed


def violations(validator: Draft202012Validator, instance: Any) -> SchemaViolations | None:
    errors = list(islice(validator.iter_errors(instance), MAX_LISTED))
    return SchemaViolations(errors) if errors else None


def short(text: str, limit: int = 200) -> str:
    # jsonschema quotes the offending value; a huge one must not make a huge error body.
    return text if len(text) <= limit else text[: limit - 1] + "…"
