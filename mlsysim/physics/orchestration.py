"""Domain 4 (fleet): how busy is my cluster? Job queueing on a shared accelerator pool.

Jobs arrive as a Poisson stream at ``arrival_rate`` and each holds ``gpus_per_job`` accelerators
for an exponentially distributed time of mean ``avg_duration``. The fleet then behaves as an
M/M/c queue whose c = floor(total accelerators / gpus_per_job) "slots" are the servers
(Kleinrock 1975, "Queueing Systems, Vol. 1", Sec. 3.5; Erlang C from
:func:`mlsysim.physics.queueing.erlang_c` -- one implementation):

* utilization rho = lambda·E[S]/c, stable only when rho < 1;
* P(wait) = Erlang C(c, a), mean wait Wq = C / (c/E[S] - lambda), p99 wait ln(C/0.01)/(c/E[S] - lambda);
* mean queue length Lq = lambda·Wq and mean running jobs a = lambda·E[S] (Little's law).

Limitations (first order): every job asks for the same ``gpus_per_job`` and is placed in any free
slot (no fragmentation, no topology-aware placement, no priorities or backfilling). Measured
cluster traces have heavier-tailed job durations than exponential (Jeon et al. 2019, "Analysis of
Large-Scale Multi-Tenant GPU Clusters for DNN Training Workloads", USENIX ATC), which lengthens
real queues at the same utilization (Kingman: waits grow with the squared coefficient of variation).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pint

from ..core.errors import UserInputError
from ..core.units import U_HOUR, ureg
from .base import Result, as_unit, to_si, plain
from .inputs import resolve_fleet
from .queueing import instability_reason, rate_si, tail_latency_si


def orchestration_si(arrival_rate, avg_duration_s, accelerators, gpus_per_job) -> dict:
    """Vectorized job-queue metrics. ``arrival_rate`` in jobs/s, durations in s.

    Returns ``slots``, ``utilization``, ``probability_of_waiting``, ``avg_wait_time``,
    ``p99_wait_time``, ``queue_length``, ``jobs_running``, ``stable`` and ``feasible``
    (False where a job needs more accelerators than the fleet has).
    """
    slots = np.floor(np.asarray(accelerators, dtype=float) / np.asarray(gpus_per_job, dtype=float))
    feasible = slots >= 1
    q = tail_latency_si(arrival_rate, avg_duration_s, np.maximum(slots, 1.0), 0.99)
    stable = q["stable"] & feasible
    inf = np.inf
    return {
        "slots": slots,
        "utilization": np.where(feasible, q["utilization"], inf),
        "probability_of_waiting": np.where(feasible, q["probability_of_waiting"], 1.0),
        "avg_wait_time": np.where(stable, q["mean_wait"], inf),
        "p99_wait_time": np.where(stable, q["p99_wait"], inf),
        "queue_length": np.where(stable, q["queue_length"], inf),
        "jobs_running": np.where(stable, q["offered_load"], np.minimum(q["offered_load"], slots)),
        "avg_turnaround_time": np.where(stable, q["mean_latency"], inf),
        "stable": stable,
        "feasible": feasible,
    }


@dataclass
class OrchestrationResult(Result):
    """Result of :meth:`OrchestrationModel.solve` (waits are ``inf`` when not ``stable``)."""

    avg_wait_time: object          # h
    p99_wait_time: object          # h
    avg_turnaround_time: object    # wait + run, h
    utilization: object            # fraction of slots busy
    probability_of_waiting: object
    queue_length: object           # mean jobs waiting
    jobs_running: object           # mean jobs running
    slots: object                  # concurrent jobs the fleet can hold
    gpus_per_job: object
    stable: object
    reason: str


class OrchestrationModel:
    """Queueing of jobs on a shared fleet (see the module docstring)."""

    def solve(self, fleet, arrival_rate, avg_duration, gpus_per_job=1) -> OrchestrationResult:
        """``fleet``: a ``Cluster`` (or its name); ``arrival_rate``: jobs per unit time (a quantity
        such as ``Q_(2, '1/hour')``, or a plain number of jobs per **hour**); ``avg_duration``:
        mean job run time (quantity, or plain **hours**); ``gpus_per_job``: accelerators per job."""
        fleet = resolve_fleet(fleet)
        if isinstance(arrival_rate, pint.Quantity):
            lam = rate_si(arrival_rate, "arrival_rate")
        else:   # plain numbers are jobs per hour
            lam = to_si(arrival_rate, 1 / U_HOUR, what="arrival_rate", allow_zero=True) / 3600.0
        dur = to_si(avg_duration, U_HOUR, what="avg_duration") * 3600.0
        g = to_si(gpus_per_job, ureg.dimensionless, what="gpus_per_job", integer=True)
        total = fleet.total_accelerators
        if np.any(np.asarray(g) > total):
            raise UserInputError(f"gpus_per_job: {gpus_per_job!r} exceeds the {total} accelerators of {fleet.name}",
                                 hint="use a larger fleet or fewer accelerators per job")
        r = orchestration_si(lam, dur, total, g)
        h = lambda k: as_unit(plain(np.asarray(r[k]) / 3600.0), U_HOUR)  # noqa: E731
        reason = instability_reason(r["stable"], r["utilization"], what="fleet's job slots")
        return OrchestrationResult(
            avg_wait_time=h("avg_wait_time"), p99_wait_time=h("p99_wait_time"),
            avg_turnaround_time=h("avg_turnaround_time"), utilization=plain(r["utilization"]),
            probability_of_waiting=plain(r["probability_of_waiting"]), queue_length=plain(r["queue_length"]),
            jobs_running=plain(r["jobs_running"]), slots=plain(r["slots"]), gpus_per_job=plain(g),
            stable=plain(r["stable"]), reason=reason,
        )
