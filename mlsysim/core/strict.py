"""``StrictModel``: the pydantic base of every user-facing schema (catalog entries, plans, search
spaces). Kept free of pint and numpy so that light commands can import it."""
from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, model_validator


def _number_members(annotation) -> tuple[bool, bool, list]:
    """(takes a number, takes a bool, container annotations) among the members of ``annotation``
    (through Optional/Union/Annotated)."""
    number = boolean = False
    containers = []
    stack = [annotation]
    while stack:
        a = stack.pop()
        origin = typing.get_origin(a)
        if origin is Annotated:
            stack.append(typing.get_args(a)[0])
        elif origin in (Union, types.UnionType):
            stack.extend(typing.get_args(a))
        elif a is bool:
            boolean = True
        elif a is Any:
            boolean = True
        elif a in (int, float):
            number = True
        elif origin in (list, dict, tuple, set):
            containers.append(a)
    return number, boolean, containers


class BooleanNotNumber:
    """Stands in for a boolean given where a number is expected, so that the field itself fails
    validation (with its own location) and the message shows what was given."""

    def __init__(self, value: bool):
        self.value = value

    def __repr__(self) -> str:
        return f"{self.value!r} (a boolean, not a number)"


def _replace_misplaced_bools(value, annotation):
    """``value`` with every bool that sits where ``annotation`` expects a number replaced by a
    ``BooleanNotNumber`` (pydantic's lax mode would silently read ``true`` as 1)."""
    number, boolean, containers = _number_members(annotation)
    if isinstance(value, bool):
        return BooleanNotNumber(value) if number and not boolean else value
    for c in containers:
        args = typing.get_args(c)
        if isinstance(value, dict) and typing.get_origin(c) is dict and len(args) == 2:
            return {k: _replace_misplaced_bools(v, args[1]) for k, v in value.items()}
        if isinstance(value, list) and typing.get_origin(c) in (list, tuple, set) and args:
            return [_replace_misplaced_bools(v, args[0]) for v in value]
    return value


class StrictModel(BaseModel):
    """Base of every user-facing schema (catalog entries, plans, search spaces): a number field
    rejects booleans (``layers: true`` is not 1) and NaN/infinity, which pydantic's lax mode
    would otherwise accept silently."""

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_as_number(cls, data):
        if isinstance(data, dict):
            out = None
            for name, field in cls.model_fields.items():
                for key in (name, field.alias):
                    if key is not None and key in data:
                        fixed = _replace_misplaced_bools(data[key], field.annotation)
                        if fixed is not data[key]:
                            out = dict(data) if out is None else out
                            out[key] = fixed
            return data if out is None else out
        return data
