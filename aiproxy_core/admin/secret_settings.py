"""Plugin settings a plugin declares secret (pydantic ``SecretStr``) are write-only in the Admin API.

The store keeps a chain entry's ``settings`` as the JSON the tenant sent, and the plugin receives
its validated model (``settings.secret.get_secret_value()`` is the real value). Only answers mask:
wherever the plugin's ``settings_model`` types a field ``SecretStr`` (or ``SecretStr | None``,
inside nested models, lists and dict values too), an answer shows it as :func:`.secret_values.masked`
does, and a masked value sent back on ``PUT``/``PATCH`` keeps the stored secret it masks.

Where the secrets are is worked out once per settings model from its type annotations
(:func:`secret_shape`), so masking an answer walks only the stored JSON, never the model.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Union

from pydantic import BaseModel, SecretStr

from ..models import ChainEntry
from ..plugins import PluginRegistry
from .secret_values import kept_secret, masked

__all__ = ["Each", "SECRET", "entries_with_kept_secrets", "masked_entry", "secret_shape"]


class _Secret:
    def __repr__(self) -> str:
        return "SECRET"


#: The shape of a secret value itself.
SECRET = _Secret()


@dataclass(frozen=True)
class Each:
    """Every item of a list, or every value of a mapping, has this shape."""

    shape: "Shape"


#: Where secrets are in a JSON value: SECRET, an Each, or a mapping of keys to shapes.
Shape = Union[_Secret, Each, "dict[str, Shape]"]

_SEQUENCES = {list, tuple, set, frozenset, typing.Sequence, typing.MutableSequence, typing.AbstractSet}
_MAPPINGS = {dict, typing.Mapping, typing.MutableMapping}
_shapes: dict[type[BaseModel], "dict[str, Shape] | None"] = {}


def secret_shape(model: type[BaseModel]) -> "dict[str, Shape] | None":
    """The secret fields of ``model`` by input key (name and alias), or None when it has none."""
    if model not in _shapes:
        _shapes[model] = _model_shape(model, frozenset())
    return _shapes[model]


def _model_shape(model: type[BaseModel], seen: frozenset[type]) -> "dict[str, Shape] | None":
    if model in seen:  # a self-referencing model: its secrets were found one level up
        return None
    shape: dict[str, Shape] = {}
    for name, field in model.model_fields.items():
        inner = _annotation_shape(field.annotation, seen | {model})
        if inner is not None:
            # Input may use the field's name or its alias (``populate_by_name``): mask both.
            for key in {name, field.alias or name}:
                shape[key] = inner
    return shape or None


def _annotation_shape(annotation: Any, seen: frozenset[type]) -> "Shape | None":
    if isinstance(annotation, type):
        if issubclass(annotation, SecretStr):
            return SECRET
        if issubclass(annotation, BaseModel):
            return _model_shape(annotation, seen)
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotation_shape(args[0], seen)
    if origin is Union or origin is types.UnionType:
        found = [s for s in (_annotation_shape(a, seen) for a in args) if s is not None]
        return _merged(found)
    if origin in _SEQUENCES and args:
        inner = _annotation_shape(args[0], seen)
        return Each(inner) if inner is not None else None
    if origin in _MAPPINGS and len(args) == 2:
        inner = _annotation_shape(args[1], seen)
        return Each(inner) if inner is not None else None
    return None


def _merged(shapes: "list[Shape]") -> "Shape | None":
    """One shape for a union: a secret anywhere in it wins; models' fields are combined."""
    if not shapes:
        return None
    if any(s is SECRET for s in shapes):
        return SECRET
    mappings = [s for s in shapes if isinstance(s, dict)]
    if mappings:
        combined: dict[str, Shape] = {}
        for mapping in mappings:
            combined.update(mapping)
        return combined
    return shapes[0]


# -- answers --------------------------------------------------------------------------------------


def _masked(value: Any, shape: "Shape") -> Any:
    if shape is SECRET:
        return masked(value) if isinstance(value, str) else value
    if isinstance(shape, Each):
        if isinstance(value, list):
            return [_masked(item, shape.shape) for item in value]
        if isinstance(value, dict):
            return {key: _masked(item, shape.shape) for key, item in value.items()}
        return value
    if isinstance(value, dict) and isinstance(shape, dict):
        return {key: _masked(item, shape[key]) if key in shape else item for key, item in value.items()}
    return value


def masked_entry(entry: Mapping[str, Any], registry: PluginRegistry) -> dict[str, Any]:
    """A chain entry as JSON (``ChainEntry.model_dump(mode="json")``) with its plugin's secrets masked."""
    shape = _shape_of(entry.get("name"), registry)
    if shape is None:
        return dict(entry)
    return {**entry, "settings": _masked(entry.get("settings") or {}, shape)}


def _shape_of(plugin: Any, registry: PluginRegistry) -> "dict[str, Shape] | None":
    if not isinstance(plugin, str) or not registry.has(plugin):
        return None
    model = registry.settings_model(plugin)
    return secret_shape(model) if model is not None else None


# -- PUT / PATCH ----------------------------------------------------------------------------------


def _kept(sent: Any, stored: Any, shape: "Shape", field: str) -> Any:
    if shape is SECRET:
        return kept_secret(sent, stored, field) if isinstance(sent, str) else sent
    if isinstance(shape, Each):
        if isinstance(sent, list):
            before = stored if isinstance(stored, list) else []
            return [
                _kept(item, before[i] if i < len(before) else None, shape.shape, f"{field}.{i}") for i, item in enumerate(sent)
            ]
        if isinstance(sent, dict):
            stored_fields: dict[str, Any] = stored if isinstance(stored, dict) else {}
            return {key: _kept(item, stored_fields.get(key), shape.shape, f"{field}.{key}") for key, item in sent.items()}
        return sent
    if isinstance(sent, dict) and isinstance(shape, dict):
        stored_fields = stored if isinstance(stored, dict) else {}
        return {
            key: _kept(item, stored_fields.get(key), shape[key], f"{field}.{key}") if key in shape else item
            for key, item in sent.items()
        }
    return sent


def entries_with_kept_secrets(
    sent: Iterable[tuple[str, Any, ChainEntry]], stored: Iterable[tuple[Any, ChainEntry]], registry: PluginRegistry
) -> None:
    """Put the stored secret back where a sent entry carries its mask (changes the entries in place).

    ``sent`` is ``(field, place, entry)`` (field e.g. ``plugin_chain.0``; place the list index or
    mapping key), ``stored`` is ``(place, entry)`` of the object being replaced. A sent entry's
    secrets are compared with the stored entry at the same place when it names the same plugin,
    else with the first stored entry of that plugin (a chain reordered by the client). Raises 422
    ``masked_secret`` naming the field for a mask that matches nothing stored.
    """
    before = list(stored)
    by_place = {place: entry for place, entry in before}
    for field, place, entry in sent:
        shape = _shape_of(entry.name, registry)
        if shape is None:
            continue
        previous = by_place.get(place)
        if previous is None or previous.name != entry.name:
            previous = next((e for _, e in before if e.name == entry.name), None)
        entry.settings = _kept(entry.settings, previous.settings if previous else None, shape, f"{field}.settings")
