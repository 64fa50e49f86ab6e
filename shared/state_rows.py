"""A state onto a row, and a row back into the state: by field name.

A state has one shape: the versioned contract model (``AlertStateV1``,
``RecommendationStateV1``, an API view) or a domain rule's dataclass
(``RecommendationState``). Rows keep it in columns of the same names, so neither
direction is written out field by field: a field added to the state reaches every
row with a column for it, and a state field no row keeps must be given explicitly.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import JSON, inspect

from shared.db import Base

S = TypeVar("S")


def take_state(row: Base, state: object, *, keep: frozenset[str] = frozenset()) -> None:
    """Write every field of ``state`` that ``row`` has a column for (except ``keep``)."""
    columns = inspect(type(row)).columns
    adapter = _adapter(type(state))
    python = adapter.dump_python(state)
    as_json = adapter.dump_python(state, mode="json")
    for name in _field_names(type(state)):
        if name in keep or name not in columns:
            continue
        # A JSON column takes the JSON form (nested times as text); the others take
        # Python values, with ids and enums as the text the column stores.
        if isinstance(columns[name].type, JSON):
            setattr(row, name, as_json[name])
        else:
            setattr(row, name, _scalar(python[name]))


def state_from(kind: type[S], row: Base, **given: Any) -> S:
    """A ``kind`` from the row's columns of the same names, and ``given`` for the rest."""
    columns = inspect(type(row)).columns
    fields = {
        name: getattr(row, name)
        for name in _field_names(kind)
        if name in columns and name not in given
    }
    state: S = _adapter(kind).validate_python({**fields, **given})
    return state


# Built once per type: an adapter is costly to build, and states are stored often.
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}
_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def _field_names(kind: type[Any]) -> tuple[str, ...]:
    if kind not in _FIELDS:
        _FIELDS[kind] = (
            tuple(kind.model_fields)
            if issubclass(kind, BaseModel)
            else tuple(field.name for field in dataclasses.fields(kind))
        )
    return _FIELDS[kind]


def _scalar(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value
