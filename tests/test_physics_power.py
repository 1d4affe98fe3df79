"""PowerModel and the shared fleet-power core (power.py)."""
import json
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest_physics import US_AVG, assert_dims, close, research_256
from mlsysim.core.errors import UnitError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.power import (DEFAULT_PUE, IDLE_FRACTION, PowerModel, accelerator_power_si,
                                   fleet_power_si, fleet_si)


def test_full_load_hand_arithmetic():
    # 256 GPUs x 400 W + 32 nodes x 1500 W = 102.4 kW + 48 kW = 150.4 kW; x PUE 1.5 = 225.6 kW
    r = PowerModel().solve(research_256(), utilization=1.0, pue=1.5, duration=Q_(24, "hour"))
    assert close(r.accelerator_power.m_as("kW"), 102.4)
    assert close(r.host_power.m_as("kW"), 48.0)
    assert close(r.it_power.m_as("kW"), 150.4)
    assert close(r.facility_power.m_as("kW"), 225.6)
    # 150.4 kW x 24 h = 3,609.6 kWh; x 1.5 = 5,414.4 kWh
    assert close(r.it_energy.m_as("kWh"), 3609.6)
    assert close(r.facility_energy.m_as("kWh"), 5414.4)


def test_idle_and_half_load():
    # idle: 400 W x 0.30 = 120 W; 256 x 120 W + 48 kW = 30.72 + 48 = 78.72 kW
    assert close(PowerModel().solve(research_256(), utilization=0.0).it_power.m_as("kW"), 78.72)
    # u = 0.5: 400 x (0.3 + 0.5 x 0.7) = 260 W; 256 x 260 W = 66.56 kW; + 48 = 114.56 kW
    assert close(PowerModel().solve(research_256(), utilization=0.5).it_power.m_as("kW"), 114.56)
    # a percent quantity is a fraction
    assert close(PowerModel().solve(research_256(), utilization=Q_(50, "%")).it_power.m_as("kW"), 114.56)


def test_pue_sources():
    fleet = research_256()
    assert PowerModel().solve(fleet).pue == DEFAULT_PUE
    assert PowerModel().solve(fleet, grid=US_AVG).pue == 1.4
    assert PowerModel().solve(fleet, grid=US_AVG, pue=1.2).pue == 1.2


def test_dimensions():
    r = PowerModel().solve(research_256())
    assert_dims(r, {"accelerator_power": "W", "host_power": "W", "it_power": "W", "facility_power": "W",
                    "it_energy": "J", "facility_energy": "J", "duration": "s", "utilization": None,
                    "idle_fraction": None, "pue": None})


def test_scalar_equals_core_elementwise():
    fleet = research_256()
    f = fleet_si(fleet)
    u = np.array([0.0, 0.25, 0.6, 1.0])
    core = fleet_power_si(f["accelerators"], f["tdp_w"], f["nodes"], f["host_power_w"], u, pue=1.3,
                          duration_s=7200.0)
    vec = PowerModel().solve(fleet, utilization=u, pue=1.3, duration=2)
    for i, ui in enumerate(u):
        s = PowerModel().solve(fleet, utilization=float(ui), pue=1.3, duration=2)
        assert close(s.it_power.m_as("W"), core["it_power_w"][i])
        assert close(s.facility_energy.m_as("J"), core["facility_energy_j"][i])
        assert close(vec.it_power.m_as("W")[i], core["it_power_w"][i])


@pytest.mark.parametrize("kw, err", [
    ({"utilization": 1.5}, UserInputError), ({"utilization": -0.1}, UserInputError),
    ({"utilization": float("nan")}, UserInputError), ({"duration": Q_(3, "m")}, UnitError),
    ({"pue": 0.9}, UserInputError), ({"idle_fraction": 2}, UserInputError),
])
def test_bad_inputs(kw, err):
    with pytest.raises(err):
        PowerModel().solve(research_256(), **kw)


def test_bad_fleet():
    with pytest.raises(UserInputError):
        PowerModel().solve(42)
    with pytest.raises(UserInputError):   # UnknownNameError once the catalog loads
        PowerModel().solve("No_Such_Cluster_Anywhere")


@settings(max_examples=40, deadline=None)
@given(u1=st.floats(0, 1), u2=st.floats(0, 1))
def test_power_monotone_in_utilization(u1, u2):
    lo, hi = sorted((u1, u2))
    assert accelerator_power_si(400.0, lo) <= accelerator_power_si(400.0, hi)
    assert accelerator_power_si(400.0, 0.0) == pytest.approx(400.0 * IDLE_FRACTION)
    assert accelerator_power_si(400.0, 1.0) == pytest.approx(400.0)


def test_result_is_json_ready():
    json.dumps(PowerModel().solve(research_256()).to_dict())


# ---------------------------------------------------------------------------------------------
# Default power model and host power of accelerators without a catalog node (issue 11 item 5)
# ---------------------------------------------------------------------------------------------
def test_default_training_power_is_65_percent_of_tdp():
    from mlsysim.physics.power import DEFAULT_UTILIZATION, IDLE_FRACTION, accelerator_power_si

    # idle 0.3 x TDP + (TDP - idle) x 0.5 = 0.65 x TDP: 455 W on a 700 W H100, 260 W on a 400 W A100
    assert (IDLE_FRACTION, DEFAULT_UTILIZATION) == (0.30, 0.5)
    assert accelerator_power_si(700.0, DEFAULT_UTILIZATION) == pytest.approx(455.0)
    assert accelerator_power_si(400.0, DEFAULT_UTILIZATION) == pytest.approx(260.0)


def test_every_training_gpu_generation_has_a_node_with_host_power():
    import mlsysim
    from mlsysim.systems.fleet import default_node

    for key, node, host in [("V100", "DGX1_V100", 1100.0), ("A100_40GB", "DGX_A100_320GB", 3300.0),
                            ("A100", "DGX_A100", 3300.0), ("H100", "DGX_H100", 4600.0), ("B200", "DGX_B200", 6300.0)]:
        n = default_node(mlsysim.Hardware.get(key))
        assert n.key == node and n.si["host_power"] == host


def test_accelerator_without_a_node_gets_the_catalog_median_host_share():
    import statistics

    import mlsysim
    from mlsysim.systems.fleet import default_host_power_fraction, fleet_for

    # host / (n x TDP): DGX-1 1100/2400 = 0.458, DGX A100 (both) 3300/3200 = 1.031, DGX H100/H200
    # 4600/5600 = 0.821, DGX B200 6300/8000 = 0.788, GB200 NVL72 33600/86400 = 0.389 -> median 0.821
    ratios = [1100 / 2400, 3300 / 3200, 3300 / 3200, 4600 / 5600, 4600 / 5600, 6300 / 8000, 33600 / 86400]
    assert default_host_power_fraction() == pytest.approx(statistics.median(ratios)) == pytest.approx(0.8214, abs=1e-4)
    notes = []
    c = fleet_for(mlsysim.Hardware.get("MI300X"), 2, notes=notes)   # 750 W TDP, no catalog node
    assert c.node.si["host_power"] == pytest.approx(0.8214286 * 750.0, rel=1e-6)
    assert "default host power" in notes[0]
    # an accelerator without a published TDP gets no host power either (energy stays unknown)
    assert fleet_for(mlsysim.Hardware.get("TPUv5e"), 2).node.si["host_power"] == 0.0
