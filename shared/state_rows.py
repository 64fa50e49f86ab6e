"""A versioned state model onto a row, and a row back into the model: by field name.

The contract model (``AlertStateV1``, ``RecommendationStateV1``, an API view...) is the
one shape of a state. Rows keep it in columns of the same names, so neither direction
is written out field by field: a field added to the model reaches every row that has
a column for it, and a model field no row keeps must be given explicitly.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import JSON, inspect

from shared.db import Base

M = TypeVar("M", bound=BaseModel)


def take_state(row: Base, state: BaseModel, *, keep: frozenset[str] = frozenset()) -> None:
    """Write every field of ``state`` that ``row`` has a column for (except ``keep``)."""
    columns = inspect(type(row)).columns
    python = state.model_dump()
    as_json = state.model_dump(mode="json")
    for name in type(state).model_fields:
        if name in keep or name not in columns:
            continue
        # A JSON column takes the JSON form (nested times as text); the others take
        # Python values, with ids and enums as the text the column stores.
        if isinstance(columns[name].type, JSON):
            setattr(row, name, as_json[name])
        else:
            setattr(row, name, _scalar(python[name]))


def state_from(model: type[M], row: Base, **given: Any) -> M:
    """``model`` from the row's columns of the same names, and ``given`` for the rest."""
    columns = inspect(type(row)).columns
    fields = {
        name: getattr(row, name)
        for name in model.model_fields
        if name in columns and name not in given
    }
    return model.model_validate({**fields, **given})


def _scalar(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value
