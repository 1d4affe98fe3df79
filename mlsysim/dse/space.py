"""Search spaces: named dimensions, derived dimensions, validity rules and pinned values.

One declaration drives every backend. A space is a Cartesian product of dimensions (``int``,
``pow2``, ``choice``, ``categorical``, ``float``) filtered by vectorized validity rules. A
conditional dimension (``when: "pp > 1"`` with a ``default``) stays a factor of the product; where
its condition is false the point is valid only at the default, so enumeration remains a plain
mixed-radix decoding of index ranges (optimizers instead set it to the default, which is the
same point). Derived dimensions (``dp: "N / (tp * pp)"``) are computed, never searched.

YAML (``SearchSpace.from_yaml``) and Python (``SearchSpace(...)`` / ``from_dict``) share one schema::

    dimensions:
      tp: {type: pow2, low: 1, high: 8}
      pp: {type: int, low: 1, high: 16}
      vpp: {type: choice, values: [1, 2, 4], when: "pp > 1", default: 1}
      precision: [fp16, fp8]          # a list is a choice (numbers) or categorical (strings)
    derived: {dp: "N / (tp * pp)"}
    rules: ["N % (tp * pp) == 0", "tp <= gpus_per_node"]
    fixed: {ep: 1}
    constants: {N: 512, gpus_per_node: 8}
"""
from __future__ import annotations

import dataclasses
import keyword
import math
import pathlib
from typing import Any, Iterator, Mapping

import numpy as np
from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from ..core.errors import InfeasibleError, SchemaError, UnknownNameError
from ..core.strict import StrictModel
from .dimension import DIM_TYPES, CategoricalDim, Dimension, FloatDim, IntDim, Scalar
from .expression import FUNCTIONS, Expression
from .space_input import SECTIONS as _SECTIONS, normalize as _normalize

RESERVED = frozenset({"feasible", "reason", "violation"}) | frozenset(FUNCTIONS)
DEFAULT_CHUNK = 2 ** 18


@dataclasses.dataclass
class Chunk:
    """Valid configurations of one enumerated index range."""

    index: np.ndarray                 # raw (mixed-radix) index of each valid row
    configs: dict[str, np.ndarray]    # dimensions, fixed and derived values of the valid rows
    n_raw: int                        # points in the index range, valid or not
    rule_fail: np.ndarray             # per rule label: raw points that violate it


@dataclasses.dataclass
class RuleCheck:
    valid: np.ndarray       # bool (n,)
    violation: np.ndarray   # graded amount, 0 where valid
    code: np.ndarray        # 0 valid, else 1 + index of the first violated rule label


class SearchSpace(StrictModel):
    """A design space; see the module docstring for the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = ""
    description: str = ""
    dimensions: dict[str, Dimension] = Field(default_factory=dict)
    derived: dict[str, str] = Field(default_factory=dict)
    rules: list[str] = Field(default_factory=list)
    fixed: dict[str, Scalar] = Field(default_factory=dict)
    constants: dict[str, float] = Field(default_factory=dict)

    _derived: list = PrivateAttr(default_factory=list)
    _rules: list = PrivateAttr(default_factory=list)
    _when: dict = PrivateAttr(default_factory=dict)
    _checked: bool = PrivateAttr(default=False)
    _codec: Any = PrivateAttr(default=None)

    # -- construction ----------------------------------------------------------------------
    @model_validator(mode="after")
    def _validate(self):
        groups = {"dimension": list(self.dimensions), "derived": list(self.derived),
                  "constant": list(self.constants), "fixed": [k for k in self.fixed if k not in self.dimensions]}
        seen: dict[str, str] = {}
        for kind, names in groups.items():
            for name in names:
                if not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED:
                    raise ValueError(f"{kind} name {name!r} is not allowed (use an identifier, not "
                                     f"{', '.join(sorted(RESERVED))})")
                if name in seen:
                    raise ValueError(f"name {name!r} is both a {seen[name]} and a {kind}")
                seen[name] = kind
        if not self.dimensions and not self.fixed:
            raise ValueError("a search space needs at least one dimension")
        for name, value in self.fixed.items():
            dim = self.dimensions.get(name)
            if dim is not None and not dim.contains(value):
                raise ValueError(f"fixed {name} = {value!r} is outside the dimension's values")
        return self

    def model_post_init(self, _context) -> None:
        self._derived = [(k, Expression(v, where=f"derived.{k}")) for k, v in self.derived.items()]
        self._rules = [Expression(r, where=f"rules[{i}]") for i, r in enumerate(self.rules)]
        self._when = {k: Expression(d.when, where=f"dimensions.{k}.when")
                      for k, d in self.dimensions.items() if d.when is not None and k not in self.fixed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "search space",
                  lines: Mapping[tuple, tuple] | None = None) -> "SearchSpace":
        """Build from the schema mapping, or from the shorthand ``{name: [values], ...}``; ``lines``
        (the YAML reader's key positions) puts the line and column in error messages."""
        if isinstance(data, SearchSpace):
            return data
        if not isinstance(data, Mapping):
            raise SchemaError(f"{where}: a search space must be a mapping, got {type(data).__name__}")
        raw = dict(data)
        if lines and not (set(raw) & _SECTIONS):  # the shorthand: its keys are the dimensions
            lines = {("dimensions", *k): v for k, v in lines.items()}
        try:
            return cls.model_validate(_normalize(raw, where))
        except ValidationError as exc:
            raise SchemaError(_errors(exc, where, lines),
                              hint="dimension types: " + ", ".join(DIM_TYPES) + "; see docs/dse.md") from None

    @classmethod
    def from_yaml(cls, path: str | pathlib.Path) -> "SearchSpace":
        """Load a YAML file, or a shipped space by name (``"parallelism"``); errors name the file, the
        line and the field."""
        from ..core.resources import resolve_file
        from ..core.yamlio import read_yaml

        path = resolve_file(path, "search space")
        data, lines = read_yaml(path, "search space")
        if isinstance(data, dict) and set(data) == {"space"}:
            data, lines = data["space"], {k[1:]: v for k, v in lines.items() if k[:1] == ("space",)}
        return cls.from_dict(data if data is not None else {}, where=str(path), lines=lines)

    @classmethod
    def coerce(cls, obj) -> "SearchSpace":
        """A SearchSpace, a mapping, or a path to a YAML file."""
        if isinstance(obj, SearchSpace):
            return obj
        if isinstance(obj, (str, pathlib.Path)):
            return cls.from_yaml(obj)
        return cls.from_dict(obj)

    def _replace(self, **changes) -> "SearchSpace":
        data = self.model_dump(by_alias=True, exclude_none=True)
        data.update(changes)
        return SearchSpace.model_validate(data)

    def with_fixed(self, values: Mapping[str, Scalar] | None = None, **kw: Scalar) -> "SearchSpace":
        """A copy with the given dimensions pinned to one value each."""
        new = dict(values or {}, **kw)
        for name in new:
            if name not in self.dimensions and name not in self.fixed:
                raise UnknownNameError("dimension", name, list(self.dimensions) + list(self.fixed), where="with_fixed")
        try:
            return self._replace(fixed={**self.fixed, **new})
        except ValidationError as exc:
            raise SchemaError(_errors(exc, "with_fixed")) from None

    def restrict(self, name: str, values) -> "SearchSpace":
        """A copy in which dimension ``name`` takes only ``values`` (a subset of its domain)."""
        dim = self.dimensions.get(name)
        if dim is None:
            raise UnknownNameError("dimension", name, self.dimensions, where="restrict")
        values = list(values)
        bad = [v for v in values if not dim.contains(v)]
        if not values or bad:
            raise SchemaError(f"restrict({name!r}): {bad or 'an empty list'} outside the dimension's values")
        kind = "categorical" if isinstance(dim, CategoricalDim) else "choice"
        spec = {"type": kind, "values": values, "when": dim.when, "default": dim.default, "description": dim.description}
        dims = {k: (spec if k == name else d.model_dump(by_alias=True, exclude_none=True)) for k, d in self.dimensions.items()}
        try:
            return self._replace(dimensions=dims)
        except ValidationError as exc:
            raise SchemaError(_errors(exc, f"restrict({name!r})")) from None

    def with_constants(self, constants: Mapping[str, float] | None) -> "SearchSpace":
        """A copy that also knows ``constants`` (a problem's); the space's own values win."""
        extra = {k: float(v) for k, v in (constants or {}).items()
                 if k not in self.constants and k not in self.dimensions and k not in self.derived and k not in self.fixed}
        return self if not extra else self._replace(constants={**extra, **self.constants})

    # -- names and checks ------------------------------------------------------------------
    @property
    def free(self) -> list[str]:
        """Dimensions that are searched (not pinned by ``fixed``)."""
        return [k for k in self.dimensions if k not in self.fixed]

    @property
    def variables(self) -> list[str]:
        """Dimensions and fixed values, in enumeration order (the last varies fastest)."""
        return list(self.dimensions) + [k for k in self.fixed if k not in self.dimensions]

    @property
    def names(self) -> list[str]:
        """Every column of a configuration: variables then derived dimensions."""
        return self.variables + list(self.derived)

    @property
    def rule_labels(self) -> list[str]:
        return list(self.rules) + [f"{k} = {self.dimensions[k].default!r} unless {e.text}" for k, e in self._when.items()]

    def check(self) -> "SearchSpace":
        """Raise UnknownNameError for a name used in an expression but not defined."""
        if self._checked:
            return self
        base = set(self.constants) | set(self.fixed)
        order = list(self.dimensions)
        for k, expr in self._when.items():
            expr.check_names(base | set(order[: order.index(k)]), kind="earlier dimension or constant")
        known = base | set(self.variables)
        for k, expr in self._derived:
            expr.check_names(known, kind="dimension or constant")
            known.add(k)
        for expr in self._rules:
            expr.check_names(known, kind="dimension or constant")
        self._checked = True
        return self

    # -- sizes -----------------------------------------------------------------------------
    def _domain(self, name: str) -> np.ndarray | None:
        if name in self.fixed:
            v = self.fixed[name]
            return np.array([v], dtype=object if isinstance(v, str) else None)
        return self.dimensions[name].values()

    @property
    def is_finite(self) -> bool:
        return all(self._domain(k) is not None for k in self.variables)

    @property
    def size(self) -> int | None:
        """Raw Cartesian size (before rules); None when a float dimension has no ``grid``."""
        if not self.is_finite:
            return None
        return math.prod(len(self._domain(k)) for k in self.variables)

    # -- vectorized building blocks --------------------------------------------------------
    def _env(self, configs: Mapping[str, np.ndarray]) -> dict:
        return {**self.constants, **configs}

    def decode_index(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """Mixed-radix decoding of raw indices into variable values (last variable fastest)."""
        rem = np.asarray(index, dtype=np.int64).copy()
        out: dict[str, np.ndarray] = {}
        for name in reversed(self.variables):
            vals = self._domain(name)
            out[name] = vals[rem % len(vals)]
            rem //= len(vals)
        return {k: out[k] for k in self.variables}

    def complete(self, configs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Add pinned values and derived dimensions to configurations of the free dimensions."""
        self.check()
        n = len(next(iter(configs.values()))) if configs else 1
        out = {k: np.asarray(v) for k, v in configs.items()}
        for k, v in self.fixed.items():
            out[k] = np.full(n, v, dtype=object if isinstance(v, str) else None)
        out = {k: out[k] for k in self.variables}
        env = self._env(out)
        for k, expr in self._derived:
            try:
                val = np.broadcast_to(np.asarray(expr(env), dtype=float), (n,)).copy()
            except (TypeError, ValueError):
                raise SchemaError(f"derived.{k}: {expr.text!r} does not give a number for every configuration",
                                  hint="a derived dimension is numeric; categorical values can only be "
                                       "compared (precision == \"fp8\")") from None
            out[k] = env[k] = val
        return out

    def check_rules(self, configs: Mapping[str, np.ndarray]) -> RuleCheck:
        """Validity of complete configurations: every rule holds and conditionals sit at default."""
        n = len(next(iter(configs.values())))
        env = self._env(configs)
        valid = np.ones(n, dtype=bool)
        violation = np.zeros(n)
        code = np.zeros(n, dtype=np.int32)
        for i, ok, amount in self._rule_results(env, n, graded=True):
            code[(code == 0) & ~ok] = i + 1
            valid &= ok
            violation += amount
        return RuleCheck(valid, violation, code)

    def _rule_results(self, env, n: int, graded: bool = False):
        for i, expr in enumerate(self._rules):
            ok = expr.mask(env, n)
            yield i, ok, (expr.violation(env, n) if graded else None)
        for j, (k, expr) in enumerate(self._when.items()):
            ok = expr.mask(env, n) | (env[k] == self.dimensions[k].default)
            yield len(self._rules) + j, ok, (np.where(ok, 0.0, 1.0) if graded else None)

    def canonicalize(self, configs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Set each conditional dimension to its default where its condition is false."""
        if not self._when:
            return configs
        out = dict(configs)
        n = len(next(iter(out.values())))
        for k, expr in self._when.items():
            on = expr.mask({**self.constants, **self.fixed, **out}, n)  # a condition may use a pinned value
            out[k] = np.where(on, out[k], np.asarray(self.dimensions[k].default, dtype=out[k].dtype))
        return out

    # -- enumeration and sampling ----------------------------------------------------------
    def enumerate(self, chunk_size: int = DEFAULT_CHUNK, start: int = 0, stop: int | None = None) -> Iterator[Chunk]:
        """Valid configurations of raw indices ``[start, stop)``, ``chunk_size`` at a time."""
        self.check()
        size = self.size
        if size is None:
            cont = [k for k in self.free if self._domain(k) is None]
            raise SchemaError(f"cannot enumerate: float dimension(s) {cont} have no 'grid'",
                              hint="add e.g. `grid: 16` to each float dimension, or use an optimizer backend")
        stop = size if stop is None else min(stop, size)
        n_labels = len(self.rule_labels)
        for lo in range(start, stop, chunk_size):
            hi = min(lo + chunk_size, stop)
            index = np.arange(lo, hi, dtype=np.int64)
            configs = self.complete(self.decode_index(index))
            env = self._env(configs)
            valid = np.ones(hi - lo, dtype=bool)
            fails = np.zeros(n_labels, dtype=np.int64)
            for i, ok, _ in self._rule_results(env, hi - lo):
                fails[i] = (~ok).sum()
                valid &= ok
            yield Chunk(index[valid], {k: v[valid] for k, v in configs.items()}, hi - lo, fails)

    def count_valid(self, chunk_size: int = DEFAULT_CHUNK) -> int:
        """Exact number of valid points; InfeasibleError when there are none."""
        valid, fails, raw = 0, np.zeros(len(self.rule_labels), dtype=np.int64), 0
        for chunk in self.enumerate(chunk_size):
            valid += len(chunk.index)
            fails += chunk.rule_fail
            raw += chunk.n_raw
        if valid == 0:
            raise self.infeasible(fails, raw)
        return valid

    def infeasible(self, fails: np.ndarray, raw: int, sampled: bool = False) -> InfeasibleError:
        """The error for a space whose every point breaks a rule, naming the worst rule."""
        labels = self.rule_labels
        worst = int(np.argmax(fails)) if len(fails) else None
        what = f"all {raw:,} {'sampled ' if sampled else ''}points of the search space violate its rules"
        if worst is None:
            return InfeasibleError(what)
        return InfeasibleError(f"{what}; rule {labels[worst]!r} removes the most ({int(fails[worst]):,} of {raw:,})",
                               hint="relax that rule, widen the dimensions it uses, or check the constants")

    def sample(self, n: int, rng: np.random.Generator | int | None = None, *, valid_only: bool = True,
               max_draws: int = 64) -> dict[str, np.ndarray]:
        """``n`` random configurations (uniform per dimension; log-uniform for log floats)."""
        self.check()
        rng = np.random.default_rng(rng)
        parts, got = [], 0
        for _ in range(max_draws if valid_only else 1):
            m = max(n, 1024) if valid_only else n
            raw = {}
            for k in self.free:
                dom = self._domain(k)
                if dom is not None:
                    raw[k] = dom[rng.integers(0, len(dom), m)]
                else:
                    d = self.dimensions[k]
                    raw[k] = (np.exp(rng.uniform(np.log(d.low), np.log(d.high), m)) if d.log
                              else rng.uniform(d.low, d.high, m))
            full = self.complete(self.canonicalize(raw))
            if not valid_only:
                return full
            ok = self.check_rules(full).valid
            parts.append({k: v[ok] for k, v in full.items()})
            got += int(ok.sum())
            if got >= n:
                break
        out = {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}
        return out

    # -- encodings for optimizers ----------------------------------------------------------
    def _encoding(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """(lower, upper, is_integer, domains) of the free dimensions, computed once (optimizers
        decode every offspring batch; recomputing the domains dominated pymoo's repair)."""
        if self._codec is None:
            lo, hi, is_int, doms = [], [], [], []
            for k in self.free:
                dom = self.dimensions[k].values()
                doms.append(dom)
                if dom is None:
                    d = self.dimensions[k]
                    lo.append(math.log(d.low) if d.log else d.low)
                    hi.append(math.log(d.high) if d.log else d.high)
                    is_int.append(False)
                else:
                    lo.append(0)
                    hi.append(len(dom) - 1)
                    is_int.append(True)
            self._codec = (np.array(lo, float), np.array(hi, float), np.array(is_int, bool), doms)
        return self._codec

    def bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower, upper, is_integer) of the encoded free dimensions: discrete ones (floats with a
        grid too) as indices 0..k-1, continuous floats as values (their logarithm when ``log``)."""
        lo, hi, is_int, _ = self._encoding()
        return lo.copy(), hi.copy(), is_int.copy()

    def decode(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Encoded matrix (n, len(free)) -> free-dimension values (conditionals canonicalized)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        _, _, is_int, doms = self._encoding()
        out = {}
        for j, k in enumerate(self.free):
            if is_int[j]:
                dom = doms[j]
                out[k] = dom[np.clip(np.rint(X[:, j]).astype(np.int64), 0, len(dom) - 1)]
            else:
                out[k] = np.exp(X[:, j]) if self.dimensions[k].log else X[:, j].copy()
        return self.canonicalize(out)

    def canonicalize_encoded(self, X: np.ndarray) -> np.ndarray:
        """Encoded rows with each conditional dimension set to (the code of) its default where its
        condition is false -- ``encode(decode(X))`` for those columns, without the per-value lookups."""
        X = np.array(X, dtype=float)
        if not self._when or not len(X):
            return X
        values = self.decode(X)
        _, _, is_int, doms = self._encoding()
        for j, k in enumerate(self.free):
            if k not in self._when:
                continue
            d = self.dimensions[k]
            if is_int[j]:
                code = float(np.flatnonzero(doms[j] == d.default)[0])
            else:
                code = math.log(d.default) if d.log else float(d.default)
            X[:, j] = np.where(values[k] == d.default, code, X[:, j])
        return X

    def encode(self, configs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Free-dimension values -> encoded matrix (inverse of ``decode``)."""
        _, _, is_int, doms = self._encoding()
        cols = []
        for j, k in enumerate(self.free):
            d, v = self.dimensions[k], np.asarray(configs[k])
            if not is_int[j]:
                cols.append(np.log(v.astype(float)) if d.log else v.astype(float))
                continue
            lookup = {x: i for i, x in enumerate(doms[j].tolist())}
            try:
                cols.append(np.array([lookup[x] for x in v.tolist()], dtype=float))
            except KeyError as exc:
                raise SchemaError(f"encode: {k} = {exc.args[0]!r} is not one of its values") from None
        return np.column_stack(cols) if cols else np.zeros((len(next(iter(configs.values()), ())), 0))

    def suggest(self, trial, *, conditional: bool = True) -> dict[str, Any]:
        """Define-by-run suggestion of the free dimensions for an optuna trial; a conditional
        dimension is suggested only where its condition holds (else it takes its default).

        ``conditional=False`` suggests every free dimension on every trial (a conditional one is
        still set to its default by ``canonicalize`` before evaluation). Samplers that work on the
        *intersection* search space (NSGA-II/III, QMC) need this: a dimension missing from some
        trials is left out of that space and drawn at random on every trial, never inherited."""
        self.check()
        params: dict[str, Any] = {}
        for k in self.free:
            d = self.dimensions[k]
            expr = self._when.get(k) if conditional else None
            if expr is not None and not bool(expr({**self.constants, **self.fixed, **params})):
                params[k] = d.default
            elif isinstance(d, IntDim):
                params[k] = trial.suggest_int(k, d.low, d.high, step=d.step)
            elif isinstance(d, FloatDim) and d.grid is None:
                params[k] = trial.suggest_float(k, d.low, d.high, log=d.log)
            else:
                params[k] = trial.suggest_categorical(k, d.values().tolist())
        return params

    def fingerprint(self) -> dict:
        """A JSON-ready description (used for study names and provenance)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _errors(exc: ValidationError, where: str, lines: Mapping[tuple, tuple] | None = None) -> str:
    from ..core.yamlio import validation_messages

    return "\n".join(validation_messages(exc, source=where, lines=lines, model_cls=SearchSpace, tags=DIM_TYPES))
