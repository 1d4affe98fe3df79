"""Layer D: network fabrics, nodes (servers) and clusters (fleets)."""
from __future__ import annotations

from functools import cached_property
from typing import Literal, Optional, Union

from pydantic import Field, field_validator

from ..core.fields import CatalogEntry, Quantity
from ..core.references import resolve
from ..core.units import U_BYTE_S, U_S, U_USD, U_W
from ..hardware.types import HardwareNode


class Fabric(CatalogEntry):
    """A network link technology. ``bandwidth`` is per accelerator (one NIC or link bundle);
    ``bidirectional`` says whether the figure counts both directions (NVLink's does, IB's does not)."""

    kind: Literal["nvlink", "infiniband", "ethernet", "roce", "ici", "xgmi", "pcie", "other"]
    bandwidth: Quantity("byte/s")
    bidirectional: bool = False
    latency: Quantity("s") = "5 us"

    @property
    def per_direction(self):
        return self.bandwidth / 2 if self.bidirectional else self.bandwidth

    @cached_property
    def si(self) -> dict:
        return {"bandwidth": self.per_direction.m_as(U_BYTE_S), "latency": self.latency.m_as(U_S)}


class Node(CatalogEntry):
    """A server: ``accelerators_per_node`` accelerators joined by the accelerator's own link
    (or ``intra_fabric``), plus host CPUs, memory, NICs and fans drawing ``host_power``."""

    accelerator: HardwareNode
    accelerators_per_node: int = Field(gt=0, le=1024)
    intra_fabric: Optional[Fabric] = None
    host_power: Quantity("W", allow_zero=True) = Field(description="node power beyond the accelerators at full load")
    price_usd: Optional[Quantity("USD")] = Field(default=None, description="whole-node price; default: accelerators + host_price")
    host_price: Quantity("USD", allow_zero=True) = Field(default="0 USD", description="price of the server around the accelerators")
    mtbf: Optional[Quantity("hour")] = Field(
        default=None, description="mean time between failures of one node; None = derived from the Llama 3 "
                                  "interruption rate per accelerator (see physics/reliability.py)")

    @field_validator("accelerator", mode="before")
    @classmethod
    def _accel(cls, v):
        return resolve("hardware", v)

    @field_validator("intra_fabric", mode="before")
    @classmethod
    def _fabric(cls, v):
        return resolve("fabrics", v)

    @cached_property
    def si(self) -> dict:
        hw = self.accelerator.si
        if self.intra_fabric is not None:
            link_bw, link_lat = self.intra_fabric.si["bandwidth"], self.intra_fabric.si["latency"]
        else:
            link_bw, link_lat = hw["link_bandwidth"], hw["link_latency"]
        price = (self.price_usd.m_as(U_USD) if self.price_usd is not None
                 else hw["price_usd"] * self.accelerators_per_node + self.host_price.m_as(U_USD))
        return {"intra_bandwidth": link_bw, "intra_latency": link_lat, "host_power": self.host_power.m_as(U_W),
                "price_usd": price, "mtbf_s": self.mtbf.m_as(U_S) if self.mtbf is not None else float("nan")}


class Cluster(CatalogEntry):
    """A fleet: ``node_count`` nodes on an inter-node ``fabric`` in a ``topology``."""

    node: Node
    node_count: int = Field(gt=0, le=1_000_000)
    fabric: Fabric
    topology: Literal["fat-tree", "rail-optimized", "torus", "dragonfly", "single-node"] = "fat-tree"
    oversubscription: float = Field(default=1.0, ge=1.0, le=64.0)

    @field_validator("node", mode="before")
    @classmethod
    def _node(cls, v):
        return resolve("nodes", v)

    @field_validator("fabric", mode="before")
    @classmethod
    def _fabric(cls, v):
        return resolve("fabrics", v)

    @property
    def hardware(self) -> HardwareNode:
        return self.node.accelerator

    @property
    def accelerators_per_node(self) -> int:
        return self.node.accelerators_per_node

    @property
    def total_accelerators(self) -> int:
        return self.node_count * self.node.accelerators_per_node

    def with_nodes(self, node_count: int) -> "Cluster":
        """The same cluster with another node count (validated like any cluster)."""
        fields = {k: getattr(self, k) for k in type(self).model_fields}
        return Cluster.build(**{**fields, "node_count": node_count, "key": f"{self.key}_x{node_count}",
                                "name": f"{self.node.name} x{node_count}"},
                             where=f"cluster {self.key} with {node_count} nodes")


Fleet = Union[Cluster]
