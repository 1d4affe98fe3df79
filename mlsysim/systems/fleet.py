"""Fleets from the catalog: the node type of an accelerator, the fabric its clusters use, and a
``Cluster`` of N nodes. Shared by plans, the evaluator and the search problems."""
from __future__ import annotations

from typing import Optional


def default_node(hardware):
    """The catalog node whose accelerator is ``hardware`` (the one with most accelerators), or None."""
    from ..core.catalog import registry

    nodes = [n for n in registry("nodes").all() if n.accelerator.key == hardware.key]
    return max(nodes, key=lambda n: n.accelerators_per_node) if nodes else None


def default_host_power_fraction() -> float:
    """Host power per accelerator as a fraction of the accelerator's TDP, for accelerators without a
    catalog node: the median over the catalog's nodes with a published host power of
    host_power / (accelerators_per_node x TDP). Each of those host powers is a server datasheet's
    maximum system power minus its GPUs' TDPs (DGX-1 V100 0.46, DGX A100 1.03, DGX H100/H200 0.82,
    DGX B200 0.79, GB200 NVL72 0.39: median ~0.8), so the default is an 8-GPU-server-class host.
    Nodes with 0 W (host power not published, e.g. TPU hosts) do not count."""
    import statistics

    from ..core.catalog import registry

    ratios = []
    for n in registry("nodes").all():
        tdp, host = n.accelerator.si["tdp"], n.si["host_power"]
        if host > 0 and tdp == tdp and tdp > 0:  # tdp == tdp: not NaN (unpublished TDP)
            ratios.append(host / (n.accelerators_per_node * tdp))
    return statistics.median(ratios) if ratios else 0.0


def default_host_power_w(hardware) -> float:
    """Host power (W) charged per accelerator of ``hardware`` when no catalog node holds it:
    ``default_host_power_fraction()`` x its TDP (0 W when the TDP is not published)."""
    tdp = hardware.si["tdp"]
    return default_host_power_fraction() * tdp if tdp == tdp else 0.0


def default_fabric(node):
    """The fabric of a catalog cluster built from ``node``; else the first InfiniBand fabric, else any."""
    from ..core.catalog import registry

    for c in registry("clusters").all():
        if node is not None and c.node.key == node.key:
            return c.fabric
    fabrics = registry("fabrics").all()
    for kind in ("infiniband", "roce", "ethernet", "ici"):
        for f in fabrics:
            if f.kind == kind:
                return f
    return fabrics[0] if fabrics else None


def _adhoc_fabric(notes):
    from .types import Fabric

    notes.append("no fabric in the catalog: using a generic 400 Gbit/s InfiniBand-class fabric")
    return Fabric(key="Generic_400G", name="generic 400 Gbit/s fabric", kind="infiniband",
                  bandwidth="400 Gbit/s", latency="5 us", source="mlsysim placeholder (no catalog fabric)")


def fleet_for(hardware, nodes: int = 1, *, node=None, fabric=None, notes: Optional[list] = None):
    """A ``Cluster`` of ``nodes`` nodes of ``hardware``: ``node`` (name or entry) or the catalog
    node whose accelerator is ``hardware``; ``fabric`` or the fabric clusters of that node use.
    Without a catalog node, a node of one accelerator whose only link is the fabric."""
    from ..core.catalog import registry
    from ..core.errors import UserInputError
    from .types import Cluster, Node

    notes = notes if notes is not None else []
    if node is not None:
        node = registry("nodes").get(node)
        if node.accelerator.key != hardware.key:
            raise UserInputError(f"node {node.key} holds {node.accelerator.key}, not {hardware.key}",
                                 hint="choose a node of that accelerator or drop hardware.node")
    fabric = registry("fabrics").get(fabric) if fabric is not None else None
    if node is None:
        node = default_node(hardware)
    if node is None:
        fabric = fabric or default_fabric(None) or _adhoc_fabric(notes)
        host_w = default_host_power_w(hardware)
        notes.append(f"no catalog node holds {hardware.key}: modelling nodes of one {hardware.key} linked only by "
                     f"{fabric.key}, with the default host power {host_w:.0f} W per accelerator "
                     f"({default_host_power_fraction():.2f} x TDP, the catalog servers' median; give hardware.node "
                     f"to choose a node)")
        node = Node(key=f"{hardware.key}_node", name=f"{hardware.name} (1 per node)", accelerator=hardware,
                    accelerators_per_node=1, intra_fabric=fabric, host_power=f"{host_w} W",
                    source="mlsysim placeholder: one accelerator per node, default host power "
                           "(systems.fleet.default_host_power_fraction)")
    fabric = fabric or default_fabric(node) or _adhoc_fabric(notes)
    return Cluster.build(key=f"{node.key}_x{nodes}", name=f"{node.name} x{nodes}", node=node, node_count=int(nodes),
                         fabric=fabric, topology="fat-tree" if nodes > 1 else "single-node",
                         source=f"mlsysim plan: {nodes} x {node.key} on {fabric.key}",
                         where=f"a fleet of {nodes} x {node.key} (nodes)")


def single_device_fleet(hardware):
    """One accelerator as a one-accelerator node carrying its share of the default node's host
    power and host price (for the macro lens of a single-device evaluation)."""
    from .types import Cluster, Node

    base = default_node(hardware)
    if base is not None:
        k = base.accelerators_per_node
        host_power = base.host_power / k
        if base.price_usd is not None and hardware.price_usd is not None:
            host_price = max(base.price_usd / k - hardware.price_usd, 0 * hardware.price_usd)
        else:
            host_price = base.host_price / k
        fabric = default_fabric(base)
    else:
        host_power, host_price, fabric = f"{default_host_power_w(hardware)} W", "0 USD", None
    if fabric is None:
        fabric = default_fabric(None) or _adhoc_fabric([])
    node = Node(key=f"{hardware.key}_single", name=f"one {hardware.name}", accelerator=hardware,
                accelerators_per_node=1, host_power=host_power, host_price=host_price,
                intra_fabric=None if hardware.interconnect is not None else fabric,
                source="mlsysim: one accelerator with its share of the host")
    return Cluster(key=f"{hardware.key}_x1", name=f"one {hardware.name}", node=node, node_count=1, fabric=fabric,
                   topology="single-node", source="mlsysim: single-device evaluation")

