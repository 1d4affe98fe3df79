"""``SystemEvaluator``: checks the inputs, runs the training or inference lens and the macro lens."""
from __future__ import annotations

from typing import Optional

from ..systems.fleet import fleet_for, single_device_fleet
from .checks import _fraction, _nonneg_int, _parallelism_dict, _pos_float, _pos_int
from .inference import _inference
from .macro import _macro
from .results import Evaluation, _flag_non_finite
from .training import _training

DEFAULT_DURATION_DAYS = 365.0
#: Tokens per sequence when none is given (capped at the model's context length).
DEFAULT_SEQ_LEN = 2048
#: Grid region used for the macro lens when none is given (if the catalog has it).
DEFAULT_GRID = "US_Avg"


class SystemEvaluator:
    """Full-stack evaluation of one scenario: ``SystemEvaluator.evaluate(...)`` -> ``Evaluation``."""

    @classmethod
    def evaluate(cls, scenario_name: str = "", model_obj=None, hardware_obj=None, batch_size=1,
                 precision: str = "fp16", efficiency=None, fleet=None, grid=None,
                 duration_days=DEFAULT_DURATION_DAYS, seq_len=None, *, mode: Optional[str] = None,
                 output_len=0, kv_precision: Optional[str] = None, nodes=None, parallelism=None,
                 kwh_price=None, utilization=None) -> Evaluation:
        """Evaluate ``model_obj`` on ``hardware_obj`` (or on ``fleet``) through the three lenses.

        Args:
            scenario_name: label printed on the scorecard.
            model_obj, hardware_obj: catalog entries or their names.
            batch_size: sequences/images per forward pass (inference) or global batch (training).
            precision: numeric precision of weights and math (``fp16``, ``bf16``, ``fp8``...).
            efficiency: fraction of peak FLOP/s the software reaches (None: the model's default).
            fleet: a ``Cluster`` (or its name); with ``nodes`` given instead, the default node of the
                hardware times ``nodes``. Neither: a single accelerator.
            grid: grid region of the site (name or ``GridRegion``); default ``US_Avg``.
            duration_days: window of the macro lens (TCO, energy, carbon).
            seq_len: tokens per sequence (transformers); default 2048, capped at the model's context.
            mode: ``inference`` or ``training``; default training on a fleet (transformers), else
                inference.
            output_len: generated tokens per request (LLM inference; ITL is at seq_len + output_len).
            kv_precision: KV-cache precision (default ``precision``).
            parallelism: fixed split ``{tp, pp, cp, ep, microbatch, zero_stage, recompute,
                sequence_parallel}`` (a mapping or object); training default: automatic.
            kwh_price: electricity price in USD/kWh (default: the grid's).
            utilization: accelerator power utilization in [0, 1] for energy (default: the ops default).
        """
        from ..core.catalog import registry
        from ..core.errors import UserInputError
        from ..hardware.types import bytes_per_element

        notes: list[str] = []
        model = registry("models").get(model_obj) if model_obj is not None else None
        if model is None:
            raise UserInputError("evaluate: model_obj is required (a catalog model or its name)")
        cluster = None
        if fleet is not None:
            cluster = registry("clusters").get(fleet)
            if nodes is not None:
                cluster = cluster.with_nodes(_pos_int(nodes, "nodes"))
            hardware = cluster.hardware
            if hardware_obj is not None:
                given = registry("hardware").get(hardware_obj)
                if given.key != hardware.key:
                    raise UserInputError(f"hardware {given.key} does not match the fleet's accelerator {hardware.key}",
                                         hint="drop hardware_obj or choose a fleet with that accelerator")
        else:
            if hardware_obj is None:
                raise UserInputError("evaluate: hardware_obj (or fleet) is required")
            hardware = registry("hardware").get(hardware_obj)
            if nodes is not None:
                cluster = fleet_for(hardware, _pos_int(nodes, "nodes"), notes=notes)

        b = _pos_int(batch_size, "batch_size")
        precision = str(precision).lower()
        bytes_per_element(precision)
        kv_precision = str(kv_precision or precision).lower()
        bytes_per_element(kv_precision)
        eff = None if efficiency is None else _fraction(efficiency, "efficiency", allow_zero=False)
        days = _pos_float(duration_days, "duration_days")
        o = _nonneg_int(output_len or 0, "output_len")
        is_transformer = getattr(model, "kind", None) == "transformer"
        if mode is None:
            mode = "training" if (cluster is not None and is_transformer and not model.encoder_only) else "inference"
        mode = str(mode).lower()
        if mode not in ("inference", "training"):
            from ..core.errors import UnknownNameError
            raise UnknownNameError("mode", mode, ("inference", "training"))
        if mode == "training" and not is_transformer:
            raise UserInputError(f"training mode models transformer training; {model.name} is a {model.kind}",
                                 hint="use mode 'inference' for this model")
        if seq_len is not None:
            s = _pos_int(seq_len, "seq_len")
        elif is_transformer:
            s = min(model.max_seq_len, DEFAULT_SEQ_LEN)
        else:
            s = None
        par = _parallelism_dict(parallelism)

        grid_entry = _grid(grid, notes)
        inputs = {
            "model": model.key, "hardware": hardware.key, "mode": mode, "batch_size": b, "precision": precision,
            "seq_len": s, "efficiency": eff, "fleet": cluster.key if cluster is not None else None,
            "nodes": cluster.node_count if cluster is not None else None,
            "node": cluster.node.key if cluster is not None else None,
            "fabric": cluster.fabric.key if cluster is not None else None,
            "accelerators": cluster.total_accelerators if cluster is not None else 1,
            "grid": grid_entry.key if grid_entry is not None else None, "duration_days": days,
        }
        if mode == "inference" and is_transformer and not model.encoder_only:
            inputs["output_len"] = o
            inputs["kv_precision"] = kv_precision
        import numpy as np

        with np.errstate(all="ignore"):  # non-finite results are reported below, not warned about
            if mode == "training":
                feas, perf, rate = _training(model, hardware, cluster, b, s, precision, eff, par, notes)
            else:
                feas, perf, rate = _inference(model, hardware, cluster, b, s, o, precision, kv_precision, eff, par,
                                              notes)
        _flag_non_finite(perf, notes)
        cost_fleet = cluster if cluster is not None else single_device_fleet(hardware)
        macro = _macro(cost_fleet, grid_entry, days, kwh_price, utilization, rate, notes)
        name = scenario_name or f"{model.name} on {hardware.name}"
        return Evaluation(scenario=name, inputs=inputs, feasibility=feas, performance=perf, macro=macro, notes=notes)


def _grid(grid, notes):
    from ..core.catalog import registry

    if grid is not None:
        return registry("grids").get(grid)
    if DEFAULT_GRID in registry("grids"):
        notes.append(f"no grid region given: using {DEFAULT_GRID} for energy price and carbon")
        return registry("grids").get(DEFAULT_GRID)
    notes.append("no grid region given and no default in the catalog: carbon not computed")
    return None
