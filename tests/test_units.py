"""Unit algebra of mlsysim's single pint registry, and parse_quantity's error messages."""
import pint
import pytest

import mlsysim
from mlsysim.core.errors import UnitError, UserInputError
from mlsysim.core.units import Q_, parse_quantity, ureg


def test_compound_efficiency_unit_parses():
    # Seed s11: flops_per_watt.to("TFLOPs/s/kW").
    unit = ureg("TFLOPs/s/kW")
    assert unit.is_compatible_with("FLOP/s/W")
    h100 = mlsysim.Hardware.Cloud.H100
    eff = (h100.compute.peak_flops / h100.tdp).to("TFLOPs/s/kW")
    # 989.4 TFLOP/s / 0.7 kW = 1413.43 TFLOP/s per kW
    assert eff.magnitude == pytest.approx(989.4 / 0.7, rel=1e-9)


def test_gb_vs_gib():
    assert Q_("1 GiB").to("GB").magnitude == pytest.approx(1.073741824)   # 2**30 / 1e9
    assert Q_("80 GB").to("GiB").magnitude == pytest.approx(80e9 / 2**30)  # 74.506 GiB
    assert Q_("1 KiB").to("B").magnitude == 1024
    assert Q_("1 kB").to("B").magnitude == 1000


def test_bit_vs_byte():
    # 400 Gbit/s NDR port = 50 GB/s; an 8x error if bits and bytes are confused.
    assert Q_("400 Gbit/s").to("GB/s").magnitude == pytest.approx(50.0)
    assert Q_("1 byte").to("bit").magnitude == 8
    # "Gb" is a gilbert (magnetomotive force) in pint, not a gigabit: catalogs must write "Gbit".
    assert not Q_("1 Gb").is_compatible_with("bit")
    with pytest.raises(UnitError):
        parse_quantity("400 Gb/s", expected="byte/s")


def test_carbon_units_are_masses():
    assert Q_("1.5 tCO2e").to("kgCO2e").magnitude == pytest.approx(1500)
    assert Q_("1 kgCO2e").to("kilogram").magnitude == pytest.approx(1)
    assert Q_("500 gCO2e/kWh").is_compatible_with("kg/J")
    # 366 g/kWh x 1 MWh = 366 kg
    assert (Q_("366 gCO2e/kWh") * Q_("1 MWh")).to("kgCO2e").magnitude == pytest.approx(366)


def test_usd_per_hour():
    rate = Q_("12.29 USD/hour")
    assert (rate * Q_("24 hour")).to("USD").magnitude == pytest.approx(294.96)
    assert rate.to("USD/s").magnitude == pytest.approx(12.29 / 3600)
    assert not Q_("1 USD").is_compatible_with("kg")


def test_counting_units_keep_their_meaning():
    assert Q_("30 ms/token").is_compatible_with("s/token")
    assert not Q_("30 ms/token").is_compatible_with("s")
    assert Q_("1 TOP/s").to("TFLOP/s").magnitude == 1  # int8 ops share the FLOP dimension


def test_seed_dimensionality_errors():
    # Seed s10: "These raise DimensionalityError -- caught before producing a bad number".
    hw = mlsysim.Hardware.Cloud.A100
    ridge = (hw.compute.peak_flops / hw.memory.bandwidth).to("FLOP/byte")
    assert ridge.magnitude == pytest.approx(312e12 / 2039e9)  # 153.0 FLOP/byte
    with pytest.raises(pint.DimensionalityError):
        hw.memory.bandwidth + hw.compute.peak_flops
    with pytest.raises(pint.DimensionalityError):
        hw.memory.bandwidth.to("FLOP/s")
    assert mlsysim.core.units.DimensionalityError is pint.DimensionalityError


def test_parse_quantity_accepts_strings_dicts_numbers_and_quantities():
    assert parse_quantity("80 GB", expected="byte").to("GB").magnitude == 80
    assert parse_quantity({"value": 3.35, "unit": "TB/s"}, expected="byte/s").to("GB/s").magnitude == pytest.approx(3350)
    assert parse_quantity(700, expected="W").to("W").magnitude == 700
    q = Q_(5, "us")
    assert parse_quantity(q, expected="s") is q


@pytest.mark.parametrize("value, expected, fragment", [
    ("80 ms", "byte", "is expected"),                  # wrong dimension
    ("80 furlongs_per_fortnight", "byte", "cannot read"),  # undefined unit
    ({"value": 80}, "byte", "'value' and 'unit'"),     # incomplete mapping
    (None, "byte", "expected a quantity"),             # not a quantity at all
    (True, "byte", "expected a quantity"),             # bool is not a number here
])
def test_parse_quantity_errors_are_unit_errors(value, expected, fragment):
    with pytest.raises(UnitError) as err:
        parse_quantity(value, expected=expected, what="memory.capacity")
    assert "memory.capacity" in str(err.value)
    assert fragment in str(err.value)
    assert isinstance(err.value, UserInputError) and err.value.exit_code == 2
