"""Domain 2 (data movement): what does the network topology give each accelerator?

Endpoints: ``N = num_nodes x accelerators_per_node`` (one NIC or link bundle per accelerator, the
convention of :class:`mlsysim.systems.types.Fabric`), each injecting ``B`` = the fabric's
per-direction bandwidth. Switches have ``switch_radix`` ports (default 64: NVIDIA Quantum-2
QM9700, 64 x NDR 400 Gb/s). Every bandwidth is per direction. ``diameter`` counts the links of the
longest shortest path between two endpoints, including the endpoints' own links.

* **fat-tree** (folded Clos; Leiserson 1985, "Fat-trees: universal networks for hardware-efficient
  supercomputing", IEEE Trans. Computers C-34(10); Al-Fares et al. 2008, "A scalable, commodity
  data center network architecture", SIGCOMM): L levels hold 2(r/2)^L endpoints (r, r^2/2, r^3/4);
  diameter 2L; bisection N·B/2 at full bisection, divided by the ``oversubscription`` (taper) of
  the leaf uplinks when L > 1; an all-reduce ring leaving its leaf sees B / oversubscription.
* **rail-optimized** (NVIDIA DGX SuperPOD reference architecture; Wang et al. 2023, "Rail-only: A
  Low-Cost High-Performance Network for Training LLMs with Trillion Parameters"): accelerator i of
  every node sits on rail i, a fat-tree of ``num_nodes`` endpoints; a spine joins the rails
  (diameter 2(L_rail + 1) across rails, 2 L_rail within one). Rail-aligned collectives (NCCL rings
  per rail, cross-rail hops over NVLink) see B, or B / oversubscription when a rail spans more
  than one leaf; bisection N·B / (2·oversubscription).
* **torus** (k-ary d-cube; Dally & Towles 2004, "Principles and Practices of Interconnection
  Networks", Sec. 5.2; TPU v4's 3D torus, Jouppi et al. 2023, ISCA): k = ceil(N^(1/d)) per
  dimension; each endpoint splits B over its 2d links; diameter d·floor(k/2); bisection
  2N/k links x B/(2d) = N·B/(k·d). Dimension-wise concurrent rings (the bucket algorithm) let an
  all-reduce use all links: effective B. Oversubscription does not apply (reported as 1).
* **dragonfly** (Kim, Dally, Scott & Abts 2008, "Technology-Driven, Highly-Scalable Dragonfly
  Topology", ISCA): balanced routers with p = h = r/4 endpoints and global links and a = r/2
  routers per group (a = 2p = 2h), i.e. r^2/8 endpoints per group; g groups fully connected by
  global links. Diameter 3 within a group, 5 across groups (terminal, local, global, local,
  terminal); bisection about (N/4)·B·g/(g - 1) for g > 1 (one quarter of the endpoints' worth of
  global links crosses a balanced cut), N·B/2 inside one group; ``oversubscription`` tapers the
  global links.
* **single-node**: every endpoint on one switch (or NVSwitch): diameter 2, bisection N·B/2.

``all_to_all_bw`` is the per-endpoint bandwidth of a uniform all-to-all: min(effective, 4·bisection/N)
(half of uniform traffic crosses the bisection in each direction).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UnknownNameError, UserInputError
from ..core.units import ureg
from .base import Result, as_unit, to_si, plain
from .inputs import resolve_entry
TOPOLOGIES = ("fat-tree", "rail-optimized", "torus", "dragonfly", "single-node")
_ALIASES = {"fattree": "fat-tree", "clos": "fat-tree", "railoptimized": "rail-optimized", "rail": "rail-optimized",
            "railonly": "rail-optimized", "torus": "torus", "3dtorus": "torus", "dragonfly": "dragonfly",
            "singlenode": "single-node", "node": "single-node"}
_CODE = {name: i for i, name in enumerate(TOPOLOGIES)}

#: Ports per switch: NVIDIA Quantum-2 QM9700 InfiniBand switch, 64 ports of NDR 400 Gb/s
#: (NVIDIA QM9700/QM9790 datasheet).
DEFAULT_SWITCH_RADIX = 64
#: Torus dimensions: TPU v4 pods are 3D tori (Jouppi et al. 2023, "TPU v4", ISCA).
DEFAULT_TORUS_DIMS = 3
DEFAULT_ACCELERATORS_PER_NODE = 8
_U_GBS = ureg.gigabyte / ureg.second


def topology_name(topology) -> str:
    key = str(topology).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnknownNameError("topology", str(topology), TOPOLOGIES)


def _levels(endpoints, radix):
    """Levels of a full-bisection folded Clos of ``radix``-port switches holding ``endpoints``."""
    n = np.maximum(np.asarray(endpoints, dtype=float), 1.0)
    half = np.asarray(radix, dtype=float) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = np.ceil(np.log(n / 2.0) / np.log(half) - 1e-9)
    return np.maximum(lv, 1.0)


def topology_si(code, num_nodes, accelerators_per_node, link_bandwidth, oversubscription=1.0,
                radix=DEFAULT_SWITCH_RADIX, torus_dims=DEFAULT_TORUS_DIMS) -> dict:
    """Vectorized topology metrics; ``code`` indexes ``TOPOLOGIES``; bandwidth in B/s per direction.

    Returns ``endpoints``, ``effective_bw``, ``bisection_bw``, ``all_to_all_bw`` (B/s),
    ``diameter`` (links), ``levels`` (Clos levels / torus k / dragonfly groups) and the
    ``oversubscription`` that applies.
    """
    code, nodes, apn, bw, o, r, d = np.broadcast_arrays(
        np.asarray(code, dtype=int), np.asarray(num_nodes, dtype=float), np.asarray(accelerators_per_node, dtype=float),
        np.asarray(link_bandwidth, dtype=float), np.asarray(oversubscription, dtype=float),
        np.asarray(radix, dtype=float), np.asarray(torus_dims, dtype=float))
    n = nodes * apn
    # fat-tree
    lf = _levels(n, r)
    ft_o = np.where(lf > 1, o, 1.0)
    ft = (bw / ft_o, n * bw / (2.0 * ft_o), 2.0 * lf, lf, ft_o)
    # rail-optimized
    lr = _levels(nodes, r)
    rl_o = np.where(lr > 1, o, 1.0)
    rail = (bw / rl_o, n * bw / (2.0 * o), np.where(apn > 1, 2.0 * (lr + 1.0), 2.0 * lr), lr, o)
    # torus
    k = np.maximum(np.ceil(n ** (1.0 / d) - 1e-9), 1.0)
    tor = (bw, n * bw / (np.maximum(k, 2.0) * d), d * np.floor(k / 2.0), k, np.ones_like(o))
    # dragonfly
    group = r * r / 8.0
    g = np.ceil(n / group - 1e-12)
    multi = g > 1
    df_o = np.where(multi, o, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df_bis = np.where(multi, n * bw / 4.0 * g / np.maximum(g - 1.0, 1.0) / o, n * bw / 2.0)
    df_diam = np.where(multi, 5.0, np.where(n <= r / 4.0, 2.0, 3.0))
    drag = (bw / df_o, df_bis, df_diam, g, df_o)
    # single node
    one = (bw, n * bw / 2.0, np.full(n.shape, 2.0), np.ones(n.shape), np.ones(n.shape))

    table = (ft, rail, tor, drag, one)
    pick = lambda i: np.choose(code, [t[i] for t in table])  # noqa: E731
    eff, bis, diam, lev, over = (pick(i) for i in range(5))
    a2a = np.minimum(eff, 4.0 * bis / n)
    return {"endpoints": n, "effective_bw": eff, "bisection_bw": bis, "all_to_all_bw": a2a,
            "diameter": diam, "levels": lev, "oversubscription": over}


@dataclass
class TopologyResult(Result):
    """Result of :meth:`TopologyModel.solve` (bandwidths per direction)."""

    effective_bw: object        # GB/s per accelerator for a bandwidth-optimal all-reduce
    bisection_bw: object        # GB/s across the worst balanced cut
    all_to_all_bw: object       # GB/s per accelerator under uniform all-to-all
    diameter: object            # links on the longest shortest path
    oversubscription: object
    endpoints: object           # accelerators attached
    levels: object              # Clos levels (fat-tree, per rail), torus radix k, or dragonfly groups
    link_bandwidth: object      # GB/s per accelerator injected
    topology: str


class TopologyModel:
    """What topology should I use? Bandwidth, bisection and diameter by topology."""

    def solve(self, fabric, topology=None, num_nodes=None, oversubscription=None, accelerators_per_node=None,
              switch_radix=DEFAULT_SWITCH_RADIX, torus_dims=DEFAULT_TORUS_DIMS) -> TopologyResult:
        """``fabric``: a ``Fabric`` (or its name), or a ``Cluster`` whose fabric, topology, node
        count, accelerators per node and oversubscription become the defaults. ``topology``:
        "fat-tree", "rail-optimized", "torus", "dragonfly" or "single-node"."""
        from ..systems.types import Cluster, Fabric

        cluster = None
        if isinstance(fabric, Cluster):
            cluster, fabric = fabric, fabric.fabric
        elif not isinstance(fabric, Fabric):
            if isinstance(fabric, str):
                from ..core.catalog import registry

                try:
                    fabric = registry("fabrics").get(fabric)
                except UnknownNameError:
                    cluster = resolve_entry(fabric, "clusters", Cluster, "fabric")
                    fabric = cluster.fabric
            else:
                fabric = resolve_entry(fabric, "fabrics", Fabric, "fabric")
        if topology is None:
            topology = cluster.topology if cluster is not None else "fat-tree"
        if num_nodes is None:
            if cluster is None:
                raise UserInputError("num_nodes: required when fabric is a Fabric rather than a Cluster")
            num_nodes = cluster.node_count
        if accelerators_per_node is None:
            accelerators_per_node = cluster.accelerators_per_node if cluster is not None else DEFAULT_ACCELERATORS_PER_NODE
        if oversubscription is None:
            oversubscription = cluster.oversubscription if cluster is not None else 1.0

        name = topology_name(topology)
        nodes = to_si(num_nodes, ureg.dimensionless, what="num_nodes", integer=True)
        apn = to_si(accelerators_per_node, ureg.dimensionless, what="accelerators_per_node", integer=True)
        o = to_si(oversubscription, ureg.dimensionless, what="oversubscription")
        if np.any(np.asarray(o) < 1.0):
            raise UserInputError(f"oversubscription: must be >= 1 (1 = full bisection), got {oversubscription!r}")
        radix = to_si(switch_radix, ureg.dimensionless, what="switch_radix", integer=True)
        if np.any(np.asarray(radix) < 4):
            raise UserInputError(f"switch_radix: must be >= 4 ports, got {switch_radix!r}")
        dims = to_si(torus_dims, ureg.dimensionless, what="torus_dims", integer=True)
        if name == "single-node" and np.any(np.asarray(nodes) != 1):
            raise UserInputError(f"num_nodes: a single-node topology has 1 node, got {num_nodes!r}")
        bw = fabric.si["bandwidth"]
        r = topology_si(_CODE[name], nodes, apn, bw, o, radix, dims)
        gbs = lambda k: as_unit(plain(np.asarray(r[k]) / 1e9), _U_GBS)  # noqa: E731
        return TopologyResult(
            effective_bw=gbs("effective_bw"), bisection_bw=gbs("bisection_bw"), all_to_all_bw=gbs("all_to_all_bw"),
            diameter=plain(r["diameter"]), oversubscription=plain(r["oversubscription"]), endpoints=plain(r["endpoints"]),
            levels=plain(r["levels"]), link_bandwidth=as_unit(bw / 1e9, _U_GBS), topology=name,
        )
