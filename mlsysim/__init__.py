"""mlsysim: first-order analytical models of ML systems, and design-space search over them.

Tier 1 ``*Model`` classes evaluate physics, Tier 2 ``*Solver`` classes invert it, Tier 3 ``DSE``
searches design spaces. The catalog registries ``Hardware``, ``Models``, ``Systems`` and
``Infra`` load lazily. Heavy libraries (optuna, pymoo, joblib, rich, typer) are imported only
by the code paths that use them, so ``import mlsysim`` stays light.
"""
from __future__ import annotations

import importlib
from types import SimpleNamespace

from .core import references as _references

__version__ = "0.2.0"


def _catalog_lookup(section: str, name: str):
    """A catalog entry by name: what entry types use to resolve names (see core/references.py)."""
    from .core.catalog import registry

    return registry(section).get(name)


_references.set_lookup(_catalog_lookup)


def _registries() -> dict:
    from .core.catalog import registry

    return {
        "Hardware": registry("hardware"),
        "Models": registry("models"),
        "Systems": SimpleNamespace(Clusters=registry("clusters"), Nodes=registry("nodes"), Fabrics=registry("fabrics")),
        "Infra": SimpleNamespace(Grids=registry("grids")),
    }


# Public name -> module that defines it (imported on first use).
_LAZY = {
    "Engine": "physics.node", "SingleNodeModel": "physics.node",
    "EfficiencyModel": "physics.efficiency",
    "ServingModel": "physics.serving",
    "ContinuousBatchingModel": "physics.batching",
    "WeightStreamingModel": "physics.streaming",
    "TailLatencyModel": "physics.queueing",
    "DataModel": "physics.data", "TransformationModel": "physics.data",
    "TopologyModel": "physics.topology",
    "ScalingModel": "physics.scaling", "InferenceScalingModel": "physics.reasoning",
    "CompressionModel": "physics.compression",
    "DistributedModel": "physics.distributed",
    "ReliabilityModel": "physics.reliability",
    "OrchestrationModel": "physics.orchestration",
    "CheckpointModel": "physics.checkpoint",
    "EconomicsModel": "physics.economics", "PowerModel": "physics.power",
    "SustainabilityModel": "physics.sustainability",
    "ResponsibleEngineeringModel": "physics.responsible",
    "SensitivitySolver": "solvers.sensitivity",
    "SynthesisSolver": "solvers.synthesis",
    "SystemEvaluator": "evaluator",
    "DSE": "dse",
    "HardwareNode": "hardware.types", "TransformerWorkload": "models.types", "CNNWorkload": "models.types",
    "Fabric": "systems.types", "Node": "systems.types", "Cluster": "systems.types", "GridRegion": "infra.types",
    "Q_": "core.units", "ureg": "core.units", "load_catalog": "core.catalog",
    "MLSysimError": "core.errors", "UserInputError": "core.errors", "UnknownNameError": "core.errors",
    "UnitError": "core.errors", "SchemaError": "core.errors", "InfeasibleError": "core.errors",
    "ConstraintViolation": "core.errors",
}

__all__ = sorted([*_LAZY, "Hardware", "Models", "Systems", "Infra"])


def __getattr__(name: str):
    if name in ("Hardware", "Models", "Systems", "Infra"):
        globals().update(_registries())
        return globals()[name]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlsysim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
