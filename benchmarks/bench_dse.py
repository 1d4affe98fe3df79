"""Speed and front quality of the DSE backends on the real parallelism space.

Llama-3-70B trained on up to 64 DGX H100 nodes (512 GPUs, InfiniBand NDR), global batch 4096 x
2048 tokens, over ``search_spaces/parallelism.yaml`` restricted as ``mlsysim optimize parallelism``
does (nodes <= 64, ep = 1 for a dense model): 145,152 raw points, 52,752 valid (the rules),
23,687 feasible (they fit in memory).

Prints, without assertions:

1. the exhaustive evaluation rate (one core, Pareto extraction included) on that space and on the
   unrestricted YAML space (1,886,976 raw points);
2. for optuna (TPE, NSGA-II, random) and pymoo (NSGA-II, NSGA-III): proposals/s and unique
   evaluations/s, and the hypervolume ratio, IGD+ and share of the exact front's points found
   against the exhaustive front, at budgets of 1%, 5% and 10% of the *valid* space (52,752 points;
   capped at 20,000), for two objective sets:

   * ``default`` -- max tokens_per_s vs min gpu_hours_per_Mtoken (the `optimize parallelism`
     default). Its exact front has only 3 points (one split on 16/32/64 nodes), so coverage moves
     in steps of 1/3 and the front's narrow span (0.223-0.234 GPU-h per Mtoken) makes the
     normalized hypervolume all-or-nothing;
   * ``cost-memory`` -- min gpu_hours_per_Mtoken vs min memory_per_device: what does memory
     headroom (for longer sequences, fragmentation, a smaller GPU) cost per token? 35 exact
     front points (with the physics of this writing) from 4.7 GB / 0.94 GPU-h to 74 GB / 0.223
     GPU-h: a real trade-off, where coverage is meaningful (tests/test_dse_quality.py asserts both).

Budgets count *proposals* (optuna trials, pymoo evaluations); "unique" counts the distinct valid
configurations the physics evaluated (optimizers re-propose, answered from a cache).

Run: ``python benchmarks/bench_dse.py`` (~2 min), ``--quick`` (~20 s: cost-memory only,
1% and 5%, no TPE), ``--seeds 10`` for the distribution over seeds (min / median and how many seeds
meet HV >= 0.95 and coverage >= 0.5), ``--tpe-all`` to run TPE at every budget (MOTPE costs
~0.3 s per trial at 2,600 trials here: 5% takes ~13 min).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

BUDGET_SHARES = (0.01, 0.05, 0.10)
BUDGET_CAP = 20_000
SAMPLERS = (("optuna", "tpe"), ("optuna", "nsga2"), ("optuna", "random"), ("pymoo", "nsga2"), ("pymoo", "nsga3"))
OBJECTIVE_SETS = {
    "default": ["maximize: tokens_per_s", "minimize: gpu_hours_per_Mtoken"],
    "cost-memory": ["minimize: gpu_hours_per_Mtoken", "minimize: memory_per_device"],
}
HV_BAR, COVERAGE_BAR = 0.95, 0.5


def parallelism_setup():
    """(problem, preset space, full YAML space) for Llama-3-70B on 64 x DGX H100."""
    import mlsysim
    from mlsysim.dse.presets import spaces_dir
    from mlsysim.dse.problems import ParallelismProblem
    from mlsysim.dse.space import SearchSpace
    from mlsysim.systems.fleet import fleet_for

    problem = ParallelismProblem(mlsysim.Models.Llama3_70B, fleet_for(mlsysim.Hardware.H100, 64),
                                 global_batch=4096, seq_len=2048)
    full = SearchSpace.from_yaml(spaces_dir() / "parallelism.yaml")
    space = full.restrict("nodes", [1, 2, 4, 8, 16, 32, 64]).restrict("ep", [1])
    return problem, space, full


def exhaustive_rate(problem, space, objectives, repeats: int = 5) -> dict:
    """Best-of-``repeats`` wall time of a whole exhaustive DSE.run (bind, enumerate, rules, physics, Pareto,
    winner, result) and of the backend alone (enumerate, rules, physics, Pareto)."""
    from mlsysim.dse import DSE
    from mlsysim.dse.backends.base import get_backend

    dse = DSE(space, objectives=objectives, problem=problem, backend="exhaustive")
    result = dse.run()  # warm-up
    ctx = dse.bind()
    backend = get_backend("exhaustive")
    runs, cores = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        dse.run()
        runs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        backend.run(ctx, budget=None, seed=0, n_jobs=1, storage=None, progress=None)
        cores.append(time.perf_counter() - t0)
    return {"raw": result.space_size, "valid": result.valid_size, "front": len(result.pareto),
            "run_s": min(runs), "backend_s": min(cores), "result": result}


def search(problem, space, objectives, backend: str, sampler: str, budget: int, seed: int, exact) -> dict:
    from mlsysim.dse import DSE

    t0 = time.perf_counter()
    dse = DSE(space, objectives=objectives, problem=problem, backend=backend, sampler=sampler)
    r = dse.run(budget=budget, seed=seed)
    wall = time.perf_counter() - t0
    c = r.compare(exact)
    return {"hv": c["hypervolume_ratio"], "igd": c["igd_plus"], "cov": c["coverage"], "proposals": r.proposals,
            "unique": r.evaluations, "wall": wall}


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x < 1e5 else f"{x:.2e}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="cost-memory objectives, 1%% and 5%% budgets, no TPE")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per cell (0..N-1); >1 prints min/median")
    ap.add_argument("--tpe-all", action="store_true", help="run TPE at every budget (slow: minutes per run)")
    ap.add_argument("--objectives", choices=sorted(OBJECTIVE_SETS), action="append",
                    help="objective set(s) to benchmark (default: both; --quick: cost-memory)")
    ap.add_argument("--samplers", help="comma list, e.g. optuna:nsga2,pymoo:nsga2 (default: all)")
    args = ap.parse_args(argv)

    import importlib

    for module in ("optuna", "pymoo.algorithms.moo.nsga2", "pymoo.optimize"):  # import once, outside the timings
        importlib.import_module(module)

    problem, space, full = parallelism_setup()
    sets = args.objectives or (["cost-memory"] if args.quick else list(OBJECTIVE_SETS))
    shares = BUDGET_SHARES[:2] if args.quick else BUDGET_SHARES
    samplers = [tuple(s.split(":")) for s in args.samplers.split(",")] if args.samplers else list(SAMPLERS)
    if args.quick and not args.samplers:
        samplers = [s for s in samplers if s != ("optuna", "tpe")]
    seeds = list(range(args.seeds))
    if len(seeds) > 1:
        print(f"seeds 0-{len(seeds) - 1}: quality columns show worst/median over seeds; proposals, unique and wall "
              "the median")

    print(f"problem: {problem.id}")
    print("exhaustive enumeration, one core (best of 5 runs; objectives of the `default` set):")
    print(f"  {'space':<34s} {'raw':>10s} {'valid':>8s} {'front':>5s} {'DSE.run':>9s} {'raw/s':>10s} "
          f"{'backend':>9s} {'raw/s':>10s} {'valid/s':>10s}")
    exact = {}
    for label, sp in (("parallelism (nodes<=64, ep=1)", space), ("parallelism.yaml, unrestricted", full)):
        e = exhaustive_rate(problem, sp, OBJECTIVE_SETS["default"])
        flag = "ok " if e["raw"] / e["backend_s"] >= 1e6 else "LOW"
        print(f"  {label:<34s} {e['raw']:>10,} {e['valid']:>8,} {e['front']:>5} {e['run_s'] * 1e3:>7.0f}ms "
              f"{fmt_rate(e['raw'] / e['run_s']):>10s} {e['backend_s'] * 1e3:>7.0f}ms "
              f"{fmt_rate(e['raw'] / e['backend_s']):>10s} {fmt_rate(e['valid'] / e['backend_s']):>10s}  [{flag}] "
              f"target >= 1e6 raw/s")
    from mlsysim.dse import DSE

    for name in sets:
        exact[name] = DSE(space, objectives=OBJECTIVE_SETS[name], problem=problem, backend="exhaustive").run()
    valid = exact[sets[0]].valid_size

    rates: dict[tuple, list] = {}
    for name in sets:
        ex = exact[name]
        n_front = len(np.unique(ex.front(), axis=0))
        print(f"\nobjectives '{name}': {', '.join(OBJECTIVE_SETS[name])}; exact front {n_front} points "
              f"(exhaustive, {ex.valid_size:,} valid configurations)")
        print(f"  {'sampler':<14s} {'budget':>13s} {'proposals':>9s} {'unique':>7s} {'wall':>7s} {'HV ratio':>17s} "
              f"{'IGD+':>15s} {'coverage':>17s} {'meets bar':>9s}")
        for backend, sampler in samplers:
            for share in shares:
                budget = min(BUDGET_CAP, int(share * valid))  # floor: at most the share
                label = f"{backend}:{sampler}"
                if sampler == "tpe" and share > 0.01 and not args.tpe_all:
                    print(f"  {label:<14s} {budget:>6,} ({share:>4.0%})   skipped: MOTPE needs ~0.3 s/trial at this "
                          f"size (run with --tpe-all)")
                    continue
                runs = [search(problem, space, OBJECTIVE_SETS[name], backend, sampler, budget, s, ex) for s in seeds]
                rates.setdefault((backend, sampler), []).extend(runs)
                print("  " + row(label, budget, share, runs, n_front), flush=True)

    print("\noptimizer throughput on this space (all runs above; wall includes the precount of valid points):")
    print(f"  {'sampler':<14s} {'proposals/s':>12s} {'unique evals/s':>15s}")
    for (backend, sampler), runs in rates.items():
        wall = sum(r["wall"] for r in runs)
        print(f"  {backend + ':' + sampler:<14s} {fmt_rate(sum(r['proposals'] for r in runs) / wall):>12s} "
              f"{fmt_rate(sum(r['unique'] for r in runs) / wall):>15s}")


def row(label: str, budget: int, share: float, runs: list[dict], n_front: int) -> str:
    def stat(key, fmt, worst=min):
        vals = [r[key] for r in runs]
        if len(vals) == 1:
            return fmt.format(vals[0])
        return f"{fmt.format(worst(vals))}/{fmt.format(statistics.median(vals))}"

    ok = sum(r["hv"] >= HV_BAR and r["cov"] >= COVERAGE_BAR for r in runs)
    cov = stat("cov", "{:.2f}")
    if len(runs) == 1:
        cov = f"{cov} ({round(runs[0]['cov'] * n_front)}/{n_front})"
    proposals, unique = (statistics.median(r[k] for r in runs) for k in ("proposals", "unique"))
    return (f"{label:<14s} {budget:>6,} ({share:>4.0%}) {proposals:>9,.0f} {unique:>7,.0f} "
            f"{statistics.median(r['wall'] for r in runs):>6.1f}s {stat('hv', '{:.4f}'):>17s} "
            f"{stat('igd', '{:.4f}', max):>15s} {cov:>17s} {ok:>5}/{len(runs)}")


if __name__ == "__main__":
    sys.exit(main())
