"""A minimal columnar table (name -> numpy array of equal length) for trials and fronts.

No pandas needed: concatenation, row selection and CSV writing are all a search requires.
"""
from __future__ import annotations

import csv
import math
from typing import Iterable, Mapping, Sequence

import numpy as np


class Table:
    """Ordered columns of equal length."""

    def __init__(self, columns: Mapping[str, np.ndarray] | None = None):
        self.columns: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in (columns or {}).items()}
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: { {k: len(v) for k, v in self.columns.items()} }")

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def take(self, index) -> "Table":
        return Table({k: v[index] for k, v in self.columns.items()})

    @staticmethod
    def concat(tables: Sequence["Table"]) -> "Table":
        tables = [t for t in tables if t.columns]
        if not tables:
            return Table()
        names = tables[0].names
        return Table({k: np.concatenate([t.columns[k] for t in tables]) for k in names})

    def row(self, i: int) -> dict:
        return {k: python_value(v[i]) for k, v in self.columns.items()}

    def rows(self, names: Iterable[str] | None = None) -> list[list]:
        names = list(names or self.names)
        cols = [self.columns[k].tolist() for k in names]
        return [list(r) for r in zip(*cols)]

    def to_csv(self, path, names: Sequence[str] | None = None, header: Sequence[str] | None = None) -> None:
        names = list(names or self.names)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(list(header or names))
            for r in self.rows(names):
                w.writerow([_csv(v) for v in r])


def python_value(v):
    """numpy scalar -> Python scalar; integral floats stay floats (see ``json_number``)."""
    return v.item() if hasattr(v, "item") else v


def json_number(v, integral_as_int: bool = False):
    """A JSON-safe number: NaN -> None, +-inf -> "inf"/"-inf"; optionally 4.0 -> 4."""
    v = python_value(v)
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if integral_as_int and v.is_integer() and abs(v) < 2 ** 53:
            return int(v)
    return v


def _csv(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return v
