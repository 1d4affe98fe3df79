"""Domain 5 (ops): what will this fleet cost? Total cost of ownership.

TCO over a period of length T (Barroso, Hoelzle & Ranganathan 2018, "The Datacenter as a
Computer", 3rd ed., chapter "Modeling Costs": amortized capital + operating expenses)::

    capex_usd       = P_hw · T / L                straight-line amortization over service life L
    energy_opex_usd = E_facility · price          E_facility = fleet power x PUE x T (power.py)
    maintenance_usd = P_hw · m · T                m = annual maintenance rate (fraction of P_hw)
    tco_usd         = capex_usd + energy_opex_usd + maintenance_usd

P_hw = node price x node count (``Node.price_usd``, or accelerators x ``HardwareNode.price_usd`` +
``host_price``). The cloud alternative rents every accelerator for the whole period at
``HardwareNode.cloud_price_per_hour`` (NaN when the catalog has no price). Energy comes from
:func:`mlsysim.physics.power.fleet_power_si` -- the same power as the carbon model.

Defaults and their sources:

* service life L = 5 years (``power.SERVICE_LIFE_YEARS``: hyperscaler server depreciation of
  5-6 years in their filings; accelerators age faster);
* maintenance m = 10% of the purchase price per year (hardware support and repair contracts are
  commonly priced at 10-15% of list price per year; the low end, since spares and repairs are
  partly covered by warranty in the first years);
* electricity $0.08/kWh when neither ``kwh_price`` nor a ``grid`` is given (U.S. EIA, Electric Power
  Monthly, Table 5.3: 2023 average retail price to industrial customers ~8.0 cents/kWh);
* PUE: ``pue`` argument, else the grid region's, else 1.58 (Uptime Institute 2023 survey average);
* utilization 0.5 (``power.DEFAULT_UTILIZATION``: 65% of TDP on average, measured training power).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UserInputError
from ..core.units import Q_, U_KWH, U_USD, ureg
from .base import Result, as_unit, to_si, plain
from .inputs import SECONDS_PER_HOUR, SECONDS_PER_YEAR, fraction_si, pue_si, resolve_fleet, resolve_grid, seconds
from .power import DEFAULT_PUE, DEFAULT_UTILIZATION, IDLE_FRACTION, J_PER_KWH, SERVICE_LIFE_YEARS, fleet_power_si, fleet_si

#: Annual maintenance as a fraction of the hardware purchase price (see the module docstring).
DEFAULT_MAINTENANCE_RATE = 0.10
#: Electricity price without a grid: U.S. EIA 2023 average industrial retail price.
DEFAULT_KWH_PRICE = Q_(0.08, "USD/kWh")
DEFAULT_AMORTIZATION_YEARS = SERVICE_LIFE_YEARS
_U_USD_KWH = U_USD / U_KWH
_U_USD_H = U_USD / ureg.hour


def economics_si(accelerators, nodes, tdp_w, host_power_w, node_price_usd, duration_s, utilization, pue,
                 usd_per_j, amortization_s, maintenance_rate, *, idle_fraction=IDLE_FRACTION,
                 cloud_usd_per_s=np.nan) -> dict:
    """Vectorized TCO (USD) over arrays of configurations; energy from ``fleet_power_si``.

    ``maintenance_rate`` is per year. Returns ``hardware_usd``, ``capex_usd``, ``energy_opex_usd``,
    ``maintenance_usd``, ``tco_usd``, ``it_energy_j``, ``facility_energy_j``, ``cloud_cost_usd``
    and ``usd_per_accelerator_hour`` (TCO / accelerator-hours).
    """
    p = fleet_power_si(accelerators, tdp_w, nodes, host_power_w, utilization, pue=pue,
                       idle_fraction=idle_fraction, duration_s=duration_s)
    t = np.asarray(duration_s, dtype=float)
    hw = np.asarray(nodes, dtype=float) * np.asarray(node_price_usd, dtype=float)
    capex = hw * t / np.asarray(amortization_s, dtype=float)
    energy = p["facility_energy_j"] * np.asarray(usd_per_j, dtype=float)
    maint = hw * np.asarray(maintenance_rate, dtype=float) * t / SECONDS_PER_YEAR
    tco = capex + energy + maint
    acc_hours = np.asarray(accelerators, dtype=float) * t / SECONDS_PER_HOUR
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero-length period has no hourly cost
        per_hour = np.where(acc_hours > 0, tco / np.where(acc_hours > 0, acc_hours, 1.0), np.nan)
    cloud = np.asarray(accelerators, dtype=float) * t * np.asarray(cloud_usd_per_s, dtype=float)
    return {"hardware_usd": hw + 0.0 * tco, "capex_usd": capex, "energy_opex_usd": energy, "maintenance_usd": maint,
            "tco_usd": tco, "it_energy_j": p["it_energy_j"], "facility_energy_j": p["facility_energy_j"],
            "cloud_cost_usd": cloud + 0.0 * tco, "usd_per_accelerator_hour": per_hour}


@dataclass
class EconomicsResult(Result):
    """Result of :meth:`EconomicsModel.solve`. ``*_usd`` fields are plain floats in USD."""

    capex_usd: object               # amortized share of the purchase over the period
    energy_opex_usd: object
    maintenance_usd: object
    opex_usd: object                # energy + maintenance
    tco_usd: object
    tco: object                     # the same as a Quantity in USD
    hardware_cost_usd: object       # full purchase price of the fleet
    cloud_cost_usd: object          # renting the same accelerators for the period (NaN if unknown)
    cost_per_accelerator_hour: object  # USD/h
    energy: object                  # kWh, facility (IT x PUE)
    it_energy: object               # kWh
    kwh_price: object               # USD/kWh used
    pue: object
    utilization: object
    amortization_years: object
    maintenance_rate: object
    note: str


class EconomicsModel:
    """CapEx, OpEx and TCO of a fleet (see the module docstring)."""

    def solve(self, fleet, duration_days, kwh_price=None, grid=None, utilization=DEFAULT_UTILIZATION, pue=None,
              amortization_years=DEFAULT_AMORTIZATION_YEARS, maintenance_rate=DEFAULT_MAINTENANCE_RATE,
              node_price=None, idle_fraction=IDLE_FRACTION, datacenter=None) -> EconomicsResult:
        """``fleet``: a ``Cluster`` or its name; ``duration_days``: period (quantity, or plain
        **days**); ``kwh_price``: USD per kWh (quantity or plain number) -- wins over ``grid``'s
        price; ``grid`` (alias ``datacenter``): a ``GridRegion`` or its name, for price and PUE;
        ``utilization``: accelerator utilization in [0, 1]; ``pue``: overrides the grid's;
        ``amortization_years``; ``maintenance_rate``: fraction of the purchase price per year;
        ``node_price``: USD per node, overriding the catalog."""
        fleet = resolve_fleet(fleet)
        f = fleet_si(fleet)
        if grid is None:
            grid = datacenter
        region = resolve_grid(grid) if grid is not None else None
        notes = []
        t = seconds(duration_days, "day", "duration_days")
        u = fraction_si(utilization, "utilization")
        fi = fraction_si(idle_fraction, "idle_fraction")
        if kwh_price is not None:
            usd_per_kwh = to_si(kwh_price, _U_USD_KWH, what="kwh_price", allow_zero=True)
        elif region is not None:
            usd_per_kwh = region.electricity_price.m_as(_U_USD_KWH)
        else:
            usd_per_kwh = DEFAULT_KWH_PRICE.m_as(_U_USD_KWH)
            notes.append(f"electricity: default {DEFAULT_KWH_PRICE:~} (EIA 2023 industrial average)")
        if pue is not None:
            p = pue_si(pue)
        elif region is not None:
            p = region.pue
        else:
            p = DEFAULT_PUE
            notes.append(f"PUE: default {DEFAULT_PUE} (Uptime Institute 2023)")
        amort = seconds(amortization_years, "year", "amortization_years")
        m = to_si(maintenance_rate, ureg.dimensionless, what="maintenance_rate", allow_zero=True)
        if node_price is not None:
            price = to_si(node_price, U_USD, what="node_price", allow_zero=True)
        else:
            price = f["node_price_usd"]
            if not np.isfinite(price):
                raise UserInputError(
                    f"fleet {fleet.name}: no price for node {fleet.node.name} (its accelerator "
                    f"{fleet.hardware.name} has no price_usd and the node no price_usd)",
                    hint="set price_usd in the catalog entry, or pass node_price=Q_(..., 'USD')")
        r = economics_si(f["accelerators"], f["nodes"], f["tdp_w"], f["host_power_w"], price, t, u, p,
                         np.asarray(usd_per_kwh) / J_PER_KWH, amort, m, idle_fraction=fi,
                         cloud_usd_per_s=f["cloud_usd_per_s"])
        if not np.isfinite(f["cloud_usd_per_s"]):
            notes.append(f"cloud alternative: no cloud_price_per_hour for {fleet.hardware.name}")
        tco = plain(r["tco_usd"])
        return EconomicsResult(
            capex_usd=plain(r["capex_usd"]), energy_opex_usd=plain(r["energy_opex_usd"]),
            maintenance_usd=plain(r["maintenance_usd"]),
            opex_usd=plain(r["energy_opex_usd"] + r["maintenance_usd"]), tco_usd=tco, tco=as_unit(tco, U_USD),
            hardware_cost_usd=plain(r["hardware_usd"]), cloud_cost_usd=plain(r["cloud_cost_usd"]),
            cost_per_accelerator_hour=as_unit(plain(r["usd_per_accelerator_hour"]), _U_USD_H),
            energy=as_unit(plain(r["facility_energy_j"] / J_PER_KWH), U_KWH),
            it_energy=as_unit(plain(r["it_energy_j"] / J_PER_KWH), U_KWH),
            kwh_price=as_unit(plain(usd_per_kwh), _U_USD_KWH), pue=plain(p), utilization=plain(u),
            amortization_years=plain(np.asarray(amort) / SECONDS_PER_YEAR), maintenance_rate=plain(m),
            note="; ".join(notes),
        )
