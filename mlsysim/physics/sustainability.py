"""Domain 5 (ops): where should I train to minimize carbon? Energy, carbon and water of a fleet.

* energy: IT power and facility power (x PUE) over the period, from
  :func:`mlsysim.physics.power.fleet_power_si` (the same power as the economics model);
* operational carbon = IT energy x PUE x grid carbon intensity (Patterson et al. 2021, "Carbon
  Emissions and Large Neural Network Training", arXiv:2104.10350, Sec. 2; Faiz et al. 2024,
  "LLMCarbon: Modeling the End-to-End Carbon Footprint of Large Language Models", ICLR, Eq. for
  operational carbon);
* embodied carbon = accelerators x embodied carbon per accelerator (``HardwareNode.embodied_carbon``)
  x period / service life -- the period's linear share of the manufacturing footprint (Gupta et
  al. 2022, "ACT: Designing Sustainable Computer Systems with an Architectural Carbon Modeling
  Tool", ISCA; LLMCarbon). 0, with a note, when the catalog has no figure for the accelerator;
  host CPUs, memory and networking embodied carbon are not included;
* water = WUE x IT energy (site water for cooling; WUE is defined per IT kWh, The Green Grid 2011,
  "Water Usage Effectiveness (WUE)", WP #35), plus optionally the off-site water consumed to
  generate the electricity, facility energy x ``offsite_water_intensity`` (Li et al. 2023, "Making
  AI Less 'Thirsty'", arXiv:2304.03271, who put U.S. average electricity water intensity at a few
  L/kWh).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UnknownNameError, UserInputError
from ..core.units import U_KG, U_KWH, U_L, ureg
from .base import Result, as_unit, to_si, plain
from .inputs import SECONDS_PER_YEAR, fraction_si, pue_si, resolve_fleet, resolve_grid, seconds
from .power import DEFAULT_UTILIZATION, IDLE_FRACTION, J_PER_KWH, SERVICE_LIFE_YEARS, fleet_power_si, fleet_si

#: Grid used when no ``datacenter`` is given (catalog key).
DEFAULT_GRID = "US_Avg"
DEFAULT_EMBODIED_LIFETIME_YEARS = SERVICE_LIFE_YEARS
_U_G_KWH = ureg.gram / U_KWH
_U_L_KWH = U_L / U_KWH


def sustainability_si(accelerators, nodes, tdp_w, host_power_w, duration_s, utilization, pue, kg_per_j, l_per_j,
                      embodied_kg_per_accelerator=0.0, lifetime_s=SERVICE_LIFE_YEARS * SECONDS_PER_YEAR, *,
                      offsite_l_per_j=0.0, idle_fraction=IDLE_FRACTION) -> dict:
    """Vectorized energy (J), carbon (kg CO2e) and water (L) over arrays of configurations."""
    p = fleet_power_si(accelerators, tdp_w, nodes, host_power_w, utilization, pue=pue,
                       idle_fraction=idle_fraction, duration_s=duration_s)
    operational = p["facility_energy_j"] * np.asarray(kg_per_j, dtype=float)
    embodied = (np.asarray(accelerators, dtype=float) * np.asarray(embodied_kg_per_accelerator, dtype=float)
                * np.asarray(duration_s, dtype=float) / np.asarray(lifetime_s, dtype=float))
    onsite = p["it_energy_j"] * np.asarray(l_per_j, dtype=float)
    offsite = p["facility_energy_j"] * np.asarray(offsite_l_per_j, dtype=float)
    return {"it_energy_j": p["it_energy_j"], "facility_energy_j": p["facility_energy_j"],
            "operational_carbon_kg": operational, "embodied_carbon_kg": embodied + 0.0 * operational,
            "carbon_kg": operational + embodied, "onsite_water_l": onsite, "offsite_water_l": offsite + 0.0 * onsite,
            "water_l": onsite + offsite}


@dataclass
class SustainabilityResult(Result):
    """Result of :meth:`SustainabilityModel.solve`. ``*_kg`` fields are plain floats in kg CO2e."""

    energy: object                  # kWh, facility (IT x PUE)
    it_energy: object               # kWh
    carbon_footprint_kg: object     # operational + embodied
    operational_carbon_kg: object
    embodied_carbon_kg: object
    carbon_footprint: object        # Quantity, kg CO2e
    water: object                   # L, site (WUE x IT energy) + off-site if requested
    onsite_water: object            # L
    offsite_water: object           # L
    pue: object
    carbon_intensity: object        # gCO2e/kWh used
    region: str
    utilization: object
    note: str


class SustainabilityModel:
    """Energy, carbon (operational + embodied) and water of running a fleet (see the module docstring)."""

    def solve(self, fleet, duration_days, datacenter=None, utilization=DEFAULT_UTILIZATION, pue=None,
              embodied_lifetime_years=DEFAULT_EMBODIED_LIFETIME_YEARS, include_embodied=True,
              offsite_water_intensity=0.0, idle_fraction=IDLE_FRACTION, grid=None) -> SustainabilityResult:
        """``fleet``: a ``Cluster`` or its name; ``duration_days``: quantity or plain **days**;
        ``datacenter`` (alias ``grid``): a ``GridRegion`` or its name (default: the catalog's
        ``US_Avg``); ``utilization`` in [0, 1]; ``pue`` overrides the region's;
        ``embodied_lifetime_years``: service life the embodied carbon is spread over;
        ``offsite_water_intensity``: L/kWh of electricity generated (quantity or plain L/kWh, default 0)."""
        fleet = resolve_fleet(fleet)
        f = fleet_si(fleet)
        dc = datacenter if datacenter is not None else grid
        notes = []
        if dc is None:
            try:
                region = resolve_grid(DEFAULT_GRID)
            except UnknownNameError:
                raise UserInputError("datacenter: required (the catalog has no default grid region "
                                     f"{DEFAULT_GRID!r})", hint="pass datacenter=mlsysim.Infra.Grids.<Region>") from None
            notes.append(f"datacenter: default {region.name}")
        else:
            region = resolve_grid(dc, "datacenter")
        g = region.si
        t = seconds(duration_days, "day", "duration_days")
        u = fraction_si(utilization, "utilization")
        fi = fraction_si(idle_fraction, "idle_fraction")
        p = pue_si(pue) if pue is not None else region.pue
        life = seconds(embodied_lifetime_years, "year", "embodied_lifetime_years")
        ewif = to_si(offsite_water_intensity, _U_L_KWH, what="offsite_water_intensity", allow_zero=True)
        embodied = f["embodied_kg"]
        if not include_embodied:
            embodied = 0.0
            notes.append("embodied carbon excluded")
        elif not np.isfinite(embodied):
            embodied = 0.0
            notes.append(f"embodied carbon: unknown for {fleet.hardware.name} (counted as 0)")
        r = sustainability_si(f["accelerators"], f["nodes"], f["tdp_w"], f["host_power_w"], t, u, p, g["kg_per_j"],
                              g["l_per_j"], embodied, life, offsite_l_per_j=np.asarray(ewif) / J_PER_KWH,
                              idle_fraction=fi)
        carbon = plain(r["carbon_kg"])
        return SustainabilityResult(
            energy=as_unit(plain(r["facility_energy_j"] / J_PER_KWH), U_KWH),
            it_energy=as_unit(plain(r["it_energy_j"] / J_PER_KWH), U_KWH),
            carbon_footprint_kg=carbon, operational_carbon_kg=plain(r["operational_carbon_kg"]),
            embodied_carbon_kg=plain(r["embodied_carbon_kg"]), carbon_footprint=as_unit(carbon, U_KG),
            water=as_unit(plain(r["water_l"]), U_L), onsite_water=as_unit(plain(r["onsite_water_l"]), U_L),
            offsite_water=as_unit(plain(r["offsite_water_l"]), U_L), pue=plain(p),
            carbon_intensity=as_unit(region.carbon_intensity.m_as(_U_G_KWH), _U_G_KWH),
            region=region.name, utilization=plain(u), note="; ".join(notes),
        )
