"""Energy validation by basis: measured reports vs TDP-convention reports (``basis`` in
``validation/energy_reports.yaml``). A report whose energy is accelerator-hours x TDP is an
accounting convention, not a measurement; the summary keeps the two apart so the model's error on
measured power is not mixed with the convention's gap (both are in the overall figure)."""
from __future__ import annotations


def energy_by_basis(rows, directory=None) -> dict:
    """{basis: summary} over the energy rows (``summarize`` of each group)."""
    from . import _read, data_dir, summarize

    basis = {r["id"]: r.get("basis", "measured") for r in _read(data_dir(directory) / "energy_reports.yaml")["reports"]}
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(basis.get(r.id, "measured"), []).append(r)
    return {b: summarize(rs) for b, rs in groups.items()}


def format_energy_by_basis(rows, directory=None) -> str:
    return "\n".join(f"  {b:<16} {s['n']:>2} reports: MAE {100 * s['mae']:.1f}%, max {100 * s['max']:.1f}% ({s['worst']}),"
                     f" mean signed {100 * s['mean_signed']:+.1f}%" for b, s in energy_by_basis(rows, directory).items())
