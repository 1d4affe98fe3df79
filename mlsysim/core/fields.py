"""Pydantic field types for pint quantities and the common base of every catalog entry."""
from __future__ import annotations

import math
import re
from typing import Annotated, Any

import pint
from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_validator

from .strict import StrictModel
from .units import parse_quantity

_QUANTITY_SCHEMA = {
    "anyOf": [
        {"type": "string", "description": "a number with a unit, e.g. '80 GB'"},
        {"type": "object", "properties": {"value": {"type": "number"}, "unit": {"type": "string"}},
         "required": ["value", "unit"]},
    ]
}


def Quantity(expected_unit: str, *, positive: bool = True, allow_zero: bool = False):
    """An annotated pydantic type: a pint Quantity with the dimension of ``expected_unit``.

    Accepts ``"80 GB"``, ``{"value": 80, "unit": "GB"}`` or a Quantity. With ``positive`` the
    magnitude must be > 0 (or >= 0 with ``allow_zero``); NaN and infinity are always rejected.
    """

    def _validate(value: Any) -> pint.Quantity:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0:
            raise ValueError(f"{value!r} has no unit; write the unit explicitly, e.g. '{value} {expected_unit}' "
                             f"(a number alone is ambiguous: 80 for a memory size is not 80 GB)")
        q = parse_quantity(value, expected=expected_unit, what="value")
        m = q.magnitude
        try:  # a huge integer ("2**2000 GB") would overflow only later, in the physics
            finite = isinstance(m, (int, float)) and math.isfinite(float(m))
        except OverflowError:
            finite = False
        if not finite:
            raise ValueError(f"{value!r} is not a finite number with a unit")
        if isinstance(m, int):
            q = type(q)(float(m), q.units)
        if positive and (m < 0 or (m == 0 and not allow_zero)):
            raise ValueError(f"{value!r} must be {'>= 0' if allow_zero else '> 0'}")
        return q

    return Annotated[
        pint.Quantity,
        BeforeValidator(_validate),
        PlainSerializer(lambda q: f"{q.magnitude:g} {q.units:~}", return_type=str),
        WithJsonSchema({**_QUANTITY_SCHEMA, "description": f"quantity in units compatible with {expected_unit}"}),
    ]


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalize_name(name: str) -> str:
    """Lookup form of a name: lower case, without spaces, dashes, dots or underscores."""
    return re.sub(r"[\s\-_./()]+", "", str(name).lower())


class CatalogEntry(StrictModel):
    """Fields shared by every catalog entry.

    ``key`` is the Python attribute name (``Hardware.Cloud.H100``), ``name`` the human name;
    ``source`` cites the datasheet or paper behind the entry's numbers, and ``sources`` may cite a
    different one per field (``{"memory.bandwidth": "..."}``).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_default=True)

    key: str = Field(description="Python identifier used for attribute access, e.g. 'H100'")
    name: str = Field(description="human-readable name")
    aliases: list[str] = Field(default_factory=list, description="other names the lookup accepts")
    description: str = ""
    source: str = Field(min_length=8, description="datasheet or paper (with URL or citation) behind the numbers")
    sources: dict[str, str] = Field(default_factory=dict, description="per-field sources overriding `source`")

    @field_validator("key")
    @classmethod
    def _key_is_identifier(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"key {v!r} must be a Python identifier (letters, digits, underscores)")
        return v

    @classmethod
    def build(cls, *, where: str | None = None, **data):
        """``cls(**data)`` for values a user supplied (a node count, a price ...): a validation
        error becomes a ``SchemaError`` naming ``where`` and the field, instead of pydantic's."""
        from pydantic import ValidationError

        try:
            return cls(**data)
        except ValidationError as exc:
            from .yamlio import format_validation_error
            from .errors import SchemaError

            raise SchemaError(format_validation_error(exc, where=where or f"{cls.__name__} {data.get('key', '')!r}"),
                              hint=f"see `mlsysim schema catalog` for the fields of a {cls.__name__}") from None

    def model_copy(self, *, update=None, deep: bool = False):
        """A copy with ``update`` applied and every cached derived value (``si``, peaks) dropped,
        so a modified copy never reports the original's specs."""
        new = super().model_copy(update=update, deep=deep)
        fields = type(new).model_fields
        for k in [k for k in new.__dict__ if k not in fields]:
            del new.__dict__[k]
        if new.__pydantic_private__:
            new.__pydantic_private__ = {k: type(v)() if isinstance(v, (dict, list)) else v
                                        for k, v in new.__pydantic_private__.items()}
        return new

    def lookup_names(self) -> list[str]:
        return [self.key, self.name, *self.aliases]

    def source_of(self, field: str) -> str:
        return self.sources.get(field, self.source)

    def __str__(self) -> str:
        return self.name

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.key))
