"""Domain 3 (algorithm): compute-optimal model size and data (Hoffmann et al. 2022).

Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (Chinchilla), NeurIPS:

* training compute C = 6·N·D FLOPs for N parameters and D tokens (Kaplan et al. 2020, Sec. 2.1);
* ``method="chinchilla"`` (default): the paper's headline rule, D ≈ 20·N tokens per parameter
  (Table 3: 70B params / 1.4T tokens; all three approaches give N_opt ∝ C^0.5) ->
  N = sqrt(C / (6·20)), D = 20·N;
* ``method="approach3"``: minimize the fitted parametric loss under C = 6ND, which gives
  N_opt = G·(C/6)^(β/(α+β)), D_opt = (C/6)/N_opt with G = (α·A / (β·B))^(1/(α+β)) (Sec. 3.3, Eq. 4);
* predicted loss (nats/token on MassiveText) from the parametric fit of Approach 3, Eq. (10):
  L(N, D) = E + A / N^α + B / D^β with E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28.

Note that the published (rounded) Approach-3 constants put the loss-minimizing allocation at
smaller models and more tokens per parameter (~90 at Chinchilla's 5.76e23 FLOPs) than the 20:1
rule the paper recommends; a replication (Besiroglu et al. 2024, "Chinchilla Scaling: A
replication attempt", arXiv:2404.10102) traced this to the fit. Hence the rule is the default.

(Test-time compute -- ``InferenceScalingModel`` -- is in :mod:`mlsysim.physics.reasoning`.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UnknownNameError
from ..core.units import U_FLOP, U_TOKEN, ureg
from .base import Result, as_unit, to_si, plain

#: Chinchilla parametric-loss fit, Hoffmann et al. 2022, Approach 3, Eq. (10).
CHINCHILLA_E = 1.69
CHINCHILLA_A = 406.4
CHINCHILLA_B = 410.7
CHINCHILLA_ALPHA = 0.34
CHINCHILLA_BETA = 0.28
#: Compute-optimal tokens per parameter (Hoffmann et al. 2022, Table 3; "about 20").
TOKENS_PER_PARAMETER = 20.0
#: FLOPs per parameter per training token, forward + backward (Kaplan et al. 2020).
FLOPS_PER_PARAM_TOKEN = 6.0

METHODS = ("chinchilla", "approach3")


def chinchilla_loss(params, tokens):
    """Predicted loss L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022, Eq. 10), vectorized."""
    n = np.asarray(params, dtype=float)
    d = np.asarray(tokens, dtype=float)
    return CHINCHILLA_E + CHINCHILLA_A / n ** CHINCHILLA_ALPHA + CHINCHILLA_B / d ** CHINCHILLA_BETA


def compute_optimal_si(compute_flops, tokens_per_parameter=TOKENS_PER_PARAMETER, approach3=False) -> dict:
    """Vectorized compute-optimal allocation. Returns ``params``, ``tokens``, ``tokens_per_parameter``
    and ``loss`` for budgets ``compute_flops`` (FLOPs)."""
    c = np.asarray(compute_flops, dtype=float)
    k = np.asarray(tokens_per_parameter, dtype=float)
    rule_n = np.sqrt(c / (FLOPS_PER_PARAM_TOKEN * k))
    a, b = CHINCHILLA_ALPHA, CHINCHILLA_BETA
    g = (a * CHINCHILLA_A / (b * CHINCHILLA_B)) ** (1.0 / (a + b))
    fit_n = g * (c / FLOPS_PER_PARAM_TOKEN) ** (b / (a + b))
    n = np.where(approach3, fit_n, rule_n)
    d = c / (FLOPS_PER_PARAM_TOKEN * n)
    return {"params": n, "tokens": d, "tokens_per_parameter": d / n, "loss": chinchilla_loss(n, d)}


@dataclass
class ScalingResult(Result):
    """Result of :meth:`ScalingModel.solve`."""

    optimal_params: object         # parameter count (plain float)
    optimal_tokens: object         # tokens
    tokens_per_parameter: object
    predicted_loss: object         # nats/token, Chinchilla fit
    compute_budget: object         # FLOP
    method: str


class ScalingModel:
    """What is my optimal model size? Chinchilla compute-optimal scaling (see the module docstring)."""

    def solve(self, compute_budget, method="chinchilla", tokens_per_parameter=TOKENS_PER_PARAMETER) -> ScalingResult:
        """``compute_budget``: training FLOPs (a quantity in FLOP -- ``Q_(1e24, 'FLOP')`` or
        ``Q_(100, 'PFLOP/s * day')`` -- or a plain number of FLOPs). ``method``: "chinchilla"
        (D = ``tokens_per_parameter`` x N, default 20) or "approach3" (minimize the fitted loss)."""
        key = str(method).strip().lower().replace(" ", "").replace("_", "")
        if key not in METHODS:
            raise UnknownNameError("scaling method", str(method), METHODS)
        c = to_si(compute_budget, U_FLOP, what="compute_budget")
        k = to_si(tokens_per_parameter, ureg.dimensionless, what="tokens_per_parameter")
        r = compute_optimal_si(c, k, approach3=(key == "approach3"))
        return ScalingResult(
            optimal_params=plain(r["params"]), optimal_tokens=as_unit(plain(r["tokens"]), U_TOKEN),
            tokens_per_parameter=plain(r["tokens_per_parameter"]), predicted_loss=plain(r["loss"]),
            compute_budget=as_unit(plain(c), U_FLOP), method=key,
        )

