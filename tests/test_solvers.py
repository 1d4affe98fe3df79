"""Tests of the Tier-2 solvers: SensitivitySolver (elasticities of latency) and SynthesisSolver
(the decode roofline inverted)."""
from __future__ import annotations

import pint
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim
from mlsysim.core.errors import UnitError, UnknownNameError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.efficiency import compute_efficiency
from mlsysim.physics.serving import GPU_MEMORY_UTILIZATION, KV_READ_EFFICIENCY, STEP_OVERHEAD_S, serving_core
from mlsysim.solvers.sensitivity import SPEC_KEYS, SensitivitySolver, scaled_hardware
from mlsysim.solvers.synthesis import SynthesisSolver, synthesis_core

from physics_fixtures import A100, H100, L70, L8, MIXTRAL, R50, make_hw

PROPS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REL = 1e-9
PURE_INVERSE = (1 / 1.1 - 1) / 0.1  # -0.9091: latency proportional to 1/x, x raised 10 %


def test_public_names():
    assert mlsysim.SensitivitySolver is SensitivitySolver and mlsysim.SynthesisSolver is SynthesisSolver


# =========================================================================================
# Sensitivity
# =========================================================================================

def test_llama70b_on_a100_is_bandwidth_bound():
    res = SensitivitySolver().solve(model=L70, hardware=A100)
    assert set(res.sensitivities) == set(SPEC_KEYS) == {"peak_flops", "memory_bandwidth", "memory_capacity"}
    assert res.binding_constraint == "memory_bandwidth"
    # decode at batch 1 reads 141 GB of weights per token: ITL - overhead ∝ 1/bandwidth, the 0.5 ms
    # per-step overhead does not scale -> (1/1.1 - 1)/0.1 x (ITL - 0.5 ms) / ITL = -0.903
    itl = res.baseline_latency.m_as("s")
    assert res.bw_sensitivity == pytest.approx(PURE_INVERSE * (itl - STEP_OVERHEAD_S) / itl, rel=1e-6)
    assert res.flops_sensitivity == 0.0 and res.capacity_sensitivity == 0.0
    # 141 GB does not fit in 80 GB (nor in 88 GB): evaluated anyway, and said so
    assert res.feasible is False and res.workload == "decode"
    assert isinstance(res.bw_sensitivity, float) and f"{res.bw_sensitivity:.3f}" == "-0.903"


def test_prefill_and_large_batch_cnn_are_compute_bound():
    pre = SensitivitySolver().solve(L8, H100, workload="prefill", seq_len=4096)
    assert pre.binding_constraint == "peak_flops"
    # not the pure inverse -0.909: more FLOP/s per byte of bandwidth also raises the GEMM
    # half-efficiency size (efficiency.roofline_d_half), so part of the gain is lost
    assert PURE_INVERSE < pre.flops_sensitivity < 0.5 * PURE_INVERSE
    cnn = SensitivitySolver().solve(R50, A100, batch_size=256)
    assert cnn.workload == "roofline" and cnn.binding_constraint == "peak_flops"
    assert cnn.seq_len is None


def test_sensitivity_baseline_matches_serving_model():
    res = SensitivitySolver().solve(L8, H100, batch_size=8, seq_len=1024)
    itl = serving_core(L8, H100, batch_size=8, prompt_len=1024, output_len=0, tp=1, precision="fp16",
                       kv_precision="fp16")["itl"]
    assert res.baseline_latency.m_as("s") == pytest.approx(itl, rel=REL)
    # the bandwidth-perturbed latency is the same physics on a device with 1.1x the bandwidth
    hw = scaled_hardware(H100, bandwidth=1.1)
    itl2 = serving_core(L8, hw, batch_size=8, prompt_len=1024, output_len=0, tp=1, precision="fp16",
                        kv_precision="fp16")["itl"]
    assert res.perturbed_latency["memory_bandwidth"].m_as("s") == pytest.approx(itl2, rel=REL)


def test_capacity_binds_when_more_memory_makes_it_fit():
    # L8 at fp16 needs (16.06 GB weights + 2048 x 131,072 B KV (0.27 GB) + 2048 x 34 x 4096 B workspace
    # (0.29 GB)) / 0.9 = 18.46 GB
    need = (L8.weight_bytes("fp16") + 2048 * 131_072 + 2048 * 34 * 4096) / GPU_MEMORY_UTILIZATION
    tight = make_hw(989.0, 3350.0, need / 1e9 / 1.05)          # 5 % short: +10 % capacity makes it fit
    res = SensitivitySolver().solve(L8, tight)
    assert res.feasible is False
    assert res.capacity_sensitivity == pytest.approx(-1 / 0.1)  # "cannot run" -> runs: a 100 % reduction
    assert res.binding_constraint == "memory_capacity"
    roomy = make_hw(989.0, 3350.0, 80.0)
    assert SensitivitySolver().solve(L8, roomy).capacity_sensitivity == 0.0


def test_perturbation_builds_new_hardware_and_leaves_the_original_alone():
    before = dict(H100.si), H100.peak_flops_si("fp16")
    hw = scaled_hardware(H100, flops=1.5, bandwidth=2.0, capacity=3.0)
    assert hw is not H100
    assert hw.si["memory_bandwidth"] == pytest.approx(2 * 3.35e12, rel=REL)
    assert hw.si["memory_capacity"] == pytest.approx(3 * 80e9, rel=REL)
    assert hw.peak_flops_si("fp16") == pytest.approx(1.5 * 989.4e12, rel=REL)
    assert hw.peak_flops_si("fp8") == pytest.approx(1.5 * 1978.9e12, rel=REL)
    SensitivitySolver().solve(L8, H100)
    assert (dict(H100.si), H100.peak_flops_si("fp16")) == before


@PROPS
@given(peak=st.floats(20, 2000), bw=st.floats(200, 8000), b=st.integers(1, 512), s=st.integers(16, 8192),
       pct=st.floats(0.01, 0.5), workload=st.sampled_from(["decode", "prefill"]),
       model=st.sampled_from([L8, MIXTRAL]))
def test_flops_and_bandwidth_elasticities_are_bounded(peak, bw, b, s, pct, workload, model):
    # latency = max(F/peak, B/bw) (+ constants): raising one spec by pct can at most divide it by 1 + pct
    res = SensitivitySolver().solve(model, make_hw(peak, bw, 1e4), batch_size=b, seq_len=s, perturbation_pct=pct,
                                    workload=workload)
    bound = (1 / (1 + pct) - 1) / pct
    for key in ("peak_flops", "memory_bandwidth"):
        assert bound * (1 + 1e-9) <= res.sensitivities[key] <= 0.0
    assert res.capacity_sensitivity == 0.0
    assert abs(res.sensitivities[res.binding_constraint]) == max(abs(v) for v in res.sensitivities.values())


def test_sensitivity_bad_inputs():
    s = SensitivitySolver()
    with pytest.raises(UnknownNameError, match="workload"):
        s.solve(L8, H100, workload="training")
    with pytest.raises(UserInputError, match="transformer"):
        s.solve(R50, H100, workload="decode")
    with pytest.raises(UserInputError, match="perturbation_pct"):
        s.solve(L8, H100, perturbation_pct=-0.1)
    with pytest.raises(UserInputError, match="batch_size"):
        s.solve(L8, H100, batch_size=-1)
    with pytest.raises(UnknownNameError, match="precision"):
        s.solve(L8, H100, precision="fp3")


# =========================================================================================
# Synthesis
# =========================================================================================

def test_llama70b_30ms_hand_arithmetic():
    specs = SynthesisSolver().solve(model=L70, target_latency=Q_("30 ms/token"), precision="fp16")
    # a decode step at 2048 tokens: GEMM phase 141.107e9 weights + 2·34·8192·80 activation bytes at
    # 0.9 of the bandwidth (m1), attention phase 2048 x 327,680 KV bytes at 0.75 (m2), within
    # 30 ms - 0.5 ms overhead: the bandwidth lower bound (m1 + m2) / 0.0295 s = 5.3467 TB/s
    m1 = (70_553_706_496 * 2 + 2 * 34 * 8192 * 80) / 0.9
    m2 = 2048 * 327_680 / KV_READ_EFFICIENCY
    target = 0.030 - STEP_OVERHEAD_S
    # FLOPs: GEMMs c1 = 2 · 69,503,033,344, attention c2 = 4 · 80 · 2048 · 8192 (3.7 % of the total).
    # On a device with exactly the two bounds the attention phase is compute-bound (3.7 % of the time
    # instead of its 0.57 % share of the bytes): both bounds rise by m1/(m1+m2) + c2/(c1+c2) = 1.0315
    c1, c2 = 2 * 69_503_033_344, 4 * 80 * 2048 * 8192
    scale = m1 / (m1 + m2) + c2 / (c1 + c2)
    assert specs.required_bandwidth.m_as("B/s") == pytest.approx((m1 + m2) / target * scale, rel=1e-9)
    assert specs.required_bw is specs.required_bandwidth
    # FLOP/s: (c1 + c2) / (target x efficiency) x scale, the efficiency at the answer's own roofline
    # (efficiency.compute_efficiency of a device with the required specs: the solver's fixed point)
    probe = make_hw(specs.required_flops.m_as("TFLOP/s"), specs.required_bandwidth.m_as("GB/s"), 200.0)
    eff = compute_efficiency(L70, 1, probe, "fp16")
    assert specs.required_flops.m_as("FLOP/s") == pytest.approx((c1 + c2) / (target * eff) * scale, rel=1e-6)
    # memory: (141.107 weights + 0.671 KV + 2048 x 34 x 8192 B = 0.570 workspace) / 0.9 = 158.16 GB
    assert specs.required_memory.m_as("B") == pytest.approx(
        (70_553_706_496 * 2 + 2048 * 327_680 + 2048 * 34 * 8192) / 0.9, rel=REL)
    assert f"{specs.required_bandwidth.to('TB/s'):~.2f}" == "5.52 TB / s"
    assert specs.meets(A100) is False and specs.meets(H100) is False


def test_time_and_time_per_token_targets_agree():
    a = SynthesisSolver().solve(L8, Q_("50 ms"))
    b = SynthesisSolver().solve(L8, Q_("50 ms/token"))
    c = SynthesisSolver().solve(L8, "0.05 s/token")
    assert a.required_bandwidth == b.required_bandwidth == c.required_bandwidth
    assert a.target_latency.m_as("ms") == pytest.approx(50)
    assert a.meets(H100) and a.meets(A100)
    # 50 ms for Llama-3 8B: ((16.06e9 + 8.9e6) B / 0.9 + 0.27e9 B / 0.75) / (0.05 - 0.0005) s = 0.368 TB/s,
    # raised by m1/(m1+m2) + c2/(c1+c2) (attention compute-bound on the bound device, see above)
    m1, m2 = (8_030_261_248 * 2 + 2 * 34 * 4096 * 32) / 0.9, 2048 * 131_072 / 0.75
    c1, c2 = 2 * L8.matmul_params_per_token, 4 * 32 * 2048 * 4096
    assert a.required_bw.m_as("TB/s") == pytest.approx(
        (m1 + m2) / 0.0495 / 1e12 * (m1 / (m1 + m2) + c2 / (c1 + c2)), rel=1e-9)


@PROPS
@given(target_ms=st.floats(1, 500), b=st.integers(1, 256), s=st.integers(16, 16000),
       model=st.sampled_from([L8, L70, MIXTRAL]))
def test_hardware_with_the_required_specs_meets_the_target_exactly(target_ms, b, s, model):
    r = synthesis_core(model, target_itl=target_ms / 1e3, batch_size=b, seq_len=s, precision="fp16")
    hw = make_hw(r["required_flops"] / 1e12, r["required_bandwidth"] / 1e9, r["required_memory"] / 1e9)
    itl = serving_core(model, hw, batch_size=b, prompt_len=s, output_len=0, tp=1, precision="fp16",
                       kv_precision="fp16")
    assert itl["itl"] == pytest.approx(target_ms / 1e3, rel=1e-9)
    assert itl["feasible"] or itl["memory_per_device"] == pytest.approx(hw.si["memory_capacity"], rel=1e-12)
    # and 1 % less of the binding spec misses it
    weaker = make_hw(r["required_flops"] / 1e12 * 0.99, r["required_bandwidth"] / 1e9 * 0.99, 1e6)
    assert serving_core(model, weaker, batch_size=b, prompt_len=s, output_len=0, tp=1, precision="fp16",
                        kv_precision="fp16")["itl"] > target_ms / 1e3


def test_ttft_target_adds_the_prefill_bound():
    no = SynthesisSolver().solve(L8, Q_("50 ms"), seq_len=4096)
    yes = SynthesisSolver().solve(L8, Q_("50 ms"), seq_len=4096, target_ttft=Q_("200 ms"))
    # prefill FLOPs 4096 x 1.6e10 = 6.6e13 in 0.2 s needs hundreds of TFLOP/s: far above decode's
    assert yes.required_flops > 50 * no.required_flops
    assert yes.required_memory == no.required_memory
    hw = make_hw(yes.required_flops.m_as("TFLOP/s"), yes.required_bandwidth.m_as("GB/s"), 80.0)
    r = serving_core(L8, hw, batch_size=1, prompt_len=4096, output_len=0, tp=1, precision="fp16", kv_precision="fp16")
    assert r["ttft"] <= 0.2 * (1 + 1e-9) and r["itl"] <= 0.05 * (1 + 1e-9)


def test_synthesis_result_dimensions_and_lazy_candidates():
    r = SynthesisSolver().solve(L8, Q_("20 ms"), batch_size=4)
    for name, unit in {"required_bandwidth": "byte/s", "required_flops": "FLOP/s", "required_memory": "byte",
                       "ridge_point": "FLOP/byte", "target_latency": "s"}.items():
        q = getattr(r, name)
        assert isinstance(q, pint.Quantity) and q.is_compatible_with(unit)
    assert "candidates" not in r.__dict__ and "candidates" not in r.to_dict()
    cands = r.candidates  # computed from the catalog on first access
    assert isinstance(cands, list) and all(isinstance(c, str) for c in cands)
    assert "candidates" in r.__dict__


def test_synthesis_bad_units():
    s = SynthesisSolver()
    with pytest.raises(UnitError, match="target_latency.*time per token"):
        s.solve(L8, Q_("30 GB/s"))
    with pytest.raises(UnitError, match="no unit"):
        s.solve(L8, 0.03)
    with pytest.raises(UnitError, match="target_ttft"):
        s.solve(L8, Q_("30 ms"), target_ttft=Q_("3 tokens"))
    with pytest.raises(UnitError):
        s.solve(L8, "thirty ms")
    with pytest.raises(UserInputError, match="target_latency"):
        s.solve(L8, Q_("-30 ms"))
    with pytest.raises(UserInputError, match="transformer"):
        s.solve(R50, Q_("30 ms"))
    with pytest.raises(UnknownNameError, match="precision"):
        s.solve(L8, Q_("30 ms"), precision="fp1")
