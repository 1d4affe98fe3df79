"""Tier 3: design-space exploration over the vectorized physics.

A :class:`SearchSpace` (YAML or Python) of dimensions, derived values and validity rules;
objectives and unit-checked constraints; a backend -- ``exhaustive`` (exact, vectorized chunks),
``optuna`` (TPE, NSGA-II/III, GP, random, QMC; resumable studies), ``pymoo`` (NSGA-II/III,
MOEA/D, GA on whole populations) or ``auto`` -- and a :class:`SearchResult` with every trial, the
Pareto set, the winner and why, and provenance. optuna, pymoo and joblib are imported only by the
backends that use them. See docs/dse.md.
"""
from __future__ import annotations

from .backends.base import Backend, SearchContext, available_backends, get_backend
from .dimension import CategoricalDim, ChoiceDim, FloatDim, IntDim, Pow2Dim
from .engine import DSE, run_search
from .expression import Expression
from .indicators import compare_fronts, coverage, hypervolume, igd_plus
from .objective import Constraint, Objective
from .parallel import run_many
from .pareto import non_dominated, pareto_indices
from .problem import FunctionProblem, Problem
from .result import SearchResult
from .space import SearchSpace
from .winner import WinnerRule

__all__ = [
    "DSE", "run_search", "run_many", "SearchSpace", "IntDim", "Pow2Dim", "ChoiceDim", "CategoricalDim", "FloatDim",
    "Objective", "Constraint", "Problem", "FunctionProblem", "SearchResult", "WinnerRule", "Expression",
    "Backend", "SearchContext", "available_backends", "get_backend", "non_dominated", "pareto_indices",
    "hypervolume", "igd_plus", "coverage", "compare_fronts",
]
