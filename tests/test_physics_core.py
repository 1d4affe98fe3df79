"""Tests of the physics core: roofline (node.py), serving, efficiency, collectives, training
memory and distributed training. Hand arithmetic is written next to each expected number."""
from __future__ import annotations

import dataclasses

import numpy as np
import pint
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlsysim.core.errors import MLSysimError, UnitError, UnknownNameError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics import collectives as coll
from mlsysim.physics.distributed import DistributedModel, distributed_core
from mlsysim.physics.efficiency import (CNN_EFFICIENCY, MEMORY_EFFICIENCY, EfficiencyModel,
                                        compute_efficiency)
from mlsysim.physics.node import Engine, SingleNodeModel, roofline_si
from mlsysim.physics.serving import (GPU_MEMORY_UTILIZATION, KV_READ_EFFICIENCY, STEP_OVERHEAD_S, ServingModel,
                                     serving_core)
from mlsysim.physics.training_memory import activation_bytes_per_layer, in_flight_factor, model_state_bytes

from physics_fixtures import A100, H100, L70, L8, MIXTRAL, R50, cluster, gpt, make_hw

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REL = 1e-9


def assert_dim(q, unit: str):
    """``q`` is a pint quantity with the dimension of ``unit``. Bytes are dimensionless in pint,
    so a byte-valued field must also *carry* a byte unit."""
    assert isinstance(q, pint.Quantity), f"{q!r} is not a Quantity"
    assert q.is_compatible_with(unit), f"{q} is not compatible with {unit}"
    if "byte" in unit or unit.endswith("B"):
        assert "byte" in repr(q.units), f"{q} does not carry a byte unit"


# =========================================================================================
# Architecture-derived counts used below
# =========================================================================================

def test_llama3_70b_parameter_count_matches_model_card():
    # per layer: attention 8192·8192·2 + 2·8192·1024 = 150,994,944; MLP 3·8192·28672 = 704,643,072;
    # norms 2·8192 -> 855,654,400 x 80 = 68,452,352,000; + final norm 8192 + embeddings and head
    # 2·128256·8192 = 2,101,346,304 -> 70,553,706,496 (model card: "70B", 70.6e9)
    assert L70.parameters == 70_553_706_496
    # KV bytes per token at fp16: 2 (K,V) · 80 layers · 8 kv heads · 128 d_head · 2 B = 327,680
    assert L70.kv_cache_bytes_per_token("fp16") == 327_680


# =========================================================================================
# Efficiency
# =========================================================================================

def test_transformer_compute_efficiency_hand_value():
    # 0.75 / (1 + 128 · (1/8192 + 1/min(8192, 28672))) = 0.75 / 1.03125 = 0.727273
    assert compute_efficiency(L70) == pytest.approx(0.75 / (1 + 128 * (2 / 8192)), rel=REL)
    # tp = 8: the second dimension is 8192/8 = 1024 -> 0.75 / (1 + 128/8192 + 128/1024) = 0.657534
    assert compute_efficiency(L70, 8) == pytest.approx(0.75 / (1 + 128 / 8192 + 128 / 1024), rel=REL)
    # with a device, d_half is its roofline half-size: H100 fp16 2 x 989.4e12 / (2 x 3.35e12) = 295.34
    d_half = 2 * 989.4e12 / (2 * 3.35e12)
    # the large-GEMM rate is the Hopper family's sustained matmul rate 0.71 x the fitted training
    # factor 0.78 (data/calibration/efficiency.yaml) = 0.5538
    assert compute_efficiency(L70, 1, H100, "fp16") == pytest.approx(0.71 * 0.78 / (1 + d_half * 2 / 8192), rel=REL)
    assert compute_efficiency(R50) == CNN_EFFICIENCY


def test_efficiency_model_training_and_decode():
    tr = EfficiencyModel().solve(L70, A100, workload_type="training", precision="fp16")
    assert tr.mfu == pytest.approx(compute_efficiency(L70, 1, A100, "fp16"), rel=REL)
    assert_dim(tr.achievable_flops, "FLOP/s")
    # A100 roofline half-size: 2 B x 312e12 / (2 x 2.039e12) = 153.02 elements;
    # achievable = 312 TFLOP/s x (0.869 x 0.78 = 0.67782, Ampere family) / (1 + 153.02 x 2/8192)
    d_half = 2 * 312e12 / (2 * 2.039e12)
    assert tr.achievable_flops.m_as("TFLOP/s") == pytest.approx(312 * 0.869 * 0.78 / (1 + d_half * 2 / 8192), rel=REL)
    dec = EfficiencyModel().solve(L70, A100, workload_type="decode", seq_len=2048, precision="fp16")
    assert dec.bound == "Memory" and 0 < dec.mfu < 0.02  # decode at batch 1 is ~1 % MFU
    with pytest.raises(UnknownNameError):
        EfficiencyModel().solve(L70, A100, workload_type="inference")


def test_efficiency_model_rejects_negative_batch():
    with pytest.raises(UserInputError):
        EfficiencyModel().solve(L70, A100, workload_type="decode", batch_size=-1)


def test_efficiency_model_vectorized_batch():
    r = EfficiencyModel().solve(R50, A100, workload_type="cnn_inference", batch_size=np.array([1, 2]))
    assert np.shape(r.mfu) == (2,)


# =========================================================================================
# Roofline (node.py)
# =========================================================================================

def test_resnet50_roofline_hand_arithmetic():
    p = Engine.solve(R50, A100, batch_size=1, precision="fp16")
    # compute: 8.2e9 FLOP / (312e12 FLOP/s x 0.50) = 52.564 us
    assert p.compute_time.m_as("s") == pytest.approx(8.2e9 / (312e12 * 0.5), rel=REL)
    # memory: weights 25.6e6 x 2 B + activations 46e6 B = 97.2e6 B / (2039e9 x 0.9) = 52.967 us
    assert p.memory_time.m_as("s") == pytest.approx(97.2e6 / (2039e9 * 0.9), rel=REL)
    assert p.latency.m_as("s") == pytest.approx(97.2e6 / (2039e9 * 0.9), rel=REL)
    assert p.bottleneck == "Memory"
    # batch 256: compute 256 x 52.564 us = 13.456 ms > memory (51.2e6 + 256 x 46e6)/1835.1e9 = 6.44 ms
    big = Engine.solve(R50, A100, batch_size=256, precision="fp16")
    assert big.bottleneck == "Compute"
    assert big.throughput.m_as("sample/s") == pytest.approx(312e12 * 0.5 / 8.2e9, rel=REL)  # 19,024 img/s
    # ridge point 312e12 / 2039e9 = 153.0 FLOP/byte
    assert p.ridge_point.m_as("FLOP/byte") == pytest.approx(312e12 / 2039e9, rel=REL)


def test_transformer_decode_roofline_bytes():
    p = Engine.solve(L70, H100, batch_size=1, precision="fp16", seq_len=4096, decode=True)
    # bytes = weights 141.107e9 + KV 4096 x 327,680 = 1.342e9 + activations 2·34·8192·80 = 44.56e6
    expected = 70_553_706_496 * 2 + 4096 * 327_680 + 2 * 34 * 8192 * 80
    assert p.memory_traffic.m_as("byte") == pytest.approx(expected, rel=REL)
    assert p.bottleneck == "Memory"
    assert p.latency.m_as("s") == pytest.approx(expected / (3.35e12 * 0.9), rel=REL)  # 47.26 ms


def test_node_profile_field_dimensions():
    p = Engine.solve(R50, A100, batch_size=8, precision="fp16")
    dims = {"latency": "s", "throughput": "sample/s", "compute_time": "s", "memory_time": "s", "flops": "FLOP",
            "memory_traffic": "byte", "arithmetic_intensity": "FLOP/byte", "ridge_point": "FLOP/byte",
            "memory_footprint": "byte"}
    for name, unit in dims.items():
        assert_dim(getattr(p, name), unit)
    assert isinstance(p.bottleneck, str) and isinstance(p.feasible, bool) and isinstance(p.precision, str)
    assert set(dims) | {"bottleneck", "feasible", "efficiency", "precision"} == {f.name for f in dataclasses.fields(p)}


@pytest.mark.parametrize("model,kw", [(R50, {}), (L8, {"seq_len": 1024}), (L8, {"seq_len": 1024, "decode": True}),
                                      (MIXTRAL, {"seq_len": 512, "decode": True})])
def test_engine_scalar_equals_vectorized_core(model, kw):
    batches = np.array([1, 2, 3, 8, 17, 64, 256])
    core = roofline_si(model, A100, batch_size=batches, precision="fp16", **kw)
    for i, b in enumerate(batches):
        p = SingleNodeModel().solve(model, A100, batch_size=int(b), precision="fp16", **kw)
        assert p.latency.m_as("s") == pytest.approx(core["latency"][i], rel=1e-12)
        assert p.throughput.m_as("sample/s") == pytest.approx(core["throughput"][i], rel=1e-12)
        assert p.memory_footprint.m_as("byte") == pytest.approx(core["memory_footprint"][i], rel=1e-12)
        assert p.feasible == bool(core["feasible"][i])


@PROPS
@given(peak=st.floats(10, 2000), bw=st.floats(100, 10000), k=st.floats(1.0, 4.0), batch=st.integers(1, 512),
       which=st.sampled_from(["flops", "bw"]), model=st.sampled_from(["cnn", "decode", "prefill"]))
def test_more_bandwidth_or_flops_never_increases_roofline_latency(peak, bw, k, batch, which, model):
    base = make_hw(peak, bw)
    better = make_hw(peak * k, bw) if which == "flops" else make_hw(peak, bw * k)
    m, kw = (R50, {}) if model == "cnn" else (L8, {"seq_len": 1024, "decode": model == "decode"})
    a = roofline_si(m, base, batch_size=batch, precision="fp16", **kw)["latency"]
    b = roofline_si(m, better, batch_size=batch, precision="fp16", **kw)["latency"]
    assert b <= a * (1 + 1e-12)


@PROPS
@given(peak=st.floats(10, 2000), bw=st.floats(100, 10000), cap=st.floats(1, 200))
def test_cnn_throughput_never_decreases_with_batch_while_feasible(peak, bw, cap):
    hw = make_hw(peak, bw, cap)
    b = np.arange(1, 1025, dtype=float)
    r = roofline_si(R50, hw, batch_size=b, precision="fp16")
    tput = r["throughput"][r["feasible"]]
    assert np.all(np.diff(tput) >= -1e-9 * tput[:-1])


def test_roofline_bad_inputs():
    with pytest.raises(UserInputError, match="batch_size"):
        Engine.solve(R50, A100, batch_size=-1)
    with pytest.raises(UserInputError, match="whole number"):
        Engine.solve(R50, A100, batch_size=1.5)
    with pytest.raises(UnknownNameError, match="precision"):
        Engine.solve(R50, A100, precision="fp17")
    with pytest.raises(UnitError, match="batch_size"):
        Engine.solve(R50, A100, batch_size=Q_(3, "ms"))
    with pytest.raises(UserInputError, match="efficiency"):
        Engine.solve(R50, A100, efficiency=1.5)
    # every mlsysim error is also a ValueError for callers that catch the builtin
    assert issubclass(UserInputError, MLSysimError) and issubclass(UserInputError, ValueError)


# =========================================================================================
# Serving
# =========================================================================================

def test_llama70b_kv_cache_hand_arithmetic():
    r = ServingModel().solve(L70, H100, seq_len=4096, batch_size=1, precision="fp16")
    # 2 · 80 layers · 8 kv heads · 128 d_head · 4096 tokens · 2 B = 1,342,177,280 B = 1.342 GB
    assert r.kv_cache_size.m_as("byte") == 2 * 80 * 8 * 128 * 4096 * 2
    assert r.kv_cache_size.m_as("GB") == pytest.approx(1.342177, rel=1e-6)
    # batch 4 at 2048 tokens: same token count -> same KV
    assert ServingModel().solve(L70, H100, seq_len=2048, batch_size=2).kv_cache_size.m_as("byte") == 2 * 80 * 8 * 128 * 4096 * 2
    # fp8 KV halves it
    r8 = ServingModel().solve(L70, H100, seq_len=4096, kv_precision="fp8")
    assert r8.kv_cache_size.m_as("byte") == 2 * 80 * 8 * 128 * 4096


def test_decode_itl_is_gemm_phase_plus_attention_phase_plus_overhead():
    r = ServingModel().solve(L70, H100, seq_len=4096, batch_size=1, precision="fp16")
    # GEMM phase, memory-bound: (141.107e9 weights + 44.56e6 activations) B / (3.35e12 x 0.9) B/s = 46.816 ms
    gemm = (70_553_706_496 * 2 + 2 * 34 * 8192 * 80) / (3.35e12 * MEMORY_EFFICIENCY)
    # attention phase, KV-read-bound: 4096 tokens x 327,680 B = 1.342e9 B / (3.35e12 x 0.75) B/s = 0.534 ms
    attn = 4096 * 327_680 / (3.35e12 * KV_READ_EFFICIENCY)
    # + 0.5 ms framework overhead per step; no all-reduce at tp = 1 -> 47.85 ms
    exact = gemm + attn + STEP_OVERHEAD_S
    assert (MEMORY_EFFICIENCY, KV_READ_EFFICIENCY, STEP_OVERHEAD_S) == (0.90, 0.75, 0.5e-3)
    assert r.itl.m_as("s") == pytest.approx(exact, rel=REL)
    assert r.itl.m_as("ms") == pytest.approx(47.85, abs=0.01)
    assert r.decode_bottleneck == "Memory"
    # 1 / ITL tokens per second at batch 1
    assert r.throughput.m_as("token/s") == pytest.approx(1 / exact, rel=REL)


def test_decode_tensor_parallel_adds_two_all_reduces_per_layer():
    kw = dict(batch_size=8.0, prompt_len=2048.0, output_len=0.0, precision="fp16", kv_precision="fp16")
    r = serving_core(L70, H100, tp=4.0, **kw)
    # 2 x 80 all-reduces of 8 tokens x 8192 x 2 B = 131,072 B over 4 ranks on NVLink 4 (900 GB/s
    # bidirectional = 450 GB/s per direction, x 0.8 link efficiency): ring 2 x 3/4 x 131,072 / 360e9
    # + 2 x 3 x latency, each
    lat = H100.si["link_latency"]
    assert H100.si["link_bandwidth"] == 450e9
    one = 2 * 0.75 * 131_072 / (450e9 * 0.8) + 2 * 3 * lat
    assert r["tp_comm_per_token"] == pytest.approx(160 * one, rel=1e-9)
    assert r["itl"] == pytest.approx(r["itl_gemm"] + r["itl_attention"] + 160 * one + STEP_OVERHEAD_S, rel=1e-12)
    # the weights per device are a quarter: the GEMM phase (memory-bound) is ~4x shorter than at tp = 1
    r1 = serving_core(L70, H100, tp=1.0, **kw)
    assert r["itl_gemm"] == pytest.approx(r1["itl_gemm"] / 4, rel=0.01)


def test_quantized_weights_read_fewer_bytes_and_use_their_peak():
    kw = dict(batch_size=1.0, prompt_len=1024.0, output_len=0.0, tp=1.0, kv_precision="fp16")
    r16 = serving_core(L8, H100, precision="fp16", **kw)
    r8 = serving_core(L8, H100, precision="fp8", **kw)
    r4 = serving_core(L8, H100, precision="int4", **kw)
    w = L8.parameters
    act = 2 * 34 * 4096 * 32  # activation traffic of one token, 16-bit even for quantized weights
    bw = 3.35e12 * MEMORY_EFFICIENCY
    # memory-bound decode GEMM phase: 2 / 1 / 0.5 bytes per weight
    assert r16["itl_gemm"] == pytest.approx((2 * w + act) / bw, rel=1e-9)
    assert r8["itl_gemm"] == pytest.approx((1 * w + act) / bw, rel=1e-9)
    assert r4["itl_gemm"] == pytest.approx((0.5 * w + act) / bw, rel=1e-9)
    # compute-bound prefill GEMMs: fp8 runs at the fp8 peak (2x); int4 is weight-only -> fp16 peak
    pre = lambda r: r["ttft"] - STEP_OVERHEAD_S  # noqa: E731
    assert pre(r8) < pre(r16) * 0.75
    assert pre(r4) == pytest.approx(pre(r16), rel=0.02)


def test_ttft_is_compute_bound_prefill_with_causal_attention():
    r = ServingModel().solve(L70, H100, seq_len=4096, batch_size=1, precision="fp16")
    # GEMMs: 4096 · 2 · 69,503,033,344 = 5.694e14 FLOP; attention: causal 4096²/2 pairs x 4 · 80 · 8192
    # = 2.199e13 FLOP; efficiency on H100 0.71 x 0.78 / (1 + 295.34 x 2/8192) = 0.51655 -> 1114.1 + 43.0 ms
    # (+ 0.5 ms step overhead) = 1157.6 ms
    d_half = 2 * 989.4e12 / (2 * 3.35e12)
    rate = 989.4e12 * 0.71 * 0.78 / (1 + d_half * 2 / 8192)   # Hopper GEMM rate (efficiency.yaml)
    gemm = 4096 * 2 * 69_503_033_344 / rate
    attn = 4096 * 4096 / 2 * 4 * 80 * 8192 / rate
    assert r.ttft.m_as("s") == pytest.approx(gemm + attn + STEP_OVERHEAD_S, rel=REL)
    assert r.ttft.m_as("ms") == pytest.approx(1157.6, abs=0.1)
    # with no output tokens end-to-end latency is the TTFT; with o tokens TTFT + (o-1)·ITL(full context)
    assert r.e2e_latency.m_as("s") == pytest.approx(r.ttft.m_as("s"), rel=REL)
    r2 = ServingModel().solve(L8, H100, seq_len=1024, output_len=129)
    assert r2.e2e_latency.m_as("s") == pytest.approx(r2.ttft.m_as("s") + 128 * r2.itl.m_as("s"), rel=REL)


def test_serving_memory_fit_and_tensor_parallelism():
    r = ServingModel().solve(L70, A100, seq_len=2048, batch_size=1)
    # (141.1 GB weights + 0.67 GB KV + 0.57 GB workspace) / 0.9 = 158.2 GB > 80 GB
    assert r.feasible is False and "80 GB" in r.reason and "tp_size" in r.reason
    r2 = ServingModel().solve(L70, A100, seq_len=2048, batch_size=1, tp_size=2)
    # tp = 2: (70.55 GB weights + 0.671/2 GB KV + 2048 x 34 x 8192 B = 0.570 GB workspace) / 0.9 = 79.40 GB <= 80 GB
    assert r2.feasible is True
    assert r2.weights_per_device.m_as("byte") == pytest.approx(L70.weight_bytes("fp16") / 2, rel=REL)
    assert r2.memory_per_device.m_as("byte") == pytest.approx(
        (L70.weight_bytes("fp16") / 2 + 2048 * 327_680 / 2 + 2048 * 34 * 8192) / GPU_MEMORY_UTILIZATION, rel=REL)
    assert r2.memory_per_device.m_as("GB") == pytest.approx(79.40, abs=0.01)


def test_serving_result_field_dimensions():
    r = ServingModel().solve(L8, H100, seq_len=1024, batch_size=4, output_len=16)
    for name, unit in {"ttft": "s", "itl": "s", "kv_cache_size": "byte", "throughput": "token/s",
                       "e2e_latency": "s", "memory_per_device": "byte", "weights_per_device": "byte",
                       "capacity_per_device": "byte"}.items():
        assert_dim(getattr(r, name), unit)
    assert r.decode_bottleneck in ("Memory", "Compute")


def test_serving_scalar_equals_vectorized_core():
    b = np.array([1, 4, 16, 64, 1, 8])
    p = np.array([128, 512, 2048, 4096, 8000, 100])
    o = np.array([0, 16, 256, 1, 100, 3])
    t = np.array([1, 2, 4, 8, 1, 2])
    core = serving_core(L70, H100, batch_size=b, prompt_len=p, output_len=o, tp=t, precision="fp16",
                        kv_precision="fp16")
    for i in range(len(b)):
        r = ServingModel().solve(L70, H100, seq_len=int(p[i]), batch_size=int(b[i]), output_len=int(o[i]),
                                 tp_size=int(t[i]))
        assert r.ttft.m_as("s") == pytest.approx(core["ttft"][i], rel=1e-12)
        assert r.itl.m_as("s") == pytest.approx(core["itl"][i], rel=1e-12)
        assert r.kv_cache_size.m_as("byte") == pytest.approx(core["kv_cache_size"][i], rel=1e-12)
        assert r.memory_per_device.m_as("byte") == pytest.approx(core["memory_per_device"][i], rel=1e-12)
        assert r.feasible == bool(core["feasible"][i])


@PROPS
@given(p1=st.integers(1, 16000), dp=st.integers(1, 16000), b=st.integers(1, 64), tp=st.sampled_from([1, 2, 4, 8]),
       model=st.sampled_from([L8, L70, MIXTRAL]))
def test_ttft_grows_with_prompt_length(p1, dp, b, tp, model):
    r = serving_core(model, H100, batch_size=b, prompt_len=np.array([p1, p1 + dp]), output_len=0, tp=tp,
                     precision="fp16", kv_precision="fp16")
    assert r["ttft"][1] > r["ttft"][0]


@PROPS
@given(b=st.integers(1, 256), p=st.integers(1, 32000), o=st.integers(0, 4000), tp=st.sampled_from([1, 2, 4, 8]),
       model=st.sampled_from([L8, L70, MIXTRAL]), hw=st.sampled_from([A100, H100]))
def test_feasible_serving_never_exceeds_capacity(b, p, o, tp, model, hw):
    r = serving_core(model, hw, batch_size=b, prompt_len=p, output_len=o, tp=tp, precision="fp16", kv_precision="fp16")
    assert bool(r["feasible"]) == bool(r["memory_per_device"] <= hw.si["memory_capacity"])


@PROPS
@given(peak=st.floats(50, 2000), bw=st.floats(200, 8000), k=st.floats(1.0, 3.0), b=st.integers(1, 128),
       p=st.integers(16, 8192), which=st.sampled_from(["flops", "bw"]))
def test_more_bandwidth_or_flops_never_increases_serving_latency(peak, bw, k, b, p, which):
    base = make_hw(peak, bw)
    better = make_hw(peak * k, bw) if which == "flops" else make_hw(peak, bw * k)
    kw = dict(batch_size=b, prompt_len=p, output_len=16, tp=1, precision="fp16", kv_precision="fp16")
    r0, r1 = serving_core(L8, base, **kw), serving_core(L8, better, **kw)
    assert r1["itl"] <= r0["itl"] * (1 + 1e-12) and r1["ttft"] <= r0["ttft"] * (1 + 1e-12)


def test_serving_bad_inputs():
    with pytest.raises(UserInputError, match="batch_size"):
        ServingModel().solve(L8, H100, batch_size=-4)
    with pytest.raises(UserInputError, match="output_len"):
        ServingModel().solve(L8, H100, output_len=-1)
    with pytest.raises(UnknownNameError, match="precision"):
        ServingModel().solve(L8, H100, precision="fp12")
    with pytest.raises(UnknownNameError, match="precision"):
        ServingModel().solve(L8, H100, kv_precision="q3")
    with pytest.raises(UnitError, match="seq_len"):
        ServingModel().solve(L8, H100, seq_len=Q_(2, "ms"))
    with pytest.raises(UserInputError, match="transformer"):
        ServingModel().solve(R50, H100)


def test_serving_rejects_tp_not_dividing_heads():
    with pytest.raises(UserInputError):
        ServingModel().solve(L8, H100, tp_size=3)


# =========================================================================================
# Collectives
# =========================================================================================

def test_ring_collectives_hand_arithmetic():
    S, B, a = 1e9, 100e9, 5e-6
    # all-reduce on 8 ranks: 2·7/8 · 1e9/100e9 + 2·7·5e-6 = 0.0175 + 0.00007 = 0.01757 s
    assert coll.all_reduce_time(S, 8, B, a) == pytest.approx(0.01757, rel=REL)
    # all-gather / reduce-scatter: 7/8 · 0.01 + 7·5e-6 = 0.008785 s
    assert coll.all_gather_time(S, 8, B, a) == pytest.approx(0.008785, rel=REL)
    assert coll.reduce_scatter_time(S, 8, B, a) == pytest.approx(0.008785, rel=REL)
    assert coll.all_to_all_time(S, 8, B, a) == pytest.approx(0.008785, rel=REL)
    assert coll.p2p_time(S, B, a) == pytest.approx(0.01 + 5e-6, rel=REL)
    # one rank: nothing to communicate
    assert coll.all_reduce_time(S, 1, B, a) == 0.0 and coll.all_gather_time(S, 1, B, a) == 0.0
    # vectorized over n; the bandwidth term tends to 2·S/B
    n = np.array([2, 4, 1024])
    np.testing.assert_allclose(coll.all_reduce_time(S, n, B, 0.0), 2 * (n - 1) / n * S / B, rtol=REL)


def test_group_link_inside_or_across_nodes():
    bw, lat = coll.group_link(np.array([8, 16, 2]), np.array([1, 1, 8]), 8, 300e9, 1e-6, 25e9, 5e-6)
    # 8 ranks stride 1 fit in an 8-GPU node (NVLink); 16 do not; 2 ranks 8 apart span two nodes
    np.testing.assert_array_equal(bw, [300e9, 25e9, 25e9])
    np.testing.assert_array_equal(lat, [1e-6, 5e-6, 5e-6])


# =========================================================================================
# Training memory
# =========================================================================================

def test_adam_16_bytes_per_param_and_zero_stages():
    P, d = 1e9, 8
    s0 = model_state_bytes(P, d, 0)
    # mixed-precision Adam: 2 (weights) + 2 (grads) + 12 (fp32 master, m, v) = 16 B/param
    assert s0["weights"] + s0["gradients"] + s0["optimizer"] == 16e9
    s1, s2, s3 = (model_state_bytes(P, d, z) for z in (1, 2, 3))
    assert s1["weights"] + s1["gradients"] + s1["optimizer"] == pytest.approx(2e9 + 2e9 + 12e9 / 8)   # 5.5 GB
    assert s2["weights"] + s2["gradients"] + s2["optimizer"] == pytest.approx(2e9 + 2e9 / 8 + 12e9 / 8)  # 3.75 GB
    assert s3["weights"] + s3["gradients"] + s3["optimizer"] == pytest.approx(16e9 / 8)                # 2 GB


def test_korthikanti_activation_formula():
    s, b, h, a, t = 2048, 1, 12288, 96, 8
    sbh = s * b * h
    # TP + SP, FlashAttention (no score matrix): 34·s·b·h / t
    assert activation_bytes_per_layer(s, b, h, a, t, 1, 0) == pytest.approx(34 * sbh / t, rel=REL)
    # TP without SP: s·b·h·(10 + 24/t)
    assert activation_bytes_per_layer(s, b, h, a, t, 0, 0) == pytest.approx(sbh * (10 + 24 / t), rel=REL)
    # TP + SP with the attention scores materialized: s·b·h·(34/t + 5·a·s/(h·t))   (Korthikanti Table 2)
    assert activation_bytes_per_layer(s, b, h, a, t, 1, 0, False) == pytest.approx(
        sbh * (34 / t + 5 * a * s / (h * t)), rel=REL)
    # selective recomputation drops the 5·a·s/h term
    assert activation_bytes_per_layer(s, b, h, a, t, 1, 1, False) == pytest.approx(34 * sbh / t, rel=REL)
    # full recomputation keeps the layer input, 2·s·b·h (split by t under SP)
    assert activation_bytes_per_layer(s, b, h, a, t, 1, 2) == pytest.approx(2 * sbh / t, rel=REL)
    assert activation_bytes_per_layer(s, b, h, a, 1, 0, 2) == pytest.approx(2 * sbh, rel=REL)
    # 1F1B: first stage holds min(p, m) microbatches; interleaving x (1 + (p-1)/(p·v))
    assert in_flight_factor(8, 64, 1) == 8
    assert in_flight_factor(8, 4, 1) == 4
    assert in_flight_factor(8, 64, 2) == pytest.approx(8 * (1 + 7 / 16), rel=REL)


# =========================================================================================
# Distributed training
# =========================================================================================

G22 = gpt(48, 6144, 64)     # 22B of Korthikanti Table 3
FLEET = cluster(8)          # 64 A100


def _dist(**kw):
    base = dict(tp=8, pp=1, micro_batch=1, global_batch=64, seq_len=2048, sp=1, recompute=1)
    base.update(kw)
    return distributed_core(G22, FLEET, **base)


def test_bubble_fraction_is_p_minus_1_over_v_m():
    # p = 4, dp = 64/(8·4) = 2, m = 64/(2·1) = 32: bubble / ideal = (p-1)/m = 3/32
    r = _dist(tp=8, pp=4)
    ideal = r["compute_time"] + r["tp_comm_time"] + r["cp_comm_time"] + r["ep_comm_time"] + r["pp_comm_time"]
    assert r["microbatches"] == 32
    assert r["bubble_time"] / ideal == pytest.approx(3 / 32, rel=REL)
    # interleaved with v = 2: (p-1)/(v·m) = 3/64
    r2 = _dist(tp=8, pp=4, virtual_stages=2)
    ideal2 = r2["compute_time"] + r2["tp_comm_time"] + r2["cp_comm_time"] + r2["ep_comm_time"] + r2["pp_comm_time"]
    assert r2["bubble_time"] / ideal2 == pytest.approx(3 / 64, rel=REL)
    assert _dist(tp=8, pp=1)["bubble_time"] == 0.0


def test_model_state_memory_is_16_bytes_per_param_without_zero():
    r = DistributedModel().solve(G22, FLEET, batch_size=64, seq_len=2048, tp_size=8, pp_size=1, zero_stage=0)
    mb = r.memory_breakdown
    state = sum(mb[k].m_as("byte") for k in ("weights_memory", "gradients_memory", "optimizer_memory"))
    assert state == pytest.approx(16 * G22.parameters / 8, rel=REL)  # 16 B/param over tp = 8
    r3 = DistributedModel().solve(G22, FLEET, batch_size=64, seq_len=2048, tp_size=8, pp_size=1, zero_stage=3)
    state3 = sum(r3.memory_breakdown[k].m_as("byte") for k in ("weights_memory", "gradients_memory", "optimizer_memory"))
    assert state3 == pytest.approx(16 * G22.parameters / 8 / 8, rel=REL)  # ZeRO-3 over dp = 8


def test_korthikanti_mfu_within_20_percent():
    # Korthikanti et al. 2022, Table 5 (selective recomputation + SP): MFU 41.5 % (22B, 8 GPUs),
    # 51.4 % (175B, 64 GPUs), 56.0 % (530B, 280 GPUs), 56.3 % (1T, 512 GPUs)
    cases = [((48, 6144, 64), 8, 1, 1, 4, 0.415), ((96, 12288, 96), 8, 8, 8, 64, 0.514),
             ((105, 20480, 128), 8, 35, 35, 280, 0.560), ((128, 25600, 160), 8, 64, 64, 512, 0.563)]
    for arch, t, p, nodes, B, mfu in cases:
        r = DistributedModel().solve(gpt(*arch), cluster(nodes), batch_size=B, seq_len=2048, tp_size=t, pp_size=p,
                                     activation_recomputation="selective", sequence_parallel=True)
        assert r.feasible
        assert r.mfu == pytest.approx(mfu, rel=0.20)


def test_distributed_result_dimensions():
    r = DistributedModel().solve(G22, FLEET, batch_size=64, seq_len=2048, tp_size=8, pp_size=2)
    assert_dim(r.step_time, "s")
    assert_dim(r.tokens_per_s, "token/s")
    assert_dim(r.samples_per_s, "sample/s")
    assert_dim(r.memory_per_device, "byte")
    for q in r.breakdown.values():
        assert_dim(q, "s")
    for q in r.memory_breakdown.values():
        assert_dim(q, "byte")
    for x in (r.mfu, r.hfu, r.scaling_efficiency, r.bubble_fraction):
        assert isinstance(x, float) and 0 <= x <= 1


def test_distributed_scalar_equals_vectorized_core():
    tp = np.array([1, 2, 4, 8, 8, 2])
    pp = np.array([1, 2, 4, 2, 1, 8])
    z = np.array([0, 1, 2, 3, 1, 0])
    rc = np.array([0, 1, 2, 0, 1, 2])
    mb = np.array([1, 2, 1, 1, 2, 1])
    sp = (tp > 1).astype(float)
    core = distributed_core(G22, FLEET, tp=tp, pp=pp, micro_batch=mb, global_batch=128, seq_len=2048,
                            zero_stage=z, recompute=rc, sp=sp)
    modes = ("none", "selective", "full")
    for i in range(len(tp)):
        r = DistributedModel().solve(G22, FLEET, batch_size=128, seq_len=2048, tp_size=int(tp[i]), pp_size=int(pp[i]),
                                     microbatch_size=int(mb[i]), zero_stage=int(z[i]),
                                     activation_recomputation=modes[rc[i]])
        assert r.step_time.m_as("s") == pytest.approx(core["step_time"][i], rel=1e-12)
        assert r.memory_per_device.m_as("byte") == pytest.approx(core["memory_per_device"][i], rel=1e-12)
        assert r.mfu == pytest.approx(core["mfu"][i], rel=1e-12)
        assert r.feasible == bool(core["feasible"][i])


_split = st.tuples(st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2]),
                   st.integers(0, 3), st.integers(0, 2), st.sampled_from([1, 2]))


@PROPS
@given(split=_split)
def test_step_time_breakdown_sums_to_step_time(split):
    t, p, mb, z, rc, v = split
    v = v if p > 1 else 1
    r = DistributedModel().solve(G22, FLEET, batch_size=128, seq_len=2048, tp_size=t, pp_size=p, microbatch_size=mb,
                                 zero_stage=z, activation_recomputation=("none", "selective", "full")[rc],
                                 virtual_stages=v)
    total = sum(q.m_as("s") for q in r.breakdown.values())
    assert total == pytest.approx(r.step_time.m_as("s"), rel=1e-9)


@PROPS
@given(split=_split)
def test_zero_stage_up_never_raises_memory(split):
    t, p, mb, _, rc, _ = split
    r = distributed_core(G22, FLEET, tp=t, pp=p, micro_batch=mb, global_batch=128, seq_len=2048,
                         zero_stage=np.array([0, 1, 2, 3]), recompute=rc, sp=float(t > 1))
    assert np.all(np.diff(r["memory_per_device"]) <= 0)


@PROPS
@given(split=_split)
def test_full_recomputation_lowers_activations_and_raises_compute(split):
    t, p, mb, z, _, _ = split
    r = distributed_core(G22, FLEET, tp=t, pp=p, micro_batch=mb, global_batch=128, seq_len=2048, zero_stage=z,
                         recompute=np.array([0, 2]), sp=float(t > 1))
    assert r["activation_memory"][1] < r["activation_memory"][0]
    assert r["compute_time"][1] > r["compute_time"][0]
    assert r["hfu"][1] > r["mfu"][1]


@PROPS
@given(split=_split, nodes=st.sampled_from([1, 2, 8, 16]), B=st.sampled_from([32, 128, 512]))
def test_feasible_training_configs_fit_in_memory(split, nodes, B):
    t, p, mb, z, rc, _ = split
    r = distributed_core(G22, cluster(nodes), tp=t, pp=p, micro_batch=mb, global_batch=B, seq_len=2048,
                         zero_stage=z, recompute=rc, sp=float(t > 1))
    if r["feasible"]:
        assert r["memory_per_device"] <= A100.si["memory_capacity"]
        assert r["valid"]


def test_invalid_split_is_reported_not_raised():
    r = DistributedModel().solve(G22, FLEET, batch_size=64, seq_len=2048, tp_size=3)
    assert r.feasible is False and "whole number" in r.reason
    r = DistributedModel().solve(G22, FLEET, batch_size=64, seq_len=2048, tp_size=8, pp_size=5)
    assert r.feasible is False and r.reason


def test_distributed_bad_inputs():
    with pytest.raises(UserInputError, match="batch_size"):
        DistributedModel().solve(G22, FLEET, batch_size=-8)
    with pytest.raises(UnknownNameError, match="recomputation"):
        DistributedModel().solve(G22, FLEET, batch_size=64, activation_recomputation="partial")
    with pytest.raises(UserInputError, match="zero_stage"):
        DistributedModel().solve(G22, FLEET, batch_size=64, zero_stage=4)
    with pytest.raises(UnknownNameError, match="precision"):
        DistributedModel().solve(G22, FLEET, batch_size=64, precision="fp17")
    with pytest.raises(UnitError, match="seq_len"):
        DistributedModel().solve(G22, FLEET, batch_size=64, seq_len=Q_(1, "s"))
    with pytest.raises(UserInputError, match="transformer"):
        DistributedModel().solve(R50, FLEET, batch_size=64)


# =========================================================================================
# Hardware copies (used by the sensitivity solver)
# =========================================================================================

def test_hardware_model_copy_refreshes_si():
    mem = A100.memory.model_copy(update={"bandwidth": Q_(1, "TB/s")})
    _ = A100.si  # populate the cache
    copy = A100.model_copy(update={"memory": mem})
    assert copy.si["memory_bandwidth"] == 1e12
