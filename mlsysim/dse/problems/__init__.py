"""Search problems bound to the physics: each turns a vectorized Tier-1 core into the objective
function of a DSE search (``evaluate(configs) -> metrics``). One module per question:

* ``training``  -- ParallelismProblem: how many nodes and which parallel split for training;
* ``serving``   -- BatchingProblem: batch, tensor parallelism, replicas and precision for serving;
* ``placement`` -- PlacementProblem and HardwareProblem: which region / accelerator / fleet size.
"""
from .training import ParallelismProblem  # noqa: F401
from ...physics.splits import best_split  # noqa: F401  (the one best-split search)
from .placement import HardwareProblem, PlacementProblem  # noqa: F401
from .serving import BatchingProblem  # noqa: F401
