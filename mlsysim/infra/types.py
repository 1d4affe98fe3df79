"""Layer C: electricity grids and datacenter sites."""
from __future__ import annotations

from functools import cached_property
from typing import Optional

from pydantic import Field

from ..core.fields import CatalogEntry, Quantity
from ..core.units import ureg


class GridRegion(CatalogEntry):
    """A grid region as a datacenter site: carbon intensity of its electricity, its price, and a
    typical PUE (power usage effectiveness) and WUE (water usage effectiveness) for sites there."""

    country: str
    carbon_intensity: Quantity("gCO2e/kWh", allow_zero=True)
    electricity_price: Quantity("USD/kWh")
    pue: float = Field(ge=1.0, le=3.0, description="facility power / IT power")
    wue: Quantity("L/kWh", allow_zero=True) = Field(description="site water per IT kWh")

    @cached_property
    def si(self) -> dict:
        return {"kg_per_j": self.carbon_intensity.m_as(ureg.kilogram / ureg.joule),
                "usd_per_j": self.electricity_price.m_as(ureg.USD / ureg.joule),
                "pue": self.pue, "l_per_j": self.wue.m_as(ureg.liter / ureg.joule)}


Datacenter = GridRegion
