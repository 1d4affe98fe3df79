"""Domain 5 (ops): electrical power and energy of a fleet -- the one place this formula lives.

Economics (energy OpEx) and sustainability (operational carbon, water) both call
:func:`fleet_power_si`, so cost, carbon and water always share the same power assumptions.

Model (linear energy-proportionality, Barroso & Hoelzle 2007, "The Case for Energy-Proportional
Computing", IEEE Computer 40(12); Barroso, Hoelzle & Ranganathan 2018, "The Datacenter as a
Computer", 3rd ed., ch. 5)::

    P_acc      = TDP * (f_idle + u * (1 - f_idle))         one accelerator at utilization u
    P_IT       = n_acc * P_acc + n_nodes * P_host          host CPUs, DRAM, NICs, fans per node
    P_facility = P_IT * PUE                                cooling and power delivery (The Green Grid 2007)
    E          = P * t

``u`` is the fraction of the accelerator's dynamic power range in use (0 = allocated but idle,
1 = at TDP); ``P_host`` is ``Node.host_power`` (the node's power beyond its accelerators).

This module also holds the small input helpers the ops models share (catalog resolution,
fractions, durations, fleet magnitudes).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import Q_, U_HOUR, U_J, U_KG, U_KWH, ureg
from .base import Result, as_unit, plain
from .inputs import SECONDS_PER_HOUR, fraction_si, pue_si, resolve_fleet, resolve_grid, seconds

# ---------------------------------------------------------------------------------------------
# Documented defaults
# ---------------------------------------------------------------------------------------------
#: Power of an allocated but idle accelerator as a fraction of TDP ("hot idle": CUDA context
#: open, clocks up, waiting on data or communication). A bare idle H100/H200 draws ~70-100 W of
#: 700 W (10-15%); opening a CUDA context alone adds 26-50 W on HBM GPUs through a DVFS state change
#: (arXiv:2605.23918, "The Model Parking Tax", measured on H100/A100/L40S), and an accelerator
#: between kernels of a running job sits higher still. 0.30 is an assumed mid-high value for a
#: training fleet whose accelerators stay allocated; Barroso & Hoelzle (2007) report servers
#: idling at ~50% of peak, the classic statement of poor energy proportionality.
IDLE_FRACTION = 0.30

#: Default accelerator utilization for fleet energy: the fraction of the dynamic power range
#: (TDP - idle) in use, averaged over a training run. With ``IDLE_FRACTION`` an accelerator then
#: draws 0.3 + 0.7 x 0.5 = 65% of TDP on average. Measured averages of large training runs sit
#: at 60-70% of TDP, well below the TDP-times-hours accounting many reports use:
#: Morrison et al. 2025 ("Holistically Evaluating the Environmental Impact of Creating Language
#: Models", ICLR; sub-second power logs of OLMo training on H100) see power fluctuate between 15%
#: and 85% of the hardware's maximum, never at it; Latif et al. 2024 (arXiv:2412.08602) measure an
#: 8x H100 node training Llama-2-13B at a *peak* of 8.4 kW, 18% below its 10.2 kW rating; Patterson
#: et al. 2021 (Table 4) measured 245-310 W per TPU v3 (450 W TDP) including the host, i.e.
#: 54-69%, and 330 W per V100 (300 W) for GPT-3 including a DGX-1-class host share of ~140 W,
#: i.e. ~64% for the GPU itself. (Patterson's runs are also in the energy validation table, so
#: this choice is not independent of it: see docs/validation.md.) Peak demand for capacity
#: planning is higher: pass ``utilization=1`` for TDP.
DEFAULT_UTILIZATION = 0.5

#: PUE used when neither ``pue`` nor a grid region is given: the industry-average annual PUE of
#: 1.58 reported by the Uptime Institute Global Data Center Survey 2023 (hyperscale sites reach
#: ~1.1, e.g. Google's 2023 fleet-wide trailing-twelve-month PUE of 1.10).
DEFAULT_PUE = 1.58

#: Service life of fleet hardware, used both to amortize its price (economics) and its embodied
#: carbon (sustainability). Hyperscalers depreciate servers over 5-6 years in their financial
#: filings (Microsoft moved from 4 to 6 years in fiscal 2023, Alphabet to 6 years in 2023);
#: accelerators are superseded faster, so 5 years. ACT (Gupta et al. 2022) and LLMCarbon (Faiz et
#: al. 2024) likewise amortize embodied carbon linearly over the hardware's service life.
SERVICE_LIFE_YEARS = 5.0

#: Default length of the energy window of :class:`PowerModel` (energy per hour).
DEFAULT_DURATION = Q_(1.0, "hour")

_J_PER_KWH = Q_(1.0, U_KWH).m_as(U_J)
_U_KW = ureg.kilowatt


def fleet_si(fleet) -> dict:
    """SI magnitudes of a cluster that the ops models need (one dict, no pint)."""
    node = fleet.node
    hw = node.accelerator.si
    ns = node.si
    embodied = node.accelerator.embodied_carbon
    return {
        "accelerators": float(fleet.total_accelerators),
        "nodes": float(fleet.node_count),
        "accelerators_per_node": float(node.accelerators_per_node),
        "tdp_w": hw["tdp"],
        "host_power_w": ns["host_power"],
        "node_price_usd": ns["price_usd"],
        "cloud_usd_per_s": hw["cloud_usd_per_s"],
        "embodied_kg": embodied.m_as(U_KG) if embodied is not None else float("nan"),
        "node_mtbf_s": ns["mtbf_s"],
    }


# ---------------------------------------------------------------------------------------------
# Vectorized core
# ---------------------------------------------------------------------------------------------
def accelerator_power_si(tdp_w, utilization, idle_fraction=IDLE_FRACTION):
    """Power of one accelerator (W): TDP * (f_idle + u * (1 - f_idle))."""
    tdp_w = np.asarray(tdp_w, dtype=float)
    u = np.asarray(utilization, dtype=float)
    f = np.asarray(idle_fraction, dtype=float)
    return tdp_w * (f + u * (1.0 - f))


def fleet_power_si(accelerators, tdp_w, nodes, host_power_w, utilization, *, pue=1.0,
                   idle_fraction=IDLE_FRACTION, duration_s=0.0) -> dict:
    """Fleet power and energy over arrays of configurations (W, J).

    Returns ``accelerator_power_w`` (all accelerators), ``host_power_w`` (all hosts),
    ``it_power_w``, ``facility_power_w`` (x PUE), ``it_energy_j`` and ``facility_energy_j``
    (power x ``duration_s``).
    """
    acc = np.asarray(accelerators, dtype=float) * accelerator_power_si(tdp_w, utilization, idle_fraction)
    host = np.asarray(nodes, dtype=float) * np.asarray(host_power_w, dtype=float)
    it = acc + host
    facility = it * np.asarray(pue, dtype=float)
    t = np.asarray(duration_s, dtype=float)
    return {"accelerator_power_w": acc, "host_power_w": host + 0.0 * acc, "it_power_w": it,
            "facility_power_w": facility, "it_energy_j": it * t, "facility_energy_j": facility * t}


# ---------------------------------------------------------------------------------------------
# Public model
# ---------------------------------------------------------------------------------------------
@dataclass
class PowerResult(Result):
    """Result of :meth:`PowerModel.solve`."""

    accelerator_power: object   # W, all accelerators
    host_power: object          # W, all hosts
    it_power: object            # W
    facility_power: object      # W, IT x PUE
    it_energy: object           # kWh over ``duration``
    facility_energy: object     # kWh over ``duration``
    duration: object            # h
    utilization: object         # fraction
    idle_fraction: object
    pue: object


class PowerModel:
    """Fleet IT and facility power from accelerator utilization (see the module docstring)."""

    def solve(self, fleet, utilization=DEFAULT_UTILIZATION, duration=DEFAULT_DURATION, pue=None, grid=None,
              idle_fraction=IDLE_FRACTION) -> PowerResult:
        """Power of ``fleet`` (a ``Cluster`` or its catalog name) at ``utilization`` in [0, 1].

        ``duration`` (quantity, or plain hours) sets the energy window (default 1 h). ``pue`` wins
        over the ``grid`` region's PUE; with neither, ``DEFAULT_PUE`` (1.58, Uptime Institute 2023).
        """
        fleet = resolve_fleet(fleet)
        f = fleet_si(fleet)
        u = fraction_si(utilization, "utilization")
        fi = fraction_si(idle_fraction, "idle_fraction")
        t = seconds(duration, "hour", "duration", allow_zero=True)
        if pue is not None:
            p = pue_si(pue)
        elif grid is not None:
            p = resolve_grid(grid).pue
        else:
            p = DEFAULT_PUE
        r = fleet_power_si(f["accelerators"], f["tdp_w"], f["nodes"], f["host_power_w"], u, pue=p,
                           idle_fraction=fi, duration_s=t)
        return PowerResult(
            accelerator_power=as_unit(plain(r["accelerator_power_w"] / 1e3), _U_KW),
            host_power=as_unit(plain(r["host_power_w"] / 1e3), _U_KW),
            it_power=as_unit(plain(r["it_power_w"] / 1e3), _U_KW),
            facility_power=as_unit(plain(r["facility_power_w"] / 1e3), _U_KW),
            it_energy=as_unit(plain(r["it_energy_j"] / _J_PER_KWH), U_KWH),
            facility_energy=as_unit(plain(r["facility_energy_j"] / _J_PER_KWH), U_KWH),
            duration=as_unit(plain(np.asarray(t) / SECONDS_PER_HOUR), U_HOUR),
            utilization=plain(u), idle_fraction=plain(fi), pue=plain(p),
        )


J_PER_KWH = _J_PER_KWH
