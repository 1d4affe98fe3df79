"""Layer B: accelerator specifications (``HardwareNode``)."""
from __future__ import annotations

from functools import cached_property
from typing import Literal, Optional

import pint
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from ..core.errors import UnknownNameError
from ..core.fields import CatalogEntry, Quantity, StrictModel
from ..core.units import U_BYTE, U_BYTE_S, U_FLOP_S, U_USD, U_W, ureg

PRECISIONS = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4", "int4")
BYTES_PER_ELEMENT = {"fp64": 8.0, "fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0,
                     "fp8": 1.0, "int8": 1.0, "fp4": 0.5, "int4": 0.5}
# When a part has no native unit for a precision, it runs at the nearest wider one it has.
_FALLBACK = {"fp4": ["int4", "fp8", "int8", "fp16", "bf16", "fp32"], "int4": ["fp4", "int8", "fp8", "fp16", "bf16", "fp32"],
             "fp8": ["int8", "fp16", "bf16", "fp32"], "int8": ["fp8", "fp16", "bf16", "fp32"],
             "fp16": ["bf16", "fp32"], "bf16": ["fp16", "fp32"], "tf32": ["fp32", "bf16", "fp16"],
             "fp32": ["tf32", "fp16", "bf16"], "fp64": ["fp32"]}


def bytes_per_element(precision: str) -> float:
    """Storage bytes of one value at ``precision`` (fp16 -> 2, int4 -> 0.5)."""
    try:
        return BYTES_PER_ELEMENT[precision.lower()]
    except (KeyError, AttributeError):
        raise UnknownNameError("precision", str(precision), PRECISIONS) from None


class ComputeSpec(StrictModel):
    """Peak dense throughput. ``peak_flops`` is at ``default_precision``; ``precision_flops`` per precision."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_default=True)
    peak_flops: Quantity("FLOP/s")
    default_precision: Literal[PRECISIONS] = "fp16"  # type: ignore[valid-type]
    precision_flops: dict[Literal[PRECISIONS], Quantity("FLOP/s")] = Field(default_factory=dict)  # type: ignore[valid-type]

    def precision_used(self, precision: str) -> str:
        """The precision the part actually computes in when asked for ``precision``."""
        p = precision.lower()
        if p not in BYTES_PER_ELEMENT:
            raise UnknownNameError("precision", precision, PRECISIONS)
        if p in self.precision_flops or p == self.default_precision:
            return p
        for alt in _FALLBACK[p]:
            if alt in self.precision_flops or alt == self.default_precision:
                return alt
        return self.default_precision

    def peak(self, precision: str | None = None) -> pint.Quantity:
        """Peak dense FLOP/s at ``precision`` (falling back to the nearest supported precision)."""
        if precision is None:
            return self.peak_flops
        p = self.precision_used(precision)
        return self.precision_flops.get(p, self.peak_flops) if p != self.default_precision else self.peak_flops


class MemorySpec(StrictModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_default=True)
    capacity: Quantity("byte")
    bandwidth: Quantity("byte/s")
    type: str = ""


class InterconnectSpec(StrictModel):
    """Accelerator-to-accelerator link inside a node (NVLink, ICI, xGMI, Infinity Fabric...).

    ``bandwidth`` is the datasheet figure per accelerator; ``bidirectional`` says whether it counts
    both directions (NVLink's 900 GB/s does), so ``per_direction`` is what one transfer sees.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_default=True)
    name: str
    bandwidth: Quantity("byte/s")
    bidirectional: bool = True
    latency: Quantity("s") = "1 us"

    @property
    def per_direction(self) -> pint.Quantity:
        return self.bandwidth / 2 if self.bidirectional else self.bandwidth


class HardwareNode(CatalogEntry):
    """One accelerator (GPU, TPU chip, NPU, MCU) as its datasheet describes it."""

    category: Literal["Cloud", "Edge", "Mobile", "Tiny"]
    vendor: str
    release_year: int = Field(ge=1990, le=2035)
    compute: ComputeSpec
    memory: MemorySpec
    tdp: Optional[Quantity("W")] = Field(
        ..., description="thermal design power from the datasheet; null (explicitly) when the vendor publishes none "
                         "(Google TPU v5e/v5p/v6e, AWS Trainium/Inferentia, phone/laptop SoCs)")
    interconnect: Optional[InterconnectSpec] = None
    price_usd: Optional[Quantity("USD")] = Field(default=None, description="list or street price per accelerator")
    cloud_price_per_hour: Optional[Quantity("USD/hour")] = Field(default=None, description="on-demand cloud price per accelerator-hour")
    embodied_carbon: Optional[Quantity("kgCO2e")] = Field(default=None, description="manufacturing footprint per accelerator")
    _peak_cache: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _peaks_consistent(self):
        dp = self.compute.default_precision
        if dp in self.compute.precision_flops:
            a, b = self.compute.precision_flops[dp], self.compute.peak_flops
            if abs((a - b).m_as("FLOP/s")) > 1e-6 * b.m_as("FLOP/s"):
                raise ValueError(f"compute.precision_flops[{dp}] ({a}) differs from compute.peak_flops ({b})")
        return self

    # SI magnitudes, computed once per object: the vectorized physics reads these.
    @cached_property
    def si(self) -> dict:
        c = self.compute
        return {
            "peak_flops": c.peak_flops.m_as(U_FLOP_S),
            "memory_capacity": self.memory.capacity.m_as(U_BYTE),
            "memory_bandwidth": self.memory.bandwidth.m_as(U_BYTE_S),
            "tdp": self.tdp.m_as(U_W) if self.tdp is not None else float("nan"),
            "link_bandwidth": self.interconnect.per_direction.m_as(U_BYTE_S) if self.interconnect else 0.0,
            "link_latency": self.interconnect.latency.m_as("s") if self.interconnect else 0.0,
            "price_usd": self.price_usd.m_as(U_USD) if self.price_usd is not None else float("nan"),
            "cloud_usd_per_s": (self.cloud_price_per_hour.m_as(U_USD / ureg.second)
                                if self.cloud_price_per_hour is not None else float("nan")),
        }

    def peak_flops_si(self, precision: str | None) -> float:
        """Peak FLOP/s at ``precision`` as a float (cached per precision)."""
        cache = self._peak_cache
        if precision not in cache:
            cache[precision] = self.compute.peak(precision).m_as(U_FLOP_S)
        return cache[precision]

    @property
    def ridge_point(self) -> pint.Quantity:
        """Roofline ridge point: peak FLOP/s over memory bandwidth (Williams et al. 2009)."""
        return (self.compute.peak_flops / self.memory.bandwidth).to("FLOP/byte")
