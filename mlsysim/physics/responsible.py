"""Domain 5 (ops): what does differential privacy cost? DP-SGD slowdown and noise.

DP-SGD (Abadi et al. 2016, "Deep Learning with Differential Privacy", CCS) clips every
*per-sample* gradient to norm C and adds Gaussian noise of standard deviation sigma·C to their sum
on each step, sampling each example with probability q. Two costs follow:

1. **Compute per step** -- per-sample gradients (instead of one batch gradient) and their norms.
   ``dp_slowdown`` = per-step overhead of the implementation x ``steps_multiplier`` (extra steps or
   larger batches the noisy optimizer needs; 1 by default -- DP recipes often train longer, e.g.
   Li et al. 2022 and De et al. 2022 use large batches and many epochs, so pass your own). The
   overhead ranges below summarise the published measurements; they vary with model, batch size
   and hardware, so each comes with a (low, high) range:

   * ``"naive"`` -- a loop or microbatches of one sample (early TF Privacy): ~5-50x; Subramani
     et al. 2021 ("Enabling Fast Differentially Private SGD via Just-in-Time Compilation and
     Vectorization", NeurIPS) measured order-of-magnitude gaps between such implementations and
     vectorized ones;
   * ``"vectorized"`` (default) -- per-sample gradients by vectorization or backward hooks (JAX
     vmap, Opacus; Subramani et al. 2021; Yousefpour et al. 2021, "Opacus: User-Friendly
     Differential Privacy Library in PyTorch"): ~1.2-4x, central 2x;
   * ``"ghost_clipping"`` -- per-sample gradient norms without materializing the gradients
     (Goodfellow 2015; Li et al. 2022, "Large Language Models Can Be Strong Differentially Private
     Learners", ICLR): near non-private memory at a modest run-time overhead, ~1.1-2x, central 1.3x.

2. **Noise** -- the noise multiplier sigma that gives (epsilon, delta)-DP after T = epochs/q steps,
   from the Renyi-DP accountant of the sampled Gaussian mechanism at integer orders alpha
   (Mironov, Talwar & Zhang 2019, "Renyi Differential Privacy of the Sampled Gaussian Mechanism",
   Sec. 3.3): A_alpha = sum_k C(alpha, k) (1-q)^(alpha-k) q^k exp((k^2 - k)/(2 sigma^2)),
   RDP(alpha) = T·ln(A_alpha)/(alpha - 1), epsilon = min_alpha [RDP(alpha) + ln(1/delta)/(alpha - 1)]
   (Mironov 2017, Prop. 3); sigma is found by bisection. This is the accountant behind
   Opacus/TF-Privacy's RDP option (to within their choice of orders and conversion).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UnknownNameError, UserInputError
from ..core.units import U_HOUR, ureg
from .base import Result, as_unit, to_si, plain
from .inputs import fraction_si
#: Per-step overhead of DP-SGD over non-private training: (central, (low, high)), by implementation.
DP_OVERHEAD = {
    "naive": (10.0, (5.0, 50.0)),
    "vectorized": (2.0, (1.2, 4.0)),
    "ghost_clipping": (1.3, (1.1, 2.0)),
}
#: Default sampling rate q: Abadi et al. 2016's MNIST setting, lots of 600 out of 60,000 examples.
DEFAULT_SAMPLING_RATE = 0.01
#: Default epochs for the noise estimate.
DEFAULT_EPOCHS = 10.0
#: Renyi orders searched by the accountant.
RDP_ORDERS = np.concatenate([np.arange(2, 65), [80, 96, 128, 192, 256]]).astype(float)


def _rdp_orders_table():
    a = RDP_ORDERS[:, None]
    k = np.arange(0, int(RDP_ORDERS.max()) + 1, dtype=float)[None, :]
    from scipy.special import gammaln

    valid = k <= a
    log_binom = np.where(valid, gammaln(a + 1) - gammaln(k + 1) - gammaln(np.maximum(a - k, 0) + 1), -np.inf)
    return a, k, valid, log_binom


_TABLE = None


def sampled_gaussian_epsilon(sigma, q, steps, delta):
    """(epsilon) of DP-SGD with noise multiplier ``sigma``, sampling rate ``q``, ``steps`` steps and
    ``delta``, by the integer-order RDP accountant (vectorized over all inputs)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _rdp_orders_table()
    a, k, valid, log_binom = _TABLE
    sigma, q, steps, delta = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (sigma, q, steps, delta)))
    shape = sigma.shape
    s = sigma.reshape(-1, 1, 1)
    qq = q.reshape(-1, 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = a[None] - k[None]
        log_terms = (log_binom[None] + np.where(rest > 0, rest * np.log1p(-qq), 0.0) + k[None] * np.log(qq)
                     + (k[None] ** 2 - k[None]) / (2.0 * s ** 2))
    log_terms = np.where(valid[None], log_terms, -np.inf)
    mx = np.max(log_terms, axis=2, keepdims=True)
    log_a = (mx + np.log(np.sum(np.exp(log_terms - mx), axis=2, keepdims=True)))[..., 0]   # (n, orders)
    alpha = a[:, 0][None, :]
    eps = (steps.reshape(-1, 1) * log_a + np.log(1.0 / delta.reshape(-1, 1))) / (alpha - 1.0)
    return np.min(eps, axis=1).reshape(shape)


def noise_multiplier_si(epsilon, delta, q, steps, lo=0.05, hi=500.0, iterations=60, tol=1e-10):
    """Noise multiplier sigma at which the accountant gives exactly ``epsilon`` (vectorized).

    Solves ln eps(sigma) = ln epsilon in log sigma by the Illinois variant of false position
    (the curve is close to a straight line in log-log, so ~10 evaluations suffice), clamped to
    [``lo``, ``hi``]."""
    epsilon, delta, q, steps = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (epsilon, delta, q, steps)))
    target = np.log(epsilon)
    f = lambda x: np.log(sampled_gaussian_epsilon(np.exp(x), q, steps, delta)) - target  # noqa: E731
    xa = np.full(epsilon.shape, np.log(lo))
    xb = np.full(epsilon.shape, np.log(hi))
    fa, fb = f(xa), f(xb)
    below, above = fa <= 0, fb >= 0          # target outside the bracket: clamp
    side = np.zeros(epsilon.shape)
    x = xa.copy()
    for _ in range(iterations):
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(fb != fa, xb - fb * (xb - xa) / (fb - fa), 0.5 * (xa + xb))
        x = np.clip(x, np.minimum(xa, xb), np.maximum(xa, xb))
        fx = f(x)
        neg = fx < 0                          # sigma too large: becomes the new upper end
        fa = np.where(neg & (side < 0), fa * 0.5, fa)
        fb = np.where(~neg & (side > 0), fb * 0.5, fb)
        xb, fb = np.where(neg, x, xb), np.where(neg, fx, fb)
        xa, fa = np.where(neg, xa, x), np.where(neg, fa, fx)
        side = np.where(neg, -1.0, 1.0)
        if np.all((np.abs(fx) < tol) | below | above):
            break
    sigma = np.exp(x)
    return np.where(below, lo, np.where(above, hi, sigma))


def dp_cost_si(base_time_s, overhead, steps_multiplier=1.0) -> dict:
    """Vectorized DP-SGD time cost: ``dp_slowdown`` = overhead x steps_multiplier, ``private_time``."""
    slow = np.asarray(overhead, dtype=float) * np.asarray(steps_multiplier, dtype=float)
    return {"dp_slowdown": slow + 0.0 * np.asarray(base_time_s, dtype=float),
            "private_time": np.asarray(base_time_s, dtype=float) * slow}


@dataclass
class ResponsibleEngineeringResult(Result):
    """Result of :meth:`ResponsibleEngineeringModel.solve`."""

    dp_slowdown: object                 # multiplier on training time (central value)
    dp_slowdown_range: tuple            # (low, high) documented range
    private_training_time: object       # base x dp_slowdown, in the base's unit
    private_training_time_range: tuple  # (low, high) quantities
    noise_multiplier: object            # sigma for (epsilon, delta) at q and steps
    epsilon: object
    delta: object
    sampling_rate: object
    steps: object
    method: str
    note: str


class ResponsibleEngineeringModel:
    """The cost of differentially private training (see the module docstring)."""

    def solve(self, base_training_time, epsilon=1.0, delta=1e-5, sampling_rate=DEFAULT_SAMPLING_RATE,
              epochs=DEFAULT_EPOCHS, method="vectorized", steps_multiplier=1.0) -> ResponsibleEngineeringResult:
        """``base_training_time``: non-private time (quantity, or plain **hours**); ``epsilon`` > 0
        and ``delta`` in (0, 1): the privacy budget; ``sampling_rate``: batch / dataset size;
        ``epochs``: passes over the data (steps = epochs / sampling_rate); ``method``: "naive",
        "vectorized" or "ghost_clipping"; ``steps_multiplier``: extra training DP needs (default 1)."""
        key = str(method).strip().lower().replace("-", "_").replace(" ", "_")
        key = {"ghost": "ghost_clipping", "opacus": "vectorized", "vmap": "vectorized", "loop": "naive",
               "microbatch": "naive"}.get(key, key)
        if key not in DP_OVERHEAD:
            raise UnknownNameError("DP-SGD method", str(method), DP_OVERHEAD)
        if hasattr(base_training_time, "units"):
            unit = base_training_time.units
            base = to_si(base_training_time, "s", what="base_training_time")
        else:
            unit = U_HOUR
            base = to_si(base_training_time, U_HOUR, what="base_training_time") * 3600.0
        eps = to_si(epsilon, ureg.dimensionless, what="epsilon")
        dl = fraction_si(delta, "delta", allow_zero=False, allow_one=False)
        q = fraction_si(sampling_rate, "sampling_rate", allow_zero=False)
        ep = to_si(epochs, ureg.dimensionless, what="epochs")
        mult = to_si(steps_multiplier, ureg.dimensionless, what="steps_multiplier")
        if np.any(np.asarray(mult) < 1.0):
            raise UserInputError(f"steps_multiplier: DP training does not need fewer steps, got {steps_multiplier!r}")
        steps = np.asarray(ep, dtype=float) / np.asarray(q, dtype=float)
        sigma = noise_multiplier_si(eps, dl, q, np.ceil(steps))
        central, (low, high) = DP_OVERHEAD[key]
        r = dp_cost_si(base, central, mult)
        t = lambda x: as_unit(plain(np.asarray(x) / 3600.0), U_HOUR).to(unit)  # noqa: E731
        note = ""
        if np.any(np.asarray(sigma) >= 500.0):
            note = "epsilon too small for these settings: noise multiplier hit the search bound (500)"
        return ResponsibleEngineeringResult(
            dp_slowdown=plain(r["dp_slowdown"]),
            dp_slowdown_range=(low * float(np.min(mult)), high * float(np.max(mult))),
            private_training_time=t(r["private_time"]),
            private_training_time_range=(t(np.asarray(base) * low * np.asarray(mult)),
                                         t(np.asarray(base) * high * np.asarray(mult))),
            noise_multiplier=plain(sigma), epsilon=plain(eps), delta=plain(dl), sampling_rate=plain(q),
            steps=plain(np.ceil(steps)), method=key, note=note,
        )
