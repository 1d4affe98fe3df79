"""A small, safe expression language for search-space rules, derived dimensions and constraints.

``Expression("N % (tp * pp) == 0")`` parses with :mod:`ast` (never ``eval``), accepts only names,
numbers, strings, ``+ - * / // % **``, comparisons (chainable), ``and / or / not`` and the functions
``min, max, abs, log2, sqrt, ceil, floor``, and evaluates over numpy arrays (one element per
configuration). Arithmetic is done in float64, so ``x % 0`` and ``x / 0`` give NaN/inf instead of
raising, and a comparison with NaN is false.

``violation(env)`` grades how far a boolean expression is from true (0 where it holds), so that
optimizers can use a rule as a constraint (constraint-domination, Deb 2000): ``a <= b`` gives the
relative excess ``(a - b) / max(|a|, |b|)``, ``and`` sums, ``or`` takes the minimum, anything else
gives 1.
"""
from __future__ import annotations

import ast
import operator
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..core.errors import SchemaError, UnknownNameError

FUNCTIONS: dict[str, Callable] = {
    "min": lambda *a: _reduce(np.minimum, a),
    "max": lambda *a: _reduce(np.maximum, a),
    "abs": np.abs,
    "log2": np.log2,
    "sqrt": np.sqrt,
    "ceil": np.ceil,
    "floor": np.floor,
}
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge}
_CMP_TEXT = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_TINY = 1e-9


def _reduce(fn, args):
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


def _num(x):
    """Numbers and integer/bool arrays become float64 (numpy scalars for scalars, so that ``4 % 0``
    and ``2 ** 10000`` give NaN/inf like arrays do instead of raising); strings, object arrays and
    quantities pass."""
    if isinstance(x, np.ndarray):
        return x.astype(float) if x.dtype.kind in "iub" else x
    if isinstance(x, (bool, int, float, np.integer, np.bool_)) and not isinstance(x, np.floating):
        try:
            return np.float64(x)
        except OverflowError:  # an int beyond float64
            return np.float64(np.inf if x > 0 else -np.inf)
    return x


def _truth(x):
    return np.asarray(x).astype(bool)


class Expression:
    """A parsed expression; call it with a mapping of names to scalars or arrays."""

    def __init__(self, text: str, *, where: str = "expression"):
        if not isinstance(text, str) or not text.strip():
            raise SchemaError(f"{where}: expected a non-empty expression string, got {text!r}")
        self.text = text.strip()
        self.where = where
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            raise SchemaError(f"{where}: cannot parse {self.text!r}: {exc.msg} at column {exc.offset}",
                              hint="use names, numbers, + - * / // % **, comparisons, and/or/not, "
                                   "min/max/abs/log2") from None
        except (RecursionError, MemoryError, ValueError):  # nesting too deep for the parser; NUL bytes
            raise SchemaError(f"{where}: cannot parse {self.text[:80]!r}...: nested too deeply or not text",
                              hint="simplify the expression") from None
        self.names: frozenset[str] = frozenset()
        names: set[str] = set()
        try:
            self._fn = self._compile(tree.body, names)
            self._viol = self._compile_violation(tree.body)
        except RecursionError:
            raise SchemaError(f"{where}: expression {self.text[:80]!r}... is nested too deeply",
                              hint="simplify the expression") from None
        self._tree = tree.body
        self.names = frozenset(names)

    # -- pickling: closures are rebuilt from the text ---------------------------------------
    def __getstate__(self):
        return {"text": self.text, "where": self.where}

    def __setstate__(self, state):
        self.__init__(state["text"], where=state["where"])

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Expression) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    # -- compilation ---------------------------------------------------------------------
    def _compile(self, node, names: set[str]) -> Callable[[Mapping[str, Any]], Any]:
        c = lambda n: self._compile(n, names)  # noqa: E731
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise self._bad(f"constant {v!r} is not allowed (numbers and strings only)")
            v = _num(v)
            return lambda env: v
        if isinstance(node, ast.Name):
            name = node.id
            if name in FUNCTIONS:
                raise self._bad(f"{name!r} is a function; call it like {name}(x)")
            names.add(name)
            return lambda env: env[name]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            op, left, right = _BINOPS[type(node.op)], c(node.left), c(node.right)
            return lambda env: op(_num(left(env)), _num(right(env)))
        if isinstance(node, ast.UnaryOp):
            inner = c(node.operand)
            if isinstance(node.op, ast.USub):
                return lambda env: -_num(inner(env))
            if isinstance(node.op, ast.UAdd):
                return lambda env: _num(inner(env))
            if isinstance(node.op, ast.Not):
                return lambda env: np.logical_not(_truth(inner(env)))
        if isinstance(node, ast.BoolOp):
            parts = [c(v) for v in node.values]
            fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return lambda env: _reduce(fn, [_truth(p(env)) for p in parts])
        if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
            terms = [c(node.left)] + [c(v) for v in node.comparators]
            ops = [_CMPOPS[type(o)] for o in node.ops]

            def compare(env):
                vals = [_num(t(env)) for t in terms]
                out = None
                for op, a, b in zip(ops, vals, vals[1:]):
                    r = np.asarray(op(a, b), dtype=bool)
                    out = r if out is None else np.logical_and(out, r)
                return out
            return compare
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                fname = getattr(node.func, "id", ast.unparse(node.func))
                raise UnknownNameError("function", str(fname), FUNCTIONS, where=f"{self.where}: {self.text!r}")
            if node.keywords or not node.args:
                raise self._bad(f"{node.func.id}() takes positional arguments only")
            if node.func.id not in ("min", "max") and len(node.args) != 1:
                raise self._bad(f"{node.func.id}() takes exactly one argument, got {len(node.args)}")
            fn, args = FUNCTIONS[node.func.id], [c(a) for a in node.args]
            return lambda env: fn(*[_num(a(env)) for a in args])
        raise self._bad(f"{ast.unparse(node)!r} ({type(node).__name__}) is not allowed")

    def _bad(self, what: str) -> SchemaError:
        return SchemaError(f"{self.where}: in {self.text!r}: {what}",
                           hint="use names, numbers, + - * / // % **, comparisons, and/or/not, min/max/abs/log2")

    # -- evaluation ----------------------------------------------------------------------
    def check_names(self, known: Iterable[str], *, kind: str = "name") -> None:
        """Raise UnknownNameError (with the closest valid names) for a name not in ``known``."""
        known = set(known)
        for name in sorted(self.names - known):
            raise UnknownNameError(kind, name, known, where=f"{self.where}: {self.text!r}")

    def __call__(self, env: Mapping[str, Any]):
        with np.errstate(all="ignore"):
            try:
                return self._fn(env)
            except (TypeError, ValueError) as exc:
                if type(exc).__module__.split(".")[0] == "pint":  # unit errors are the caller's to report
                    raise
                raise self._type_error(exc) from None

    def _type_error(self, exc: Exception) -> SchemaError:
        """Arithmetic or a numeric comparison on a categorical (string) value, e.g. ``precision + 1``."""
        return SchemaError(f"{self.where}: cannot evaluate {self.text!r}: {exc}",
                           hint="categorical (string) values only compare with == and != to strings, "
                                "e.g. precision == \"fp8\"")

    def mask(self, env: Mapping[str, Any], n: int) -> np.ndarray:
        """The expression as a boolean array of length ``n`` (NaN comparisons are false)."""
        return np.broadcast_to(_truth(self(env)), (n,))

    def violation(self, env: Mapping[str, Any], n: int) -> np.ndarray:
        """0 where the expression holds, a positive graded amount where it does not."""
        with np.errstate(all="ignore"):
            try:
                v = self._viol(env)
            except (TypeError, ValueError) as exc:
                raise self._type_error(exc) from None
        return np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()

    def _compile_violation(self, node) -> Callable[[Mapping[str, Any]], Any]:
        if isinstance(node, ast.BoolOp):
            parts = [self._compile_violation(v) for v in node.values]
            fn = np.add if isinstance(node.op, ast.And) else np.minimum
            return lambda env: _reduce(fn, [p(env) for p in parts])
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = self._compile(node.left, set()), self._compile(node.comparators[0], set())
            op = type(node.ops[0])
            return lambda env: _graded(op, _num(left(env)), _num(right(env)))
        whole = self._compile(node, set())
        return lambda env: np.where(_truth(whole(env)), 0.0, 1.0)

    def describe_compare(self) -> tuple[str, str, str] | None:
        """(left, op, right) source text when the expression is one comparison, else None."""
        node = self._tree
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return ast.unparse(node.left), _CMP_TEXT[type(node.ops[0])], ast.unparse(node.comparators[0])
        return None


def _graded(op, a, b):
    held = np.asarray(_CMPOPS[op](a, b), dtype=bool)
    if isinstance(a, str) or isinstance(b, str) or np.asarray(a).dtype.kind in "OUS":
        return np.where(held, 0.0, 1.0)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), _TINY)
    if op in (ast.Lt, ast.LtE):
        amount = (a - b) / scale
    elif op in (ast.Gt, ast.GtE):
        amount = (b - a) / scale
    elif op is ast.Eq:
        amount = np.abs(a - b) / scale
    else:
        amount = np.ones_like(a + b)
    amount = np.where(np.isfinite(amount), np.maximum(amount, _TINY), 1.0)
    return np.where(held, 0.0, amount)
