"""The one pint unit registry of mlsysim.

Every quantity in the package is built from ``ureg`` (``Q_`` is its Quantity class), so any two
quantities can be combined and dimension mistakes raise ``pint.DimensionalityError``.

Units added to pint's defaults:

* ``FLOP`` (alias ``flop``, plural ``FLOPs``, prefixed ``TFLOP``, ``PFLOP`` ...) -- a floating-point
  operation, its own base dimension ``[compute]``. ``OP`` (integer operation, for int8 TOPS) is
  the same dimension, so roofline arithmetic treats int8 ops like FLOPs.
* ``token``, ``sample``, ``request`` -- counting units with their own dimensions, so "ms/token"
  and "samples/s" keep their meaning.
* ``USD`` (alias ``dollar``) -- currency, dimension ``[currency]``.
* ``gCO2e``, ``kgCO2e``, ``tCO2e`` -- CO2-equivalent mass. They are defined *as mass* (gram,
  kilogram, tonne) so that a constraint such as ``carbon <= 500 t`` works; the name records that
  the mass is CO2-equivalent.

Hot paths never parse unit strings: they use the pre-built unit objects at the bottom of this file.
"""
from __future__ import annotations

import pathlib
import re

import pint


def _definitions() -> list[str]:
    """pint's default definitions with one change: ``bit`` gets its own dimension
    ``[information]`` (pint makes it dimensionless), so "80 GB" is never mistaken for a plain
    number and GB/s never converts to Hz."""
    here = pathlib.Path(pint.__file__).parent
    lines: list[str] = []
    for line in (here / "default_en.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() == "@import constants_en.txt":
            lines += (here / "constants_en.txt").read_text(encoding="utf-8").splitlines()
        elif line.strip() == "bit = []":
            lines.append("bit = [information]")
        else:
            lines.append(line)
    return lines


def _registry() -> pint.UnitRegistry:
    """Build the registry; pint's parsed definitions are cached on disk (``$MLSYSIM_CACHE_DIR``,
    default ``~/.cache/mlsysim``), which cuts start-up from ~0.4 s to ~0.05 s. Without a writable
    cache folder it is built from the definitions in memory."""
    import os

    cache = pathlib.Path(os.environ.get("MLSYSIM_CACHE_DIR") or pathlib.Path.home() / ".cache" / "mlsysim")
    defs = cache / f"pint-{pint.__version__}-definitions.txt"
    try:
        if not defs.exists():
            cache.mkdir(parents=True, exist_ok=True)
            tmp = defs.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text("\n".join(_definitions()) + "\n", encoding="utf-8")
            tmp.replace(defs)
        return pint.UnitRegistry(str(defs), cache_folder=str(cache / "pint-cache"),
                                 autoconvert_offset_to_baseunit=True)
    except OSError:
        reg = pint.UnitRegistry(None, cache_folder=None, autoconvert_offset_to_baseunit=True)
        reg.load_definitions(_definitions())
        return reg


ureg = _registry()
for _definition in (
    "FLOP = [compute] = FLOP = flop",
    "OP = FLOP = OP = op",
    "token = [token] = token = tok",
    "sample = [sample] = sample = img = image",
    "request = [request] = request = req",
    "USD = [currency] = USD = dollar = usd",
    "gCO2e = gram",
    "kgCO2e = kilogram",
    "tCO2e = metric_ton",
    "MTCO2e = 1e6 * metric_ton",
):
    ureg.define(_definition)
ureg.formatter.default_format = "~P"
pint.set_application_registry(ureg)

Q_ = ureg.Quantity
Quantity = ureg.Quantity
DimensionalityError = pint.DimensionalityError

# Pre-built unit objects (SI base magnitudes are what the vectorized cores use).
U_S = ureg.second
U_MS = ureg.millisecond
U_BYTE = ureg.byte
U_FLOP = ureg.FLOP
U_FLOP_S = ureg.FLOP / ureg.second
U_BYTE_S = ureg.byte / ureg.second
U_W = ureg.watt
U_J = ureg.joule
U_KWH = ureg.kilowatt_hour
U_USD = ureg.USD
U_KG = ureg.kilogram
U_L = ureg.liter
U_TOKEN = ureg.token
U_SAMPLE = ureg.sample
U_REQUEST = ureg.request
U_HOUR = ureg.hour
U_DAY = ureg.day
DIMENSIONLESS = ureg.dimensionless
# Display units (results are built directly in these, never converted in a hot path).
U_GB = ureg.gigabyte
U_SAMPLE_S = ureg.sample / ureg.second
U_TOKEN_S = ureg.token / ureg.second
U_FLOP_PER_BYTE = ureg.FLOP / ureg.byte


def parse_quantity(value, *, expected: str | None = None, what: str = "value") -> pint.Quantity:
    """Turn ``"80 GB"``, ``{"value": 80, "unit": "GB"}``, a number plus ``expected`` unit, or a
    Quantity into a Quantity; when ``expected`` is given the result must share its dimension.

    Raises ``mlsysim.core.errors.UnitError`` with a message naming ``what`` on failure.
    """
    from .errors import UnitError

    try:
        if isinstance(value, pint.Quantity):
            q = value if value._REGISTRY is ureg else Q_(value.magnitude, str(value.units))
        elif isinstance(value, dict):
            if "value" not in value or "unit" not in value:
                raise UnitError(f"{what}: a quantity mapping needs 'value' and 'unit' keys, got {sorted(value)}")
            q = Q_(float(value["value"]), str(value["unit"]))
        elif isinstance(value, str):
            if not any(c.isdigit() for c in value) and not re.search(r"nan|inf", value, re.I):
                raise UnitError(f"{what}: {value!r} has no number; write a number with its unit, e.g. '80 GB'")
            q = ureg(value.strip())
            if not isinstance(q, pint.Quantity):
                q = Q_(float(q), expected or "")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if expected is None:
                q = Q_(float(value), "")
            else:
                q = Q_(float(value), expected)
        else:
            raise UnitError(f"{what}: expected a quantity such as '80 GB', got {value!r}")
    except UnitError:
        raise
    except Exception as exc:  # pint's parser of user text raises many types (TokenError, ZeroDivisionError ...)
        raise UnitError(f"{what}: cannot read {value!r} as a quantity ({type(exc).__name__}: {exc})") from None
    if isinstance(value, str) and isinstance(q.magnitude, int):  # "2**2000 GB": an int no float can hold
        try:
            q = Q_(float(q.magnitude), q.units)
        except OverflowError:
            raise UnitError(f"{what}: {value!r} is too large") from None
    if expected is not None and not q.is_compatible_with(expected):
        raise UnitError(
            f"{what}: {value!r} has units of {q.dimensionality}, but {expected!r} "
            f"({ureg(expected).dimensionality if expected else 'dimensionless'}) is expected"
        )
    return q


def si(q: pint.Quantity, unit) -> float:
    """Magnitude of ``q`` in ``unit`` (a pre-built unit object), as a float."""
    return float(q.m_as(unit))
