"""SustainabilityModel (sustainability.py)."""
import json
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest_physics import POLAND, QUEBEC, US_AVG, assert_dims, close, grid, make_a100, research_256, small_cluster
from mlsysim.core.errors import UnitError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.power import fleet_si
from mlsysim.physics.sustainability import SustainabilityModel, sustainability_si


def test_hand_arithmetic_us_grid():
    # IT power at u = 1: 150.4 kW x 720 h (30 days) = 108,288 kWh; x PUE 1.4 = 151,603.2 kWh
    # operational: 151,603.2 kWh x 0.4 kg/kWh = 60,641.28 kg
    # embodied: 256 x 150 kg x 30 days / (5 x 365 days) = 631.23 kg
    # water: WUE 0.5 L/kWh x 108,288 kWh (IT) = 54,144 L
    r = SustainabilityModel().solve(research_256(), 30, datacenter=US_AVG, utilization=1.0)
    assert close(r.it_energy.m_as("kWh"), 108_288) and close(r.energy.m_as("kWh"), 151_603.2)
    assert close(r.operational_carbon_kg, 60_641.28)
    assert close(r.embodied_carbon_kg, 256 * 150 * 30 / (5 * 365))
    assert close(r.carbon_footprint_kg, 60_641.28 + 256 * 150 * 30 / (5 * 365))
    assert close(r.water.m_as("L"), 54_144) and r.offsite_water.m == 0
    assert r.pue == 1.4 and r.region == "US_Avg_T"


def test_seed_order_quebec_us_poland():
    vals = [SustainabilityModel().solve(research_256(), 30, datacenter=g).carbon_footprint_kg
            for g in (QUEBEC, US_AVG, POLAND)]
    assert vals[0] < vals[1] < vals[2]


def test_embodied_unknown_or_excluded_and_offsite_water():
    fleet = small_cluster(2, accelerator=make_a100(embodied_carbon=None))
    r = SustainabilityModel().solve(fleet, 30, datacenter=US_AVG)
    assert r.embodied_carbon_kg == 0 and "unknown" in r.note
    x = SustainabilityModel().solve(research_256(), 30, datacenter=US_AVG, include_embodied=False)
    assert x.embodied_carbon_kg == 0 and x.carbon_footprint_kg == x.operational_carbon_kg
    # off-site: 3 L/kWh x facility energy
    w = SustainabilityModel().solve(research_256(), 30, datacenter=US_AVG, offsite_water_intensity=3.0)
    assert close(w.offsite_water.m_as("L"), 3.0 * w.energy.m_as("kWh"))
    assert close(w.water.m_as("L"), w.onsite_water.m_as("L") + w.offsite_water.m_as("L"))


def test_dimensions():
    r = SustainabilityModel().solve(research_256(), 30, datacenter=POLAND)
    assert_dims(r, {"energy": "kWh", "it_energy": "kWh", "carbon_footprint": "kg", "water": "L", "onsite_water": "L",
                    "offsite_water": "L", "carbon_intensity": "g/kWh", "carbon_footprint_kg": None,
                    "operational_carbon_kg": None, "embodied_carbon_kg": None, "pue": None})
    assert isinstance(r.carbon_footprint_kg, float)


def test_scalar_equals_core_elementwise():
    fleet = research_256()
    f = fleet_si(fleet)
    u = np.array([0.0, 0.5, 1.0])
    g = US_AVG.si
    core = sustainability_si(f["accelerators"], f["nodes"], f["tdp_w"], f["host_power_w"], 30 * 86400, u, 1.4,
                             g["kg_per_j"], g["l_per_j"], 150.0, 5 * 365 * 86400)
    vec = SustainabilityModel().solve(fleet, 30, datacenter=US_AVG, utilization=u)
    for i, x in enumerate(u):
        s = SustainabilityModel().solve(fleet, 30, datacenter=US_AVG, utilization=float(x))
        assert close(s.carbon_footprint_kg, core["carbon_kg"][i]) and close(vec.carbon_footprint_kg[i], core["carbon_kg"][i])
        assert close(s.water.m_as("L"), core["water_l"][i])


@pytest.mark.parametrize("kw, err", [
    ({"duration_days": 0}, UserInputError), ({"duration_days": Q_(1, "m")}, UnitError),
    ({"datacenter": 5}, UserInputError), ({"datacenter": "No_Such_Grid_Anywhere"}, UserInputError),
    ({"utilization": -1}, UserInputError), ({"pue": 0.8}, UserInputError),
    ({"embodied_lifetime_years": 0}, UserInputError), ({"offsite_water_intensity": Q_(1, "kg/kWh")}, UnitError),
])
def test_bad_inputs(kw, err):
    args = {"duration_days": 30, "datacenter": US_AVG, **kw}
    with pytest.raises(err):
        SustainabilityModel().solve(research_256(), **args)


@settings(max_examples=50, deadline=None)
@given(pue=st.floats(1.0, 3.0), intensity=st.floats(0, 1200), u=st.floats(0, 1), days=st.floats(0.01, 1000))
def test_carbon_is_energy_times_pue_times_intensity(pue, intensity, u, days):
    region = grid("G_T", intensity, 0.1, pue, 0.3)
    r = SustainabilityModel().solve(research_256(), days, datacenter=region, utilization=u, include_embodied=False)
    expected = r.it_energy.m_as("kWh") * pue * intensity / 1000.0
    assert r.operational_carbon_kg == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert r.carbon_footprint_kg == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_result_is_json_ready():
    json.dumps(SustainabilityModel().solve(research_256(), 30, datacenter=US_AVG).to_dict())
