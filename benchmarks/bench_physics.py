"""Speed of the physics: vectorized cores over 10^6 configurations, and the scalar solve() APIs.

Targets (DESIGN.md, "The one rule for speed"): >= 1e6 configurations/s for the vectorized cores
(roofline, serving, distributed training) in one call, and < 200 us per scalar ``solve()``.
Prints the median of several runs; no assertions. Run: ``python benchmarks/bench_physics.py``.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from physics_fixtures import A100, H100, L70, L8, R50, cluster  # noqa: E402

from mlsysim.physics.distributed import distributed_core  # noqa: E402
from mlsysim.physics.node import Engine, roofline_si  # noqa: E402
from mlsysim.physics.serving import ServingModel, serving_core  # noqa: E402

N = 1_000_000
REPEATS = 5


def median_time(fn, repeats=REPEATS) -> float:
    fn()  # warm-up (caches, imports)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def per_call(fn, calls=2000, repeats=REPEATS) -> float:
    def loop():
        for _ in range(calls):
            fn()
    return median_time(loop, repeats) / calls


def report(name, seconds, n, target):
    rate = n / seconds
    flag = "ok " if rate >= target else "LOW"
    print(f"  [{flag}] {name:<44s} {seconds * 1e3:9.1f} ms for {n:.0e} configs -> {rate:10.3g} configs/s "
          f"(target >= {target:.0e})")


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"vectorized cores, one call over {N:.0e} configurations (median of {REPEATS}):")

    batch = rng.integers(1, 513, N).astype(float)
    report("roofline_si (CNN, ResNet-50 / A100)", median_time(
        lambda: roofline_si(R50, A100, batch_size=batch, precision="fp16")), N, 1e6)
    seq = rng.integers(128, 8193, N).astype(float)
    report("roofline_si (transformer decode, Llama-3 8B)", median_time(
        lambda: roofline_si(L8, H100, batch_size=batch, precision="fp16", seq_len=seq, decode=True)), N, 1e6)

    tp = 2.0 ** rng.integers(0, 4, N)
    out = rng.integers(0, 2049, N).astype(float)
    report("serving_core (Llama-3 70B / H100)", median_time(
        lambda: serving_core(L70, H100, batch_size=batch, prompt_len=seq, output_len=out, tp=tp,
                             precision="fp16", kv_precision="fp16")), N, 1e6)

    # Distributed training: GPT-3-like 175B on 64 DGX A100 nodes (512 GPUs), random valid-ish splits.
    from physics_fixtures import gpt
    model, fleet = gpt(96, 12288, 96), cluster(64)
    tps = 2.0 ** rng.integers(0, 4, N)
    pps = 2.0 ** rng.integers(0, 5, N)
    mbs = 2.0 ** rng.integers(0, 3, N)
    zero = rng.integers(0, 4, N).astype(float)
    rc = rng.integers(0, 3, N).astype(float)
    report("distributed_core (175B on 512 A100)", median_time(
        lambda: distributed_core(model, fleet, tp=tps, pp=pps, micro_batch=mbs, global_batch=1536.0, seq_len=2048.0,
                                 zero_stage=zero, recompute=rc, sp=(tps > 1).astype(float))), N, 1e6)

    print("\nscalar solve() per call (median of %d runs):" % REPEATS)
    for name, fn in [
        ("Engine.solve (ResNet-50 / A100, batch 32)", lambda: Engine.solve(R50, A100, batch_size=32, precision="fp16")),
        ("ServingModel.solve (Llama-3 70B / H100)", lambda: ServingModel().solve(L70, H100, seq_len=4096, batch_size=1)),
    ]:
        t = per_call(fn)
        flag = "ok " if t < 200e-6 else "HIGH"
        print(f"  [{flag}] {name:<44s} {t * 1e6:9.1f} us/call (target < 200 us)")


if __name__ == "__main__":
    main()
