"""EconomicsModel (economics.py)."""
import json
import math

import numpy as np
import pytest

from conftest_physics import US_AVG, assert_dims, close, make_a100, research_256, small_cluster
from mlsysim.core.errors import UnitError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.power import DEFAULT_UTILIZATION
from mlsysim.physics.economics import DEFAULT_KWH_PRICE, EconomicsModel, economics_si
from mlsysim.physics.power import DEFAULT_PUE, PowerModel, fleet_si


def test_annual_tco_hand_arithmetic():
    # hardware: 32 nodes x (8 x $15,000 + $50,000) = 32 x $170,000 = $5,440,000
    # capex: 5.44M x 1 year / 5 years = $1,088,000; maintenance: 10% x 5.44M = $544,000
    # power: 150.4 kW IT (u = 1) x 1.5 PUE = 225.6 kW x 8,760 h = 1,976,256 kWh x $0.08 = $158,100.48
    r = EconomicsModel().solve(research_256(), 365, kwh_price=0.08, utilization=1.0, pue=1.5)
    assert close(r.hardware_cost_usd, 5_440_000) and close(r.capex_usd, 1_088_000)
    assert close(r.maintenance_usd, 544_000)
    assert close(r.energy.m_as("kWh"), 1_976_256) and close(r.energy_opex_usd, 158_100.48)
    assert close(r.tco_usd, 1_088_000 + 544_000 + 158_100.48)
    assert close(r.tco.m_as("USD"), r.tco_usd) and close(r.opex_usd, 544_000 + 158_100.48)
    # cloud alternative: 256 GPUs x 8,760 h x $2/h = $4,485,120
    assert close(r.cloud_cost_usd, 4_485_120)
    assert close(r.cost_per_accelerator_hour.m_as("USD/hour"), r.tco_usd / (256 * 8760))
    assert f"${r.tco_usd:,.0f}" == "$1,790,100"


def test_defaults_and_grid():
    r = EconomicsModel().solve(research_256(), 30)
    assert r.pue == DEFAULT_PUE and close(r.kwh_price.m_as("USD/kWh"), DEFAULT_KWH_PRICE.m) and "default" in r.note
    g = EconomicsModel().solve(research_256(), 30, grid=US_AVG)
    assert g.pue == 1.4 and close(g.kwh_price.m_as("USD/kWh"), 0.08)
    assert EconomicsModel().solve(research_256(), 30, grid=US_AVG, kwh_price=Q_(0.2, "USD/kWh")).kwh_price.m == 0.2


def test_energy_is_the_power_model_energy():
    # one power formula: economics' facility energy == PowerModel's over the same period
    e = EconomicsModel().solve(research_256(), 10, utilization=0.6, pue=1.3, kwh_price=0.1)
    p = PowerModel().solve(research_256(), utilization=0.6, pue=1.3, duration=Q_(10, "day"))
    assert close(e.energy.m_as("kWh"), p.facility_energy.m_as("kWh"))


def test_missing_price():
    fleet = small_cluster(2, accelerator=make_a100(price_usd=None, cloud_price_per_hour=None), host_price="0 USD")
    with pytest.raises(UserInputError):
        EconomicsModel().solve(fleet, 30)
    r = EconomicsModel().solve(fleet, 365, node_price=Q_(100_000, "USD"), amortization_years=4)
    assert close(r.capex_usd, 2 * 100_000 / 4) and math.isnan(r.cloud_cost_usd) and "cloud" in r.note


def test_dimensions():
    r = EconomicsModel().solve(research_256(), 365, kwh_price=0.08)
    assert_dims(r, {"capex_usd": None, "energy_opex_usd": None, "maintenance_usd": None, "tco_usd": None,
                    "tco": "USD", "energy": "kWh", "it_energy": "kWh", "kwh_price": "USD/kWh",
                    "cost_per_accelerator_hour": "USD/hour"})
    assert isinstance(r.tco_usd, float) and r.tco_usd > 0


def test_scalar_equals_core_elementwise():
    fleet = research_256()
    f = fleet_si(fleet)
    days = np.array([1.0, 30.0, 365.0, 1000.0])
    core = economics_si(f["accelerators"], f["nodes"], f["tdp_w"], f["host_power_w"], f["node_price_usd"],
                        days * 86400, DEFAULT_UTILIZATION, 1.2, 0.1 / 3.6e6, 5 * 365 * 86400, 0.1,
                        cloud_usd_per_s=f["cloud_usd_per_s"])
    vec = EconomicsModel().solve(fleet, days, kwh_price=0.1, pue=1.2)
    for i, d in enumerate(days):
        s = EconomicsModel().solve(fleet, float(d), kwh_price=0.1, pue=1.2)
        assert close(s.tco_usd, core["tco_usd"][i]) and close(vec.tco_usd[i], core["tco_usd"][i])
        assert close(s.cloud_cost_usd, core["cloud_cost_usd"][i])


@pytest.mark.parametrize("kw, err", [
    ({"duration_days": 0}, UserInputError), ({"duration_days": Q_(1, "kg")}, UnitError),
    ({"kwh_price": -0.1}, UserInputError), ({"kwh_price": Q_(0.1, "USD/kg")}, UnitError),
    ({"utilization": 2}, UserInputError), ({"pue": 0.5}, UserInputError),
    ({"amortization_years": 0}, UserInputError), ({"maintenance_rate": -0.1}, UserInputError),
    ({"grid": 3}, UserInputError),
])
def test_bad_inputs(kw, err):
    args = {"duration_days": 30, **kw}
    with pytest.raises(err):
        EconomicsModel().solve(research_256(), **args)


def test_result_is_json_ready():
    json.dumps(EconomicsModel().solve(research_256(), 365, kwh_price=0.08).to_dict())
