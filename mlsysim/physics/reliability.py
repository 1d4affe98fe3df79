"""Domain 4 (fleet): will my training job complete? Failures, checkpoint interval and goodput.

Failures are a Poisson process (exponential inter-failure times) and any node failure stops the
synchronous job, so for ``n`` nodes of MTBF ``M_node``:

* fleet MTBF M = M_node / n; expected failures in a job of length T: T / M;
  P(at least one failure) = 1 - exp(-T / M);
* Young (1974), "A first order approximation to the optimum checkpoint interval", CACM 17(9):
  tau = sqrt(2·delta·M) for checkpoint cost delta;
* Daly (2006), "A higher order estimate of the optimum checkpoint interval for restart dumps",
  FGCS 22(3): tau = sqrt(2·delta·M)·[1 + (1/3)·sqrt(delta/(2M)) + (1/9)·(delta/(2M))] - delta
  for delta < 2M, else tau = M  -> ``optimal_interval``;
* goodput (useful fraction of wall time) from Daly's complete model with restart time R:
  T_wall = M·e^(R/M)·(e^((tau+delta)/M) - 1)·T/tau  ->  goodput = T / T_wall.

Default node MTBF. ``Node.mtbf`` is used when the node sets it (catalog or user).
When it is None the MTBF is derived from the largest published failure log of a modern training fleet:
Meta saw 419 unexpected interruptions in a 54-day snapshot of Llama 3 405B pre-training on 16,384
H100 GPUs (Dubey et al. 2024, "The Llama 3 Herd of Models", Sec. 3.3.4, Table 5; ~78% attributed to
hardware), i.e. 16,384 x 54 x 24 h / 419 = 50,677 GPU-hours between interruptions per GPU; a node
of ``k`` accelerators then has MTBF 50,677 h / k (6,335 h for 8 GPUs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import Q_, U_DAY, U_HOUR, U_S, ureg
from .base import Result, as_unit, to_si, plain
from .checkpoint import checkpoint_bytes_per_param, checkpoint_si
from .inputs import SECONDS_PER_DAY, SECONDS_PER_HOUR, resolve_entry, resolve_fleet, seconds
#: Llama 3 (Dubey et al. 2024, Sec. 3.3.4): 419 unexpected interruptions, 54 days, 16,384 GPUs.
LLAMA3_INTERRUPTIONS = 419
LLAMA3_DAYS = 54.0
LLAMA3_GPUS = 16384
#: Mean GPU-hours between interruptions per accelerator derived from it (~50,677 h).
ACCELERATOR_MTBF = Q_(LLAMA3_GPUS * LLAMA3_DAYS * 24.0 / LLAMA3_INTERRUPTIONS, "hour")
#: Blocking checkpoint time when neither ``checkpoint_time`` nor ``model`` is given: an assumed
#: one minute (the blocking part of a sharded write of a large model; pass ``model=`` to compute
#: it from the checkpoint size, or ``checkpoint_time=`` from :class:`CheckpointModel`).
DEFAULT_CHECKPOINT_TIME = Q_(60.0, "s")
#: Time to detect a failure, reschedule and reload the last checkpoint: an assumed 10 minutes.
DEFAULT_RESTART_TIME = Q_(10.0, "minute")
_U_MIN = ureg.minute


def fleet_mtbf_s(fleet) -> tuple[float, str]:
    """Fleet MTBF in seconds and where the node MTBF came from (see the module docstring)."""
    node = fleet.node
    if node.mtbf is not None:
        node_mtbf = node.si["mtbf_s"]
        source = f"Node.mtbf of {node.name} ({node.mtbf:~})"
    else:
        node_mtbf = ACCELERATOR_MTBF.m_as(U_S) / node.accelerators_per_node
        source = (f"Llama 3 fleet data (Dubey et al. 2024): {ACCELERATOR_MTBF.m_as('hour'):,.0f} h per accelerator "
                  f"/ {node.accelerators_per_node} per node")
    return node_mtbf / fleet.node_count, source


def optimal_interval_si(checkpoint_s, mtbf_s):
    """Daly (2006) higher-order optimum checkpoint interval (s), vectorized."""
    d = np.asarray(checkpoint_s, dtype=float)
    m = np.asarray(mtbf_s, dtype=float)
    x = d / (2.0 * m)
    tau = np.sqrt(2.0 * d * m) * (1.0 + np.sqrt(x) / 3.0 + x / 9.0) - d
    return np.where(d < 2.0 * m, tau, m)


def reliability_si(node_mtbf_s, nodes, job_s, checkpoint_s, restart_s, interval_s=None) -> dict:
    """Vectorized reliability metrics (SI). ``interval_s`` None -> Daly's optimum."""
    m = np.asarray(node_mtbf_s, dtype=float) / np.asarray(nodes, dtype=float)
    t = np.asarray(job_s, dtype=float)
    d = np.asarray(checkpoint_s, dtype=float)
    r = np.asarray(restart_s, dtype=float)
    young = np.sqrt(2.0 * d * m)
    daly = optimal_interval_si(d, m)
    tau = daly if interval_s is None else np.asarray(interval_s, dtype=float)
    goodput = tau / (m * np.exp(r / m) * np.expm1((tau + d) / m))
    wall = t / goodput
    return {"fleet_mtbf": m + 0.0 * t, "expected_failures": t / m, "failure_probability": -np.expm1(-t / m),
            "young_interval": young + 0.0 * t, "optimal_interval": daly + 0.0 * t, "interval": tau + 0.0 * t,
            "goodput": goodput + 0.0 * t, "expected_wall_time": wall, "lost_time": wall - t}


@dataclass
class ReliabilityResult(Result):
    """Result of :meth:`ReliabilityModel.solve`."""

    fleet_mtbf: object            # h
    node_mtbf: object             # h
    expected_failures: object     # plain float
    failure_probability: object   # P(at least one failure during the job)
    young_interval: object        # min, Young 1974
    optimal_interval: object      # min, Daly 2006
    checkpoint_interval: object   # min, the interval goodput is evaluated at
    checkpoint_time: object       # s, blocking write per checkpoint
    restart_time: object          # min
    goodput: object               # useful fraction of wall time
    expected_wall_time: object    # days
    lost_time: object             # h lost to checkpoints, rework and restarts
    mtbf_source: str


class ReliabilityModel:
    """Fleet MTBF, expected failures and the optimal checkpoint interval (see the module docstring)."""

    def solve(self, fleet, job_duration_days, checkpoint_time=None, restart_time=DEFAULT_RESTART_TIME,
              node_mtbf=None, model=None, storage_bandwidth=None, checkpoint_interval=None,
              optimizer="adam") -> ReliabilityResult:
        """``fleet``: a ``Cluster`` or its name; ``job_duration_days``: failure-free compute time
        (quantity, or plain **days**); ``checkpoint_time``: blocking time of one checkpoint
        (quantity or plain seconds; default: computed from ``model`` when given, else 60 s);
        ``restart_time``: per failure (default 10 min); ``node_mtbf``: override (quantity or plain
        hours); ``checkpoint_interval``: evaluate goodput at this interval instead of Daly's."""
        fleet = resolve_fleet(fleet)
        job = seconds(job_duration_days, "day", "job_duration_days")
        if node_mtbf is not None:
            m_node = seconds(node_mtbf, "hour", "node_mtbf")
            source = "node_mtbf argument"
        else:
            m, source = fleet_mtbf_s(fleet)
            m_node = m * fleet.node_count
        if checkpoint_time is not None:
            delta = to_si(checkpoint_time, U_S, what="checkpoint_time")
        elif model is not None:
            from ..models.types import Workload

            wl = resolve_entry(model, "models", Workload, "model")
            from .checkpoint import DEFAULT_NODE_WRITE_BANDWIDTH

            bw = (to_si(storage_bandwidth, "byte/s", what="storage_bandwidth") if storage_bandwidth is not None
                  else DEFAULT_NODE_WRITE_BANDWIDTH.m_as("byte/s") * fleet.node_count)
            delta = checkpoint_si(wl.parameters, checkpoint_bytes_per_param(optimizer), bw, 1.0)["write_time"]
            delta = plain(delta)
        else:
            delta = DEFAULT_CHECKPOINT_TIME.m_as(U_S)
        restart = to_si(restart_time, _U_MIN, what="restart_time", allow_zero=True) * 60.0
        interval = None
        if checkpoint_interval is not None:
            interval = to_si(checkpoint_interval, _U_MIN, what="checkpoint_interval") * 60.0
        r = reliability_si(m_node, fleet.node_count, job, delta, restart, interval)
        hours = lambda x: as_unit(plain(np.asarray(x) / SECONDS_PER_HOUR), U_HOUR)  # noqa: E731
        mins = lambda x: as_unit(plain(np.asarray(x) / 60.0), _U_MIN)  # noqa: E731
        return ReliabilityResult(
            fleet_mtbf=hours(r["fleet_mtbf"]), node_mtbf=hours(m_node),
            expected_failures=plain(r["expected_failures"]), failure_probability=plain(r["failure_probability"]),
            young_interval=mins(r["young_interval"]), optimal_interval=mins(r["optimal_interval"]),
            checkpoint_interval=mins(r["interval"]), checkpoint_time=as_unit(plain(delta), U_S),
            restart_time=mins(restart), goodput=plain(r["goodput"]),
            expected_wall_time=as_unit(plain(r["expected_wall_time"] / SECONDS_PER_DAY), U_DAY),
            lost_time=hours(r["lost_time"]), mtbf_source=source,
        )
