"""Domain 5 (ops): how much MFU do I lose to checkpoints?

Checkpoint size = parameters x (working-weight bytes + fp32 master copy + optimizer state):

* mixed-precision training keeps an fp32 master copy of 16-bit weights (Micikevicius et al. 2018,
  "Mixed Precision Training", ICLR) -- 4 bytes/param when the working precision is narrower;
* Adam/AdamW keep two fp32 moments (8 bytes/param); ZeRO counts 2 + 2 + 12 = 16 bytes/param of
  training state for mixed-precision Adam, of which the fp16 gradients (2) are not saved
  (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
  Models", SC, Sec. 3.1) -> a bf16 + Adam checkpoint is 2 + 4 + 8 = 14 bytes/param;
* SGD with momentum keeps one fp32 buffer (4); Lion one momentum (4; Chen et al. 2023, "Symbolic
  Discovery of Optimization Algorithms"); Adafactor factors the second moment into row and column
  statistics and by default keeps no first moment (Shazeer & Stern 2018, ICML), ~0 bytes/param.

write_time = size / storage_bandwidth (aggregate write bandwidth the job sees), and the fraction of
wall time lost to blocking writes every ``checkpoint_interval`` of compute is
``mfu_penalty = write_time / (checkpoint_interval + write_time)`` (always < 1; equals
write_time/interval to first order, the waste term of Young 1974).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UnknownNameError
from ..core.units import Q_, U_BYTE_S, U_S, ureg
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, to_si, plain
from .data import DEFAULT_STORAGE_BANDWIDTH
from .inputs import resolve_entry, resolve_fleet
from .training_memory import MASTER_COPY_BYTES, OPTIMIZER_STATE_BYTES  # one table of optimizer bytes
#: Per-node storage write bandwidth when neither ``storage_bandwidth`` nor a fleet is given: the
#: Cloud figure of :data:`mlsysim.physics.data.DEFAULT_STORAGE_BANDWIDTH` (2 GB/s, Llama 3 /
#: Tectonic), one node writing without a fleet, ``fleet.node_count`` nodes in parallel with one.
DEFAULT_NODE_WRITE_BANDWIDTH = DEFAULT_STORAGE_BANDWIDTH["Cloud"]
#: Interval used when none is given and there is no fleet to optimize it for (hourly checkpoints).
DEFAULT_CHECKPOINT_INTERVAL = Q_(1.0, "hour")
_U_GB = ureg.gigabyte
_U_GBS = ureg.gigabyte / ureg.second
_U_MIN = ureg.minute


def optimizer_name(optimizer) -> str:
    key = str(optimizer).strip().lower().replace("-", "").replace("_", "")
    key = {"sgdm": "sgd", "momentum": "sgd"}.get(key, key)
    if key not in OPTIMIZER_STATE_BYTES:
        raise UnknownNameError("optimizer", str(optimizer), OPTIMIZER_STATE_BYTES)
    return key


def checkpoint_bytes_per_param(optimizer="adam", precision="bf16") -> float:
    """Bytes saved per parameter: working weights + fp32 master (if narrower) + optimizer state."""
    w = bytes_per_element(precision)
    master = MASTER_COPY_BYTES if w < MASTER_COPY_BYTES else 0.0
    return w + master + OPTIMIZER_STATE_BYTES[optimizer_name(optimizer)]


def checkpoint_si(params, bytes_per_param, storage_bandwidth, interval_s) -> dict:
    """Vectorized checkpoint cost: ``size`` (B), ``write_time`` (s), ``mfu_penalty`` (fraction)."""
    size = np.asarray(params, dtype=float) * np.asarray(bytes_per_param, dtype=float)
    write = size / np.asarray(storage_bandwidth, dtype=float)
    penalty = write / (np.asarray(interval_s, dtype=float) + write)
    return {"size": size, "write_time": write, "mfu_penalty": penalty}


@dataclass
class CheckpointResult(Result):
    """Result of :meth:`CheckpointModel.solve`."""

    checkpoint_size: object       # GB
    weights_size: object          # GB, working-precision weights
    optimizer_size: object        # GB, master copy + optimizer state
    bytes_per_parameter: float
    write_time: object            # s, blocking
    checkpoint_interval: object   # min of compute between checkpoints
    mfu_penalty: object           # fraction of wall time spent writing (< 1)
    storage_bandwidth: object     # GB/s aggregate write
    optimizer: str
    note: str


class CheckpointModel:
    """Checkpoint size, write time and the MFU it costs (see the module docstring)."""

    def solve(self, model, hardware=None, optimizer="adam", checkpoint_interval=None, storage_bandwidth=None,
              fleet=None, precision="bf16") -> CheckpointResult:
        """``model``: a workload or its name; ``hardware``: the accelerator (recorded; the fleet's
        accelerator is used when a fleet is given); ``optimizer``: "adam", "adamw", "sgd"
        (momentum), "lion" or "adafactor"; ``checkpoint_interval``: compute time between
        checkpoints (quantity, or plain **minutes**; default: the Daly-optimal interval for
        ``fleet``'s MTBF, else 1 hour); ``storage_bandwidth``: aggregate write bandwidth (default
        2 GB/s per node x the fleet's nodes, one node without a fleet); ``precision``: working
        precision of the weights (default bf16)."""
        from ..hardware.types import HardwareNode
        from ..models.types import Workload

        model = resolve_entry(model, "models", Workload, "model")
        if hardware is not None:
            resolve_entry(hardware, "hardware", HardwareNode, "hardware")
        opt = optimizer_name(optimizer)
        bpp = checkpoint_bytes_per_param(opt, precision)
        notes = []
        if fleet is not None:
            fleet = resolve_fleet(fleet)
        if storage_bandwidth is not None:
            bw = to_si(storage_bandwidth, U_BYTE_S, what="storage_bandwidth")
        else:
            nodes = fleet.node_count if fleet is not None else 1
            bw = DEFAULT_NODE_WRITE_BANDWIDTH.m_as(U_BYTE_S) * nodes
            notes.append(f"storage bandwidth: default {DEFAULT_NODE_WRITE_BANDWIDTH:~} per node x {nodes} node(s)")
        params = model.parameters
        if checkpoint_interval is not None:
            interval = to_si(checkpoint_interval, _U_MIN, what="checkpoint_interval") * 60.0
        elif fleet is not None:
            from .reliability import fleet_mtbf_s, optimal_interval_si

            write = params * bpp / np.asarray(bw)
            interval = optimal_interval_si(write, fleet_mtbf_s(fleet)[0])
            notes.append("interval: Daly-optimal for the fleet's MTBF")
        else:
            interval = DEFAULT_CHECKPOINT_INTERVAL.m_as(U_S)
            notes.append("interval: default 1 hour")
        r = checkpoint_si(params, bpp, bw, interval)
        w = bytes_per_element(precision)
        return CheckpointResult(
            checkpoint_size=as_unit(plain(r["size"] / 1e9), _U_GB),
            weights_size=as_unit(params * w / 1e9, _U_GB),
            optimizer_size=as_unit(params * (bpp - w) / 1e9, _U_GB),
            bytes_per_parameter=bpp,
            write_time=as_unit(plain(r["write_time"]), U_S),
            checkpoint_interval=as_unit(plain(np.asarray(interval) / 60.0), _U_MIN),
            mfu_penalty=plain(r["mfu_penalty"]),
            storage_bandwidth=as_unit(plain(np.asarray(bw) / 1e9), _U_GBS),
            optimizer=opt, note="; ".join(notes),
        )


__all__ = ["CheckpointModel", "CheckpointResult", "checkpoint_si", "checkpoint_bytes_per_param",
           "OPTIMIZER_STATE_BYTES", "DEFAULT_NODE_WRITE_BANDWIDTH"]
