"""Seed-compatible home of the unit helpers: ``from mlsysim.core.constants import Q_``."""
from .units import Q_, ureg  # noqa: F401
