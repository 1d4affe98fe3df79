"""The macro lens: total cost of ownership, energy, carbon and water over the evaluated window."""
from __future__ import annotations

import math
from typing import Optional

from .checks import _fraction, _pos_float
from .metrics import STATUS_PASS, STATUS_WARN
from .results import Lens


def _macro(fleet, grid, days, kwh_price, utilization, rate, notes) -> Lens:
    """TCO from ``EconomicsModel``, energy, carbon and water from ``SustainabilityModel``."""
    from ..core.errors import UserInputError
    from ..physics.economics import EconomicsModel
    from ..physics.sustainability import SustainabilityModel

    import numpy as np

    common = {"fleet": fleet, "duration_days": days}
    if utilization is not None:
        common["utilization"] = _fraction(utilization, "utilization")
    metrics: dict[str, Optional[float]] = dict.fromkeys(
        ("tco_usd", "capex_usd", "opex_usd", "hardware_usd", "energy_kwh", "avg_power_kw", "carbon_kg", "water_l"))
    overflow: list[str] = []

    def mag(name, v, unit):  # _mag, remembering which figures were computed but not finite
        x = _mag(v, unit)
        if x is None and v is not None and name not in overflow:
            overflow.append(name)
        return x

    with np.errstate(all="ignore"):  # non-finite figures are reported in a note, not warned about
        try:
            econ = EconomicsModel().solve(**common, grid=grid,
                                          kwh_price=None if kwh_price is None else _pos_float(kwh_price, "kwh_price"))
        except UserInputError as exc:
            if "no price" not in exc.message:
                raise
            notes.append(f"cost not computed: {exc.message}")
            econ = None
        sus = SustainabilityModel().solve(**common, datacenter=grid) if grid is not None else None
    if econ is not None:
        metrics.update(tco_usd=mag("tco_usd", econ.tco_usd, "USD"), capex_usd=mag("capex_usd", econ.capex_usd, "USD"),
                       opex_usd=mag("opex_usd", econ.opex_usd, "USD"),
                       hardware_usd=mag("hardware_usd", econ.hardware_cost_usd, "USD"),
                       energy_kwh=mag("energy_kwh", econ.energy, "kWh"))
        if econ.note:
            notes.append(f"economics: {econ.note}")
    if sus is not None:
        metrics.update(energy_kwh=mag("energy_kwh", sus.energy, "kWh"),
                       carbon_kg=mag("carbon_kg", sus.carbon_footprint_kg, "kg"), water_l=mag("water_l", sus.water, "L"))
        if sus.note:
            notes.append(f"sustainability: {sus.note}")
    if overflow:
        notes.append(f"macro: {', '.join(overflow)} not finite (the inputs are too large to compute with); "
                     "reported as null")
    if metrics["energy_kwh"] is not None:
        metrics["avg_power_kw"] = metrics["energy_kwh"] / (days * 24.0)
    elif fleet.hardware.tdp is None:
        notes.append(f"energy and carbon not computed: {fleet.hardware.name} has no published TDP in the catalog")
    tokens = rate.get("tokens_per_s")
    tco = metrics.get("tco_usd")
    if tokens and tco is not None:
        metrics["usd_per_million_tokens"] = tco / (tokens * days * 86400.0) * 1e6
    missing = [k for k in ("tco_usd", "carbon_kg", "energy_kwh") if metrics.get(k) is None]
    details = {"duration_days": days, "grid": grid.key if grid is not None else None,
               "source": "EconomicsModel + SustainabilityModel"}
    return Lens("macro", STATUS_WARN if missing else STATUS_PASS, metrics, details)


def _mag(v, unit) -> Optional[float]:
    """A quantity in ``unit`` (or a plain number taken as already in it) as a float; None stays None."""
    if v is None:
        return None
    import pint

    if isinstance(v, pint.Quantity):
        try:
            x = float(v.m_as(unit))
        except pint.DimensionalityError:
            return None
    else:
        try:
            x = float(v)
        except (TypeError, ValueError):
            return None
    return x if math.isfinite(x) else None
