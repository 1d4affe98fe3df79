"""Plain JSON values: non-finite numbers become null, numpy scalars plain numbers."""
from __future__ import annotations

import math
from typing import Mapping


def _clean(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        x = float(v)
        if not math.isfinite(x):
            return None
        return int(v) if isinstance(v, int) else x
    try:
        return _clean(float(v))
    except (TypeError, ValueError):
        return v


def _jsonable(v):
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, bool)) or v is None:
        return v
    if isinstance(v, (int, float)):
        return _clean(v)
    try:
        import numpy as np
        if isinstance(v, np.generic):
            return _clean(v.item())
    except ImportError:  # pragma: no cover
        pass
    return str(v)
