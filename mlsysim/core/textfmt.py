"""Plain-text helpers shared by the CLI and the reports (no third-party imports)."""
from __future__ import annotations

import math
from typing import Optional, Sequence


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] = ()) -> str:
    def esc(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    heads = [esc(h) for h in headers]
    align = ["---:" if (i < len(right) and right[i]) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(heads) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def fmt_number(x: Optional[float]) -> str:
    """A number with about four significant figures and thousands separators; no truncation."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1e15 or a < 1e-3:
        return f"{x:.3e}"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 10:
        return f"{x:.2f}"
    if a >= 1:
        return f"{x:.3f}"
    return f"{x:.4f}"
