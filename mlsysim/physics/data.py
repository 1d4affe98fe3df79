"""Domain 2 (data): is storage I/O or CPU preprocessing starving the accelerators?

Both models are a supply-versus-demand bound (the same "slowest stage wins" logic as the roofline,
Williams et al. 2009, applied to the input pipeline; Mohan et al. 2021, "Analyzing and Mitigating
Data Stalls in DNN Training", VLDB 14(5), measured such stalls in production training):

* :class:`DataModel` -- the accelerators consume ``workload_data_rate`` bytes/s; storage supplies
  ``storage_bandwidth``. utilization = demand / supply; stalled when > 1; the accelerators then run
  at supply / demand of their speed (``stall_fraction`` = 1 - supply / demand of their time waits).
* :class:`TransformationModel` -- CPU decode/augment at ``cpu_throughput`` samples/s per core on
  ``cpu_cores`` cores produces ``cpu_throughput x cpu_cores`` samples/s; a batch takes
  ``batch_size / that`` to prepare; it is the bottleneck when slower than the accelerator's rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UserInputError
from ..core.units import Q_, U_BYTE_S, U_S, ureg
from .base import Result, as_unit, to_si, plain
from .inputs import resolve_entry, resolve_fleet
from .queueing import rate_si

#: Default storage bandwidth available to one *node* (or one device of a smaller class) when
#: ``storage_bandwidth`` is not given, by ``HardwareNode.category``; checkpoint writes use the same
#: Cloud figure. First-order, order-of-magnitude values:
#: Cloud -- 2 GB/s per 8-accelerator node: Meta's Tectonic file system behind Llama 3 training
#: sustained 2 TB/s (7 TB/s peak) for 16K H100 GPUs = 2,048 nodes, i.e. ~1-3.4 GB/s per node
#: (Dubey et al. 2024, "The Llama 3 Herd of Models", Sec. 3.3.1);
#: Edge -- one PCIe NVMe SSD on an embedded module (~2 GB/s sequential);
#: Mobile -- UFS 3.1 flash (JEDEC JESD220E interface 2.9 GB/s; ~2 GB/s sequential read);
#: Tiny -- quad-SPI NOR flash (~50 MB/s at 100+ MHz quad I/O).
DEFAULT_STORAGE_BANDWIDTH = {
    "Cloud": Q_(2.0, "GB/s"), "Edge": Q_(2.0, "GB/s"), "Mobile": Q_(2.0, "GB/s"), "Tiny": Q_(0.05, "GB/s"),
}
_DEFAULT_BW_SI = {k: v.m_as(U_BYTE_S) for k, v in DEFAULT_STORAGE_BANDWIDTH.items()}
_U_GBS = ureg.gigabyte / ureg.second
_U_SPS = ureg.sample / ureg.second
_U_MS = ureg.millisecond


def data_pipeline_si(demand_bytes_s, supply_bytes_s) -> dict:
    """Vectorized I/O bound: ``utilization`` = demand/supply, ``is_stalled`` (demand > supply),
    ``effective_throughput`` = min(demand, supply) (B/s), ``stall_fraction`` = max(0, 1 - supply/demand)."""
    d = np.asarray(demand_bytes_s, dtype=float)
    s = np.asarray(supply_bytes_s, dtype=float)
    util = d / s
    with np.errstate(divide="ignore", invalid="ignore"):
        stall = np.where(d > s, 1.0 - s / np.where(d > 0, d, 1.0), 0.0)
    return {"utilization": util, "is_stalled": d > s, "effective_throughput": np.minimum(d, s),
            "stall_fraction": stall, "supply": s + 0.0 * d}


@dataclass
class DataResult(Result):
    """Result of :meth:`DataModel.solve`."""

    utilization: object           # demand / supply (> 1 means stalled)
    is_stalled: object
    effective_throughput: object  # GB/s delivered
    stall_fraction: object        # fraction of accelerator time spent waiting for data
    demand: object                # GB/s asked for
    supply: object                # GB/s storage can deliver
    supply_source: str


class DataModel:
    """Is my storage/IO the bottleneck? (see the module docstring)"""

    def solve(self, workload_data_rate, hardware=None, storage_bandwidth=None, fleet=None) -> DataResult:
        """``workload_data_rate``: bytes/s the accelerators consume (quantity such as
        ``Q_(2, 'GB/s')``, or a plain number of **bytes/s**). Supply is ``storage_bandwidth`` (total
        for the job) when given; else the default per-node bandwidth for ``hardware``'s category
        (``DEFAULT_STORAGE_BANDWIDTH``) times ``fleet.node_count`` (1 node without a fleet)."""
        demand = to_si(workload_data_rate, U_BYTE_S, what="workload_data_rate", allow_zero=True)
        if storage_bandwidth is not None:
            supply = to_si(storage_bandwidth, U_BYTE_S, what="storage_bandwidth")
            source = "storage_bandwidth argument"
        else:
            nodes = 1
            if fleet is not None:
                fleet = resolve_fleet(fleet)
                nodes = fleet.node_count
                hardware = hardware if hardware is not None else fleet.hardware
            category = "Cloud"
            if hardware is not None:
                from ..hardware.types import HardwareNode

                category = resolve_entry(hardware, "hardware", HardwareNode, "hardware").category
            supply = _DEFAULT_BW_SI[category] * nodes
            source = (f"default {DEFAULT_STORAGE_BANDWIDTH[category]:~} per node ({category}) x {nodes} node(s); "
                      "pass storage_bandwidth for your system")
        r = data_pipeline_si(demand, supply)
        gbs = lambda x: as_unit(plain(np.asarray(x) / 1e9), _U_GBS)  # noqa: E731
        return DataResult(
            utilization=plain(r["utilization"]), is_stalled=plain(r["is_stalled"]),
            effective_throughput=gbs(r["effective_throughput"]), stall_fraction=plain(r["stall_fraction"]),
            demand=gbs(demand), supply=gbs(r["supply"]), supply_source=source,
        )


# ---------------------------------------------------------------------------------------------
def transformation_si(batch_size, cpu_throughput, cpu_cores, accelerator_rate) -> dict:
    """Vectorized CPU preprocessing bound (samples, samples/s per core, cores, samples/s).

    ``transform_rate`` = cpu_throughput x cpu_cores; ``transform_time`` = batch / transform_rate;
    ``is_bottleneck`` = transform_rate < accelerator_rate (NaN accelerator_rate -> False);
    ``accelerator_utilization`` = min(1, transform_rate / accelerator_rate);
    ``cores_needed`` = ceil(accelerator_rate / cpu_throughput)."""
    b = np.asarray(batch_size, dtype=float)
    rate = np.asarray(cpu_throughput, dtype=float) * np.asarray(cpu_cores, dtype=float)
    acc = np.asarray(accelerator_rate, dtype=float)
    known = np.isfinite(acc)
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(known, np.minimum(1.0, rate / np.where(known, acc, 1.0)), np.nan)
        needed = np.where(known, np.ceil(acc / np.asarray(cpu_throughput, dtype=float)), np.nan)
        accel_time = np.where(known, b / np.where(known, acc, 1.0), np.nan)
    return {"transform_time": b / rate, "transform_rate": rate, "is_bottleneck": known & (rate < acc),
            "accelerator_utilization": util, "cores_needed": needed, "accelerator_time": accel_time}


@dataclass
class TransformationResult(Result):
    """Result of :meth:`TransformationModel.solve`."""

    transform_time: object           # ms per batch on the CPUs
    transform_rate: object           # samples/s the CPUs produce
    is_bottleneck: object            # CPUs slower than the accelerator
    accelerator_utilization: object  # fraction of time the accelerator has data (NaN if rate unknown)
    cores_needed: object             # cores to keep up with the accelerator (NaN if rate unknown)
    accelerator_time: object         # ms per batch on the accelerator (NaN if unknown)
    note: str


class TransformationModel:
    """Is CPU preprocessing starving my GPU? (see the module docstring)"""

    def solve(self, batch_size, cpu_throughput, cpu_cores=1, accelerator_rate=None, step_time=None) -> TransformationResult:
        """``batch_size``: samples per step; ``cpu_throughput``: samples/s one core preprocesses
        (quantity such as ``Q_(400, 'sample/s')`` or a plain number per second); ``cpu_cores``:
        cores doing it (default 1); the accelerator's demand as ``accelerator_rate`` (samples/s) or
        ``step_time`` (time per batch). Without either, ``is_bottleneck`` is False and the
        comparison fields are NaN."""
        b = to_si(batch_size, ureg.dimensionless, what="batch_size")
        tput = rate_si(cpu_throughput, "cpu_throughput", allow_zero=False)
        cores = to_si(cpu_cores, ureg.dimensionless, what="cpu_cores")
        if accelerator_rate is not None and step_time is not None:
            raise UserInputError("give accelerator_rate or step_time, not both")
        note = ""
        if accelerator_rate is not None:
            acc = rate_si(accelerator_rate, "accelerator_rate", allow_zero=False)
        elif step_time is not None:
            acc = np.asarray(b) / np.asarray(to_si(step_time, U_S, what="step_time"))
        else:
            acc = float("nan")
            note = "no accelerator_rate or step_time given: bottleneck not evaluated"
        r = transformation_si(b, tput, cores, acc)
        return TransformationResult(
            transform_time=as_unit(plain(r["transform_time"] * 1e3), _U_MS),
            transform_rate=as_unit(plain(r["transform_rate"]), _U_SPS),
            is_bottleneck=plain(r["is_bottleneck"]), accelerator_utilization=plain(r["accelerator_utilization"]),
            cores_needed=plain(r["cores_needed"]),
            accelerator_time=as_unit(plain(r["accelerator_time"] * 1e3), _U_MS), note=note,
        )
