"""SystemEvaluator: one workload on one accelerator (or a fleet) through three lenses.

* **feasibility** -- does it fit in memory, is the parallel split valid (status PASS / FAIL);
* **performance** -- latency, throughput, bottleneck, MFU; for an LLM also TTFT and ITL;
* **macro** -- total cost of ownership, energy and carbon over ``duration_days``.

Every metric has a dotted path (``performance.latency``) and a documented display unit
(``METRICS``); ``Evaluation.to_dict()`` gives the metrics as plain numbers in those units with a
``units`` map, so ``jq .macro.metrics.tco_usd`` prints a number. Asserts (``max``/``min`` limits on
a metric path; a bare number is in the metric's display unit) are checked by
``Evaluation.check``.

What is computed, by mode:

* ``inference`` (default on a single accelerator): the roofline of one forward pass of the batch
  (``mlsysim.physics.node``); for a decoder LLM the serving model adds TTFT, ITL and the KV cache
  (``mlsysim.physics.serving``). On a fleet each replica spans ``tp`` accelerators of one node
  (the smallest power of two that fits, unless given) and the fleet serves ``N / tp`` replicas.
* ``training`` (default on a fleet, transformers only): ``mlsysim.physics.distributed`` -- a fixed
  parallel split when given, else every (tp, pp[, ep]) split evaluated in one vectorized call and
  the highest-throughput feasible one chosen.

The macro lens runs the ops models (``EconomicsModel`` for TCO, ``SustainabilityModel`` for energy,
carbon and water) on the fleet (a lone accelerator counts as a one-accelerator node carrying its
share of the default node's host power and price).
"""
from __future__ import annotations

from .checks import limit_value
from .metrics import (LENSES, METRIC_BY_PATH, METRICS, STATUS_FAIL, STATUS_PASS, STATUS_WARN, MetricSpec,
                      metric_paths, resolve_metric)
from .results import AssertResult, Evaluation, Lens
from .scorecard import format_value
from .system import DEFAULT_DURATION_DAYS, DEFAULT_GRID, DEFAULT_SEQ_LEN, SystemEvaluator
from ..physics.splits import AUTO_MEMORY_SETTINGS

__all__ = [
    "AUTO_MEMORY_SETTINGS", "DEFAULT_DURATION_DAYS", "DEFAULT_GRID", "DEFAULT_SEQ_LEN", "LENSES", "METRICS",
    "METRIC_BY_PATH", "STATUS_FAIL", "STATUS_PASS", "STATUS_WARN", "AssertResult", "Evaluation", "Lens",
    "MetricSpec", "SystemEvaluator", "format_value", "limit_value", "metric_paths", "resolve_metric",
]
