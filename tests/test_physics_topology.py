"""TopologyModel (topology.py)."""
import json
import numpy as np
import pytest

from conftest_physics import IB_NDR, assert_dims, close, h100_256
from mlsysim.core.errors import UnknownNameError, UserInputError
from mlsysim.physics.topology import TOPOLOGIES, TopologyModel, _levels, topology_si

B = 50.0   # IB NDR 400 Gb/s = 50 GB/s per direction


def test_clos_levels():
    # radix 64: one switch holds 64, two levels 64^2/2 = 2048, three 64^3/4 = 65,536
    assert list(_levels(np.array([1, 64, 65, 2048, 2049, 65536, 65537]), 64)) == [1, 1, 2, 2, 3, 3, 4]


def test_fat_tree_hand_arithmetic():
    # 32 nodes x 8 = 256 endpoints > 64 -> 2 levels, diameter 4 links
    # full bisection 256 x 50 / 2 = 6,400 GB/s; 2:1 oversubscribed: 3,200 GB/s and 25 GB/s per GPU
    full = TopologyModel().solve(IB_NDR, "fat-tree", 32)
    assert full.diameter == 4 and full.levels == 2 and full.endpoints == 256
    assert close(full.bisection_bw.m_as("GB/s"), 6400) and close(full.effective_bw.m_as("GB/s"), B)
    tapered = TopologyModel().solve(IB_NDR, "fat-tree", 32, oversubscription=2)
    assert close(tapered.bisection_bw.m_as("GB/s"), 3200) and close(tapered.effective_bw.m_as("GB/s"), 25)
    assert close(tapered.all_to_all_bw.m_as("GB/s"), 25)
    # 8 nodes x 8 = 64 endpoints fit one switch: no taper applies, diameter 2
    one = TopologyModel().solve(IB_NDR, "fat-tree", 8, oversubscription=2)
    assert one.diameter == 2 and close(one.effective_bw.m_as("GB/s"), B) and one.oversubscription == 1


def test_rail_optimized_hand_arithmetic():
    # rails of 32 nodes fit one 64-port switch: rail collectives see 50 GB/s even at 2:1
    # diameter 2 x (1 + 1) = 4 across rails; bisection 256 x 50 / (2 x 2) = 3,200 GB/s
    r = TopologyModel().solve(IB_NDR, "rail-optimized", 32, oversubscription=2)
    assert close(r.effective_bw.m_as("GB/s"), B) and r.diameter == 4
    assert close(r.bisection_bw.m_as("GB/s"), 3200)


def test_torus_hand_arithmetic():
    # 16 nodes x 4 = 64 chips, 3D: k = 4, diameter 3 x floor(4/2) = 6
    # bisection N B / (k d) = 64 x 50 / 12 = 266.67 GB/s; all-to-all min(50, 4 x 266.67/64) = 16.67
    r = TopologyModel().solve(IB_NDR, "torus", 16, accelerators_per_node=4)
    assert r.levels == 4 and r.diameter == 6 and close(r.effective_bw.m_as("GB/s"), B)
    assert close(r.bisection_bw.m_as("GB/s"), 64 * 50 / 12)
    assert close(r.all_to_all_bw.m_as("GB/s"), 4 * (64 * 50 / 12) / 64)
    assert r.oversubscription == 1


def test_dragonfly_hand_arithmetic():
    # radix 64: 64^2/8 = 512 endpoints per group; 512 nodes x 8 = 4096 -> g = 8 groups, diameter 5
    # bisection (N/4) B g/(g-1) = 1024 x 50 x 8/7 = 58,514.3 GB/s
    r = TopologyModel().solve(IB_NDR, "dragonfly", 512)
    assert r.levels == 8 and r.diameter == 5
    assert close(r.bisection_bw.m_as("GB/s"), 1024 * 50 * 8 / 7)
    small = TopologyModel().solve(IB_NDR, "dragonfly", 16)   # 128 endpoints, one group
    assert small.diameter == 3 and close(small.bisection_bw.m_as("GB/s"), 128 * 50 / 2)


def test_single_node_and_cluster_defaults():
    r = TopologyModel().solve(IB_NDR, "single-node", 1)
    assert r.diameter == 2 and close(r.bisection_bw.m_as("GB/s"), 8 * 50 / 2)
    c = TopologyModel().solve(h100_256())   # fat-tree, 32 nodes, 8 per node, from the cluster
    assert c.topology == "fat-tree" and c.endpoints == 256 and close(c.bisection_bw.m_as("GB/s"), 6400)
    assert TopologyModel().solve(h100_256(), "Rail_Optimized").topology == "rail-optimized"


def test_dimensions():
    r = TopologyModel().solve(IB_NDR, "torus", 16)
    assert_dims(r, {"effective_bw": "B/s", "bisection_bw": "B/s", "all_to_all_bw": "B/s", "link_bandwidth": "B/s",
                    "diameter": None, "oversubscription": None, "endpoints": None})


def test_scalar_equals_core_elementwise():
    nodes = np.array([1, 8, 32, 300, 5000])
    for code, name in enumerate(TOPOLOGIES[:4]):
        core = topology_si(code, nodes, 8, 50e9, 2.0)
        vec = TopologyModel().solve(IB_NDR, name, nodes, oversubscription=2)
        for i, n in enumerate(nodes):
            s = TopologyModel().solve(IB_NDR, name, int(n), oversubscription=2)
            for k in ("effective_bw", "bisection_bw", "all_to_all_bw"):
                assert close(getattr(s, k).m_as("B/s"), core[k][i])
                assert close(getattr(vec, k).m_as("B/s")[i], core[k][i])
            assert s.diameter == core["diameter"][i]


def test_bisection_grows_with_nodes():
    nodes = np.arange(1, 2000, 37)
    for code in (0, 1):   # Clos networks (fat-tree, rail-optimized)
        bis = topology_si(code, nodes, 8, 50e9, 1.0)["bisection_bw"]
        assert np.all(np.diff(bis) > 0)
    cubes = np.array([8, 27, 64, 125, 1000])   # tori of k^3 chips: bisection 2 k^2 links x B/6
    tor = topology_si(2, cubes, 1, 60e9, 1.0)["bisection_bw"]
    assert np.allclose(tor, 2 * cubes ** (2 / 3) * 10e9)


@pytest.mark.parametrize("kw, err", [
    ({"topology": "hypercube"}, UnknownNameError), ({"oversubscription": 0.5}, UserInputError),
    ({"num_nodes": 0}, UserInputError), ({"num_nodes": 2.5}, UserInputError),
    ({"switch_radix": 2}, UserInputError), ({"topology": "single-node", "num_nodes": 2}, UserInputError),
])
def test_bad_inputs(kw, err):
    args = {"topology": "fat-tree", "num_nodes": 4, **kw}
    with pytest.raises(err):
        TopologyModel().solve(IB_NDR, **args)


def test_fabric_needs_num_nodes():
    with pytest.raises(UserInputError):
        TopologyModel().solve(IB_NDR, "fat-tree")
    with pytest.raises(UserInputError):
        TopologyModel().solve(3.14, "fat-tree", 4)


def test_result_is_json_ready():
    json.dumps(TopologyModel().solve(IB_NDR, "dragonfly", 600).to_dict())
