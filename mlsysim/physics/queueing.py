"""Domain 1: tail latency of a replicated service under Poisson load (M/M/c and M/D/c queues).

Requests arrive at rate lambda, each replica serves one request at a time in ``service_latency``
(mean 1/mu), and ``replicas`` = c servers share one queue. With offered load a = lambda/mu and
utilization rho = a/c < 1:

* Erlang C (probability that a request waits), computed from Erlang B,
  ``C = c·B / (c - a·(1 - B))`` (Erlang 1917; Kleinrock 1975, "Queueing Systems, Vol. 1", Sec. 3.5).
  B is evaluated as ``B = [a^c e^-a / c!] / P(Poisson(a) <= c)`` in log space with the regularized
  incomplete gamma function (numerically stable for c in the tens of thousands), or by the
  recursion ``B_k = a·B_{k-1} / (k + a·B_{k-1})`` when SciPy is absent.
* M/M/c waiting time: ``P(W > t) = C · exp(-(c·mu - lambda)·t)``, mean ``C / (c·mu - lambda)``
  (Kleinrock 1975; Gross et al. 2008, "Fundamentals of Queueing Theory", 4th ed., Sec. 2.3).
  The response time T = W + S (S exponential) has the exact tail
  ``P(T > t) = (1 - C)·e^{-mu t} + C·[e^{-mu t} + mu·(e^{-mu t} - e^{-theta t})/(theta - mu)]``,
  theta = c·mu - lambda; its percentiles are found by bisection.
* M/D/c (deterministic service, e.g. a fixed-shape batch): mean wait by the Cosmetatos (1975)
  correction of the M/M/c mean, ``Wq ≈ ½·Wq(M/M/c)·[1 + (1 - rho)(c - 1)(sqrt(4 + 5c) - 2)/(16·rho·c)]``
  (G. P. Cosmetatos, "Some approximate equilibrium results for the multi-server queue (M/G/r)",
  Operational Research Quarterly 27, 1976; as given in Tijms 2003, "A First Course in Stochastic
  Models", Sec. 5.3 -- exact for c = 1, where it is Pollaczek-Khinchine's M/D/1). Tail: the delay
  probability is taken from Erlang C and the conditional wait as exponential with the matching
  mean, ``P(W > t) ≈ C·exp(-C·t/Wq)``, the usual exponential-tail approximation (Tijms 2003, 5.3).
  Response time = W + service time exactly.

An unstable queue (rho >= 1) never returns a finite number: waits and latencies are ``inf``,
``stable`` is False and ``reason`` says why.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pint

from ..core.errors import UnitError, UnknownNameError, UserInputError
from ..core.units import U_S, ureg
from .base import Result, as_unit, to_si, plain

MODELS = ("M/M/c", "M/D/c")
_MODEL_ALIASES = {"m/m/c": "M/M/c", "mmc": "M/M/c", "m/m/k": "M/M/c", "mmk": "M/M/c",
                  "m/d/c": "M/D/c", "mdc": "M/D/c", "m/d/k": "M/D/c", "mdk": "M/D/c"}

_RATE_UNITS = (1 / ureg.second, ureg.request / ureg.second, ureg.sample / ureg.second,
               ureg.token / ureg.second)
_U_MS = ureg.millisecond


def rate_si(value, what: str, *, allow_zero: bool = True):
    """A rate in events per second. Accepts 1/time, request/time, sample/time or token/time
    quantities, or a plain number taken to be per second."""
    if isinstance(value, pint.Quantity):
        for unit in _RATE_UNITS:
            if value.is_compatible_with(unit):
                return to_si(value, unit, what=what, allow_zero=allow_zero)
        raise UnitError(f"{what}: {value:~} has units {value.units:~} ({value.dimensionality}); "
                        "expected a rate such as 100 request/s, 20 1/hour or 500 sample/s",
                        hint="pass e.g. Q_(100, 'request/s')")
    return to_si(value, _RATE_UNITS[0], what=what, allow_zero=allow_zero)


def queue_model_name(model: str) -> str:
    key = str(model).strip().lower().replace(" ", "")
    if key in _MODEL_ALIASES:
        return _MODEL_ALIASES[key]
    raise UnknownNameError("queueing model", str(model), MODELS)


def percentile_si(p, what: str = "percentile"):
    """A percentile as a probability in (0, 1); values in (1, 100) are read as percent (99 -> 0.99)."""
    x = np.asarray(to_si(p, ureg.dimensionless, what=what), dtype=float)
    x = np.where(x > 1.0, x / 100.0, x)
    if np.any(x <= 0.0) or np.any(x >= 1.0):
        raise UserInputError(f"{what}: must lie strictly between 0 and 1 (or 0 and 100 as percent), got {p!r}")
    return float(x) if x.ndim == 0 else x


# ---------------------------------------------------------------------------------------------
# Erlang B / C (vectorized)
# ---------------------------------------------------------------------------------------------
def _erlang_b_recursive(c, a):
    """Erlang B by the stable recursion B_k = a·B_{k-1}/(k + a·B_{k-1}), all elements at once."""
    c, a = np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(a, dtype=float))
    b = np.ones(c.shape)
    kmax = int(np.max(c)) if c.size else 0
    for k in range(1, kmax + 1):
        nb = a * b / (k + a * b)
        b = np.where(k <= c, nb, b)
    return b


def _erlang_b_gamma(c, a):
    """Erlang B in log space: B = exp(c·ln a - a - ln c!) / Q(c+1, a). Accurate where a < c+1
    (then Q(c+1, a) = P(Poisson(a) <= c) is >= ~0.5); other points fall back to the recursion."""
    from scipy.special import gammaincc, gammaln

    c, a = np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(a, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_num = np.where(a > 0, c * np.log(np.where(a > 0, a, 1.0)) - a - gammaln(c + 1.0), -np.inf)
        q = gammaincc(c + 1.0, a)
        b = np.exp(log_num) / q
    b = np.where(a <= 0, 0.0, b)
    b = np.where(c <= 0, 1.0, b)
    bad = ~np.isfinite(b) | (q < 1e-200)
    if np.any(bad):
        b = np.where(bad, _erlang_b_recursive(np.where(bad, c, 0.0), a), b)
    return b


def erlang_b(servers, offered_load):
    """Erlang B blocking probability B(c, a) for c servers and offered load a (Erlangs), vectorized."""
    try:
        return _erlang_b_gamma(servers, offered_load)
    except ImportError:  # pragma: no cover - SciPy is a dependency of pymoo
        return _erlang_b_recursive(servers, offered_load)


def erlang_c(servers, offered_load):
    """Erlang C: probability that an arrival waits in an M/M/c queue, ``c·B/(c - a(1 - B))``.

    Vectorized over ``servers`` (c >= 1) and ``offered_load`` (a = lambda/mu >= 0); equals 1
    wherever a >= c (the queue is unstable and every arrival waits).
    """
    c, a = np.broadcast_arrays(np.asarray(servers, dtype=float), np.asarray(offered_load, dtype=float))
    stable = a < c
    a_s = np.where(stable, a, 0.0)
    b = erlang_b(c, a_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        cc = c * b / (c - a_s * (1.0 - b))
    return np.where(stable, np.clip(cc, 0.0, 1.0), 1.0)


# ---------------------------------------------------------------------------------------------
# Vectorized core
# ---------------------------------------------------------------------------------------------
def _phi(x):
    """(1 - e^-x)/x for x >= 0, with phi(0) = 1."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 1e-12, -np.expm1(-x) / np.where(x > 1e-12, x, 1.0), 1.0 - x / 2.0)


def _mmc_tail_density(t, mu, theta, c_wait):
    """P(T > t) and the density -dP/dt of the M/M/c response time T = W + S (shared terms once)."""
    e_mu = np.exp(-mu * t)
    conv = t * np.exp(-np.minimum(mu, theta) * t) * _phi(np.abs(theta - mu) * t)   # (e^-mu t - e^-theta t)/(theta - mu)
    tail = (1.0 - c_wait) * e_mu + c_wait * (e_mu + mu * conv)
    density = mu * (1.0 - c_wait) * e_mu + c_wait * mu * theta * conv
    return tail, density


def mmc_response_tail(t, mu, theta, c_wait):
    """P(T > t) for the M/M/c response time T = W + S (see the module docstring)."""
    return _mmc_tail_density(np.asarray(t, dtype=float), mu, theta, c_wait)[0]


def mmc_response_density(t, mu, theta, c_wait):
    """Density of the M/M/c response time, -dP(T > t)/dt."""
    return _mmc_tail_density(np.asarray(t, dtype=float), mu, theta, c_wait)[1]


def _mmc_response_percentile(p, mu, theta, c_wait, iterations=60):
    """Smallest t with P(T > t) = 1 - p: Newton's method on ln P(T > t), safeguarded by a
    bisection bracket, on every element at once (stops when all elements have converged)."""
    tail = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_s = np.log(2.0 / tail) / mu
        t_w = np.maximum(np.log(np.maximum(2.0 * c_wait / tail, 1.0)), 0.0) / theta
        hi = 2.0 * np.maximum(t_s, t_w)   # P(S > hi/2) + P(W > hi/2) <= tail
        lo = np.zeros_like(hi)
        t = 0.5 * hi
        log_tail = np.log(tail)
        for _ in range(iterations):
            pt, dens = _mmc_tail_density(t, mu, theta, c_wait)
            above = pt > tail
            lo = np.where(above, t, lo)
            hi = np.where(above, hi, t)
            nt = t + (np.log(pt) - log_tail) * pt / dens
            nt = np.where(np.isfinite(nt) & (nt >= lo) & (nt <= hi), nt, 0.5 * (lo + hi))
            done = np.abs(nt - t) <= 1e-13 * np.maximum(hi, 1e-300)
            t = nt
            if done.all():
                break
    return t


def tail_latency_si(arrival_rate, service_time, servers, percentile=0.99, deterministic=False) -> dict:
    """M/M/c (or M/D/c where ``deterministic``) waiting and response times, vectorized.

    Inputs in SI (1/s, s, count, probability). Returns ``utilization``, ``offered_load``,
    ``probability_of_waiting``, ``mean_wait``, ``p50_wait``, ``p99_wait``, ``wait_at_percentile``,
    ``mean_latency``, ``p50_latency``, ``p99_latency``, ``latency_at_percentile`` (s),
    ``queue_length`` (mean number waiting, Little's law) and ``stable`` (bool).
    """
    lam, s, c, p, det = np.broadcast_arrays(
        np.asarray(arrival_rate, dtype=float), np.asarray(service_time, dtype=float),
        np.asarray(servers, dtype=float), np.asarray(percentile, dtype=float),
        np.asarray(deterministic, dtype=bool))
    a = lam * s
    rho = a / c
    stable = rho < 1.0
    mu = 1.0 / s
    cw = erlang_c(c, a)
    theta = np.where(stable, (c - a) / np.where(stable, s, 1.0), 1.0)    # c·mu - lambda
    wq_mmc = cw / theta
    rho_s = np.where(stable & (rho > 0), rho, 1.0)
    cosmetatos = 0.5 * (1.0 + (1.0 - rho_s) * (c - 1.0) * (np.sqrt(4.0 + 5.0 * c) - 2.0) / (16.0 * rho_s * c))
    wq = np.where(det, wq_mmc * cosmetatos, wq_mmc)
    # Conditional wait is exponential with rate theta (M/M/c) or matched mean (M/D/c approximation).
    with np.errstate(divide="ignore", invalid="ignore"):
        cond_rate = np.where(det, np.where(wq > 0, cw / np.where(wq > 0, wq, 1.0), np.inf), theta)

    # Percentiles 0.5, 0.99 and p, stacked on a leading axis and solved at once.
    qs = np.stack([np.full(p.shape, 0.5), np.full(p.shape, 0.99), p])
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(np.where(cw > 0, cw, 1.0) / (1.0 - qs))
        waits = np.where((cw > 1.0 - qs) & (cw > 0), x / cond_rate, 0.0)
    # Response time: M/M/c exactly; M/D/c as wait + the deterministic service time.
    if np.all(det):
        lat = waits + s
    else:
        lat = _mmc_response_percentile(qs, mu, theta, cw)
        if np.any(det):
            lat = np.where(det, waits + s, lat)

    out = {"utilization": rho, "offered_load": a, "probability_of_waiting": np.where(stable, cw, 1.0),
           "mean_wait": wq, "p50_wait": waits[0], "p99_wait": waits[1],
           "wait_at_percentile": waits[2], "mean_latency": wq + s,
           "p50_latency": lat[0], "p99_latency": lat[1],
           "latency_at_percentile": lat[2], "queue_length": lam * wq}
    for k in ("mean_wait", "p50_wait", "p99_wait", "wait_at_percentile", "mean_latency", "p50_latency",
              "p99_latency", "latency_at_percentile", "queue_length"):
        out[k] = np.where(stable, out[k], np.inf)
    out["stable"] = stable
    return out


def instability_reason(stable, utilization, what: str = "replicas") -> str:
    st = np.asarray(stable)
    if np.all(st):
        return ""
    u = np.asarray(utilization)
    worst = float(np.max(u[~st]))
    n = int(np.sum(~st))
    where = "" if st.ndim == 0 else f" in {n} of {st.size} configurations"
    return (f"unstable{where}: utilization {worst:.3g} >= 1, arrivals exceed what the {what} can serve, "
            "so the queue grows without bound (waits are infinite)")


# ---------------------------------------------------------------------------------------------
# Public model
# ---------------------------------------------------------------------------------------------
@dataclass
class TailLatencyResult(Result):
    """Result of :meth:`TailLatencyModel.solve`. Times are ``inf`` when ``stable`` is False."""

    utilization: object              # rho = lambda·S/c
    probability_of_waiting: object   # Erlang C (approximate for M/D/c)
    mean_wait: object
    p50_wait: object
    p99_wait: object
    wait_at_percentile: object
    mean_latency: object             # wait + service
    p50_latency: object
    p99_latency: object
    latency_at_percentile: object
    queue_length: object             # mean requests waiting (Little's law)
    offered_load: object             # Erlangs
    percentile: object
    replicas: object
    model: str
    stable: object
    reason: str


class TailLatencyModel:
    """Will I meet the P99 latency SLA? M/M/c or M/D/c queueing over ``replicas`` servers."""

    def solve(self, arrival_rate, service_latency, replicas=1, model="M/M/c", percentile=0.99) -> TailLatencyResult:
        """``arrival_rate``: requests per second (quantity like ``Q_(50, 'request/s')`` or a plain
        number per second); ``service_latency``: time one replica spends per request (quantity or
        plain seconds); ``replicas``: servers sharing the queue; ``model``: "M/M/c" (exponential
        service) or "M/D/c" (deterministic service); ``percentile``: the extra percentile reported
        as ``wait_at_percentile`` / ``latency_at_percentile`` (0.999 or 99.9)."""
        name = queue_model_name(model)
        lam = rate_si(arrival_rate, "arrival_rate")
        s = to_si(service_latency, U_S, what="service_latency")
        c = to_si(replicas, ureg.dimensionless, what="replicas", integer=True)
        if np.any(np.asarray(c) < 1):
            raise UserInputError(f"replicas: must be >= 1, got {replicas!r}")
        p = percentile_si(percentile)
        r = tail_latency_si(lam, s, c, p, deterministic=(name == "M/D/c"))
        ms = lambda k: as_unit(plain(r[k]) * 1e3, _U_MS)  # noqa: E731
        return TailLatencyResult(
            utilization=plain(r["utilization"]), probability_of_waiting=plain(r["probability_of_waiting"]),
            mean_wait=ms("mean_wait"), p50_wait=ms("p50_wait"), p99_wait=ms("p99_wait"),
            wait_at_percentile=ms("wait_at_percentile"), mean_latency=ms("mean_latency"),
            p50_latency=ms("p50_latency"), p99_latency=ms("p99_latency"),
            latency_at_percentile=ms("latency_at_percentile"), queue_length=plain(r["queue_length"]),
            offered_load=plain(r["offered_load"]), percentile=plain(p), replicas=plain(c), model=name,
            stable=plain(r["stable"]), reason=instability_reason(r["stable"], r["utilization"]),
        )
