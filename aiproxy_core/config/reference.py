"""The configuration reference (docs/configuration.md), generated from the pydantic models.

Every key of ``GatewayConfig`` and of each plugin's ``config_model``, with its type, default and
``description``, so the page cannot drift from what the gateway accepts: ``aiproxy
config-reference`` prints it, and tests/test_config_reference.py fails when the committed page
differs from a fresh one.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .schema import GatewayConfig, Network

__all__ = ["ConfigKey", "config_keys", "config_reference"]

#: The command that writes the page, named in it.
COMMAND = "aiproxy config-reference --write docs/configuration.md"


@dataclass(frozen=True)
class ConfigKey:
    """One row of the reference: a dotted key, its type, default and description."""

    key: str
    type: str
    default: str
    description: str


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model of a section (``RedisConfig`` of ``RedisConfig | None``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [arg for arg in typing.get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


def type_text(annotation: Any) -> str:
    """How a type reads in the reference: ``string``, ``list of CIDR``, ``"plain" | "json"``."""
    if annotation == Network:
        return "CIDR"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in args)
    if origin is Literal:
        return " | ".join(json.dumps(arg) for arg in args)
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        return f"mapping of {type_text(args[0])} to {type_text(args[1])}"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null", SecretStr: "secret string"}
    if annotation in names:
        return names[annotation]
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _limits(field: FieldInfo) -> list[str]:
    """The field's constraints (``>= 0``, ``at most 64 characters``, ``pattern ...``)."""
    limits: list[str] = []
    for item in field.metadata:
        for attribute, text in (("ge", ">= {}"), ("gt", "> {}"), ("le", "<= {}"), ("lt", "< {}")):
            value = getattr(item, attribute, None)
            if value is not None:
                limits.append(text.format(value))
        if getattr(item, "min_length", None) is not None:
            limits.append(f"length >= {item.min_length}")
        if getattr(item, "max_length", None) is not None:
            limits.append(f"length <= {item.max_length}")
        if getattr(item, "pattern", None) is not None:
            limits.append(f"matching `{item.pattern}`")
    return limits


def default_text(field: FieldInfo) -> str:
    """The default as it would be written in config.yaml (JSON is YAML)."""
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return f"`{json.dumps(value, default=str)}`"


def config_keys(model: type[BaseModel], prefix: str) -> list[ConfigKey]:
    """Every key of ``model`` under ``prefix`` (``server`` -> ``server.admin_host``), nested
    models' keys flattened in place (``plugins.analytics.retention.minute``)."""
    keys: list[ConfigKey] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}"
        nested = _model_in(field.annotation)
        if nested is not None:
            keys += config_keys(nested, key)
            continue
        limits = _limits(field)
        kind = type_text(field.annotation) + (f" ({', '.join(limits)})" if limits else "")
        keys.append(ConfigKey(key, kind, default_text(field), field.description or ""))
    return keys


def _cell(text: str) -> str:
    # A pipe ends a Markdown table cell, even inside backticks.
    return text.replace("|", "\\|")


def _table(keys: list[ConfigKey]) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    lines += [f"| `{k.key}` | {_cell(k.type)} | {_cell(k.default)} | {_cell(k.description)} |" for k in keys]
    return lines


def _about(field: FieldInfo | None, model: type[BaseModel]) -> str:
    """A section's text: its field's description, then its model's own docstring, if any."""
    parts = [field.description] if field is not None and field.description else []
    doc = model.__doc__ if "__doc__" in vars(model) else None
    if doc:
        parts.append(" ".join(inspect.cleandoc(doc).replace("``", "`").split()))
    return "\n\n".join(parts)


def config_reference(plugin_models: Mapping[str, type[BaseModel]]) -> str:
    """The Markdown page: every core section, then each plugin's ``plugins.<name>`` section."""
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from the pydantic models by `{COMMAND}`; do not edit by hand:",
        "     tests/test_config_reference.py fails when this page differs from a fresh one. -->",
        "",
        "`aiproxy serve --config FILE` (or `$AIPROXY_CONFIG`, or `./config.yaml` when present) reads these keys; every key",
        "has a default, and a key that is not listed here is refused at start-up. Any key can also be set from the",
        "environment: `AIPROXY_<SECTION>__<KEY>` (`AIPROXY_SERVER__ADMIN_TOKEN`, `AIPROXY_PLUGINS__BILLING__RUN_WORKER`),",
        "its value read as YAML. The README's [Configuration](../README.md#configuration) section shows a whole file.",
    ]
    for name, field in GatewayConfig.model_fields.items():
        model = _model_in(field.annotation)
        if model is None:
            continue
        lines += ["", f"## `{name}`", ""]
        about = _about(field, model)
        lines += [about, ""] if about else []
        lines += _table(config_keys(model, name))
    lines += ["", "## `plugins`", "", GatewayConfig.model_fields["plugins"].description or ""]
    lines += ["", "The plugins below take options here; the others take none (their settings go in a rule's `plugin_chain`)."]
    for name in sorted(plugin_models):
        model = plugin_models[name]
        lines += ["", f"### `plugins.{name}`", ""]
        about = _about(None, model)
        lines += [about, ""] if about else []
        lines += _table(config_keys(model, f"plugins.{name}"))
    return "\n".join(lines) + "\n"
