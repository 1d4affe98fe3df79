"""Dimension types of a search space: ``int``, ``pow2``, ``choice``, ``categorical``, ``float``.

Each is a pydantic model (the YAML schema) that knows its values in enumeration order; every type
also takes ``description``, and ``when`` + ``default`` for a conditional dimension.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from ..core.strict import StrictModel

Scalar = Union[int, float, str]
#: Values one discrete dimension may have: they are materialized as an array (80 MB at this size).
MAX_VALUES = 10_000_000
#: Largest magnitude of an integer value: exact in the float64 arithmetic of rules and derived values.
MAX_INT = 2 ** 53


class _Dim(StrictModel):
    """Fields every dimension type shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    when: str | None = Field(None, description="condition under which the dimension is searched")
    default: Scalar | None = Field(None, description="its value where `when` is false")
    description: str = ""

    def values(self) -> np.ndarray | None:
        """Every value, in enumeration order (None for a continuous float)."""
        raise NotImplementedError

    @property
    def cardinality(self) -> int | None:
        v = self.values()
        return None if v is None else len(v)

    def contains(self, value) -> bool:
        v = self.values()
        if v is None:
            return isinstance(value, (int, float)) and self.low <= value <= self.high  # type: ignore[attr-defined]
        return any(_same(value, x) for x in v.tolist())

    @model_validator(mode="after")
    def _check_default(self):
        if self.when is not None and self.default is None:
            raise ValueError("a conditional dimension ('when') needs a 'default' value")
        if self.default is not None and not self.contains(self.default):
            raise ValueError(f"default {self.default!r} is not one of the dimension's values")
        return self


class IntDim(_Dim):
    """Integers ``low, low+step, ..., <= high``."""

    type: Literal["int"] = "int"
    low: int
    high: int
    step: int = Field(1, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _range(cls, data):
        _check_range(data)
        if isinstance(data, dict) and _is_int(data.get("low")) and _is_int(data.get("high")):
            step = data.get("step", 1)
            if _is_int(step) and step > 0 and (data["high"] - data["low"]) // step + 1 > MAX_VALUES:
                raise ValueError(f"{(data['high'] - data['low']) // step + 1:,} values (low {data['low']}, high "
                                 f"{data['high']}, step {step}): at most {MAX_VALUES:,} per dimension; raise 'step', "
                                 "or use a float dimension")
        return data

    def values(self):
        return np.arange(self.low, self.high + 1, self.step, dtype=np.int64)


class Pow2Dim(_Dim):
    """Powers of two from ``low`` to ``high`` (both powers of two)."""

    type: Literal["pow2"] = "pow2"
    low: int = Field(ge=1)
    high: int = Field(ge=1)

    @model_validator(mode="before")
    @classmethod
    def _range(cls, data):
        _check_range(data)
        if isinstance(data, dict):
            for k in ("low", "high"):
                v = data.get(k)
                if isinstance(v, int) and v >= 1 and v & (v - 1):
                    raise ValueError(f"{k} = {v} is not a power of two")
        return data

    def values(self):
        return 2 ** np.arange(int(math.log2(self.low)), int(math.log2(self.high)) + 1, dtype=np.int64)


class ChoiceDim(_Dim):
    """An explicit list of numbers (searched in ascending order)."""

    type: Literal["choice"] = "choice"
    values_: list[Union[int, float]] = Field(alias="values", min_length=1)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("values_")
    @classmethod
    def _unique(cls, v):
        if any(isinstance(x, bool) for x in v):
            raise ValueError("values must be numbers, not booleans")
        if any(isinstance(x, int) and abs(x) > MAX_INT for x in v):
            raise ValueError(f"integer values must be at most {MAX_INT:,} in magnitude")
        if len(set(v)) != len(v):
            raise ValueError(f"values contain duplicates: {v}")
        return sorted(v)

    def values(self):
        ints = all(isinstance(x, int) for x in self.values_)
        return np.array(self.values_, dtype=np.int64 if ints else float)


class CategoricalDim(_Dim):
    """An unordered list of strings (hardware, region, precision ...)."""

    type: Literal["categorical"] = "categorical"
    values_: list[str] = Field(alias="values", min_length=1)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("values_")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError(f"values contain duplicates: {v}")
        return v

    def values(self):
        return np.array(self.values_, dtype=object)


class FloatDim(_Dim):
    """Reals in ``[low, high]``, optionally log-scaled. ``grid: N`` makes the dimension discrete for
    every backend: N evenly spaced points (geometrically spaced when ``log``)."""

    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    grid: int | None = Field(None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _range(cls, data):
        _check_range(data)
        if isinstance(data, dict) and data.get("log") and isinstance(data.get("low"), (int, float)) and data["low"] <= 0:
            raise ValueError(f"a log-scaled dimension needs low > 0, got {data['low']}")
        if isinstance(data, dict) and _is_int(data.get("grid")) and data["grid"] > MAX_VALUES:
            raise ValueError(f"grid: {data['grid']:,} points, at most {MAX_VALUES:,} per dimension")
        return data

    def values(self):
        if self.grid is None:
            return None
        if self.grid == 1:
            return np.array([self.low])
        return (np.geomspace if self.log else np.linspace)(self.low, self.high, self.grid)

    def contains(self, value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high


Dimension = Annotated[Union[IntDim, Pow2Dim, ChoiceDim, CategoricalDim, FloatDim], Field(discriminator="type")]
DIM_TYPES = {"int": IntDim, "pow2": Pow2Dim, "choice": ChoiceDim, "categorical": CategoricalDim, "float": FloatDim}


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_range(data):
    if isinstance(data, dict):
        lo, hi = data.get("low"), data.get("high")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
            raise ValueError(f"inverted range: low ({lo}) > high ({hi})")
        for k, v in (("low", lo), ("high", hi)):
            if _is_int(v) and abs(v) > MAX_INT:
                raise ValueError(f"{k} = {v} is too large: integers must be at most {MAX_INT:,} in magnitude")


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return float(a) == float(b)
