"""Tests of the serving family built on serving_core: continuous batching, weight streaming and
inference-time (reasoning) scaling. Hand arithmetic is written next to each expected number."""
from __future__ import annotations

import math

import numpy as np
import pint
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim
from mlsysim.core.errors import UnitError, UnknownNameError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.batching import ContinuousBatchingModel, batching_core
from mlsysim.physics.efficiency import compute_efficiency
from mlsysim.physics.reasoning import InferenceScalingModel, reasoning_core
from mlsysim.physics.serving import serving_core
from mlsysim.physics.streaming import DEFAULT_STREAMING_BANDWIDTH, WeightStreamingModel, streaming_core

from physics_fixtures import A100, CS3, H100, L70, L8, MIXTRAL, R50, make_hw

B200 = mlsysim.Hardware.get("B200")

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REL = 1e-9


def assert_dim(q, unit: str):
    assert isinstance(q, pint.Quantity), f"{q!r} is not a Quantity"
    assert q.is_compatible_with(unit), f"{q} is not compatible with {unit}"
    if "byte" in unit:
        assert "byte" in repr(q.units), f"{q} does not carry a byte unit"


def test_public_names_resolve_to_these_modules():
    assert mlsysim.ContinuousBatchingModel is ContinuousBatchingModel
    assert mlsysim.WeightStreamingModel is WeightStreamingModel
    assert mlsysim.InferenceScalingModel is InferenceScalingModel


# =========================================================================================
# Continuous batching
# =========================================================================================

def test_kv_limited_concurrency_hand_arithmetic():
    r = ContinuousBatchingModel().solve(L8, A100, seq_len=2048, max_batch=512, output_len=256, block_size=16)
    # budget = 0.9 x 80e9 (gpu_memory_utilization) - 8,030,261,248 x 2 B weights
    #          - 8192 tokens x 34 x 4096 x 2/2 B activation workspace = 54,798,626,816 B
    budget = 0.9 * 80e9 - 8_030_261_248 * 2 - 8192 * 34 * 4096
    assert r.kv_cache_budget.m_as("byte") == pytest.approx(budget, rel=REL)
    # KV per token 2·32·8·128·2 = 131,072 B; a request holds on average 2048 + 256/2 = 2176 tokens,
    # plus half a block (15/2 = 7.5 tokens) of last-block waste -> 2183.5 x 131,072 = 286.19 MB
    per_req = 2183.5 * 131_072
    assert r.kv_per_request.m_as("byte") == pytest.approx(per_req, rel=REL)
    # floor(54.80e9 / 286.19e6) = 191 requests (< max_batch = 512 and < the token budget
    # 8192 / (1 + 2048/256) = 910: KV memory is the limit)
    assert r.max_concurrent_requests == math.floor(budget / per_req) == 191
    assert r.effective_batch == 191 and r.bottleneck == "kv_memory"
    # paging wastes 7.5 of 2183.5 allocated tokens = 0.34 %
    assert r.kv_fragmentation == pytest.approx(7.5 / 2183.5, rel=REL)
    # TensorRT-LLM's no-evict admission reserves the whole prompt + output: 2304 + 7.5 tokens -> 181
    ne = ContinuousBatchingModel().solve(L8, A100, seq_len=2048, max_batch=512, output_len=256, admission="no_evict")
    assert ne.max_concurrent_requests == math.floor(budget / (2311.5 * 131_072)) == 180


def test_token_budget_caps_concurrency_for_long_prompts():
    # prompt 8000, output 100: each running request brings 1 + 8000/100 = 81 tokens per iteration
    # (its decode token + its share of prefill chunks) -> at most floor(8192 / 81) = 101 requests
    r = ContinuousBatchingModel().solve(L8, B200, seq_len=8000, max_batch=4096, output_len=100)
    assert r.effective_batch == 101 and r.bottleneck == "token_budget"


def test_paging_waste_is_less_than_one_block_per_sequence():
    for blk in (1, 8, 16, 32, 128):
        r = ContinuousBatchingModel().solve(L8, H100, seq_len=1000, max_batch=64, output_len=100, block_size=blk)
        alloc_tokens = r.kv_per_request.m_as("byte") / 131_072
        assert r.kv_fragmentation * alloc_tokens < blk
        assert r.kv_fragmentation * alloc_tokens == pytest.approx((blk - 1) / 2, abs=1e-6)


def test_without_paging_reservation_wastes_60_to_80_percent():
    # reserve max_seq_len = 8192 tokens per request, hold 2176 on average: 1 - 2176/8192 = 73.4 %
    # (Kwon et al. 2023: 60-80 % of KV memory wasted in pre-vLLM systems)
    r = ContinuousBatchingModel().solve(L8, A100, seq_len=2048, max_batch=512, output_len=256, paged_attention=False)
    assert r.kv_fragmentation == pytest.approx(1 - 2176 / 8192, rel=REL)
    assert 0.6 <= r.kv_fragmentation <= 0.8
    # 54.80e9 / (8192 x 131,072 B = 1.074 GB) = 51 requests instead of 191
    assert r.max_concurrent_requests == 51
    paged = ContinuousBatchingModel().solve(L8, A100, seq_len=2048, max_batch=512, output_len=256)
    assert paged.max_concurrent_requests > r.max_concurrent_requests
    assert paged.decode_throughput > r.decode_throughput
    assert paged.throughput >= r.throughput
    # a reservation never shorter than the request itself
    short = ContinuousBatchingModel().solve(L8, A100, seq_len=2048, output_len=256, paged_attention=False, reserve_len=1024)
    assert short.kv_fragmentation == pytest.approx(1 - 2176 / 2304, rel=REL)


def test_chunked_prefill_iteration_hand_arithmetic():
    r = ContinuousBatchingModel().solve(L70, H100, seq_len=1024, max_batch=32, output_len=512, tp_size=4)
    n = r.effective_batch
    assert n == 32 and r.bottleneck == "max_batch"
    # Sarathi-Serve steady state: 32/512 requests finish per iteration, so each iteration carries
    # 32 decode tokens + 32 x 1024/512 = 64 prefill-chunk tokens = 96 tokens
    tokens = 32 * (1 + 1024 / 512)
    # GEMM phase (tp 4): weights 141.107e9 / 4 B + activations 96 x 2·34·8192·80 / 4 B at 0.9 x 3.35 TB/s
    # = 11.78 ms; math 96 x 2 x 69.5e9 / 4 FLOP at peak x efficiency ~ 5 ms -> memory-bound
    eff = compute_efficiency(L70, 4, H100, "fp16")
    gemm = max((70_553_706_496 * 2 + tokens * 2 * 34 * 8192 * 80) / 4 / (3.35e12 * 0.9),
               tokens * 2 * 69_503_033_344 / 4 / (989.4e12 * eff))
    # attention phase: KV of 32 requests at the mean context 1024 + 512/2 = 1280, plus the 64 chunk
    # tokens written: 41,024 tokens x 327,680 B / 4 (8 KV heads over 4 ranks) at 0.75 x 3.35 TB/s
    # = 1.338 ms; math (32 x 1280 + 32/512 x 1024²/2) pairs x 4 x 80 x 8192 / 4 -> KV-bound
    attn = max(41_024 * 327_680 / 4 / (3.35e12 * 0.75),
               (32 * 1280 + 32 / 512 * 1024 ** 2 / 2) * 4 * 80 * 8192 / 4 / (989.4e12 * eff))
    # two all-reduces per layer of 96 x 8192 x 2 B over 4 ranks (450 GB/s per direction x 0.8,
    # 1 us per hop): 160 x (6.55 + 6) us = 2.01 ms
    lat = H100.si["link_latency"]
    comm = 160 * (2 * 0.75 * tokens * 8192 * 2 / (450e9 * 0.8) + 6 * lat)
    # + 0.5 ms per-step overhead: 11.78 + 1.34 + 2.01 + 0.5 = 15.6-15.9 ms (the GEMM phase includes
    # the 96 tokens' activation traffic)
    itl = gemm + attn + comm + 0.5e-3
    assert r.itl.m_as("s") == pytest.approx(itl, rel=1e-9)
    assert r.itl.m_as("ms") == pytest.approx(15.9, abs=0.1)
    # throughput: 32 output tokens per iteration; requests: 32/512 per iteration
    assert r.throughput.m_as("token/s") == pytest.approx(32 / itl, rel=1e-9)
    assert r.request_throughput.m_as("request/s") == pytest.approx(32 / (512 * itl), rel=1e-9)
    # TTFT: one request's prefill alone (serving_core); e2e = TTFT + 512 iterations
    one = serving_core(L70, H100, batch_size=1, prompt_len=1024, output_len=512, tp=4, precision="fp16",
                       kv_precision="fp16")
    assert r.ttft.m_as("s") == pytest.approx(one["ttft"], rel=REL)
    assert r.e2e_latency.m_as("s") == pytest.approx(one["ttft"] + 512 * itl, rel=REL)


def test_chunked_prefill_beats_serial_batch_one_prefills():
    # the old schedule: n prefills one at a time, then o decode steps at batch n. Mixing the chunks
    # into decode iterations reads the weights once for both, so it is never slower here
    r = ContinuousBatchingModel().solve(L8, H100, seq_len=1024, max_batch=64, output_len=256)
    one = serving_core(L8, H100, batch_size=1, prompt_len=1024, output_len=256, tp=1, precision="fp16",
                       kv_precision="fp16")
    dec = serving_core(L8, H100, batch_size=64, prompt_len=1024, output_len=128, tp=1, precision="fp16",
                       kv_precision="fp16")
    serial = 64 * 256 / (64 * one["ttft"] + 256 * dec["itl"])
    assert r.throughput.m_as("token/s") > serial


def test_batching_infeasible_when_weights_do_not_fit():
    r = ContinuousBatchingModel().solve(L70, A100, seq_len=2048, max_batch=64)
    assert r.feasible is False and r.effective_batch == 0 and r.max_concurrent_requests == 0
    assert r.throughput.magnitude == 0 and "80 GB" in r.reason and "tp_size" in r.reason
    # tp 2: 70.55 GB of weights + 2.28 GB workspace leave no KV room in 0.9 x 80 GB (vLLM's
    # "No available memory for the cache blocks" for 70B fp16 on 2 x A100-80GB at the default 0.9)
    assert ContinuousBatchingModel().solve(L70, A100, seq_len=2048, max_batch=64, tp_size=2).feasible is False
    assert ContinuousBatchingModel().solve(L70, A100, seq_len=2048, max_batch=64, tp_size=4).feasible is True


def test_batching_result_dimensions():
    r = ContinuousBatchingModel().solve(L8, H100, seq_len=512, max_batch=64)
    dims = {"throughput": "token/s", "request_throughput": "request/s", "decode_throughput": "token/s",
            "itl": "s", "ttft": "s", "e2e_latency": "s", "kv_cache_budget": "byte", "kv_cache_used": "byte",
            "kv_cache_allocated": "byte", "kv_per_request": "byte"}
    for name, unit in dims.items():
        assert_dim(getattr(r, name), unit)
    assert isinstance(r.max_concurrent_requests, int) and isinstance(r.effective_batch, int)
    assert isinstance(r.kv_fragmentation, float) and isinstance(r.feasible, bool)
    assert r.kv_cache_used <= r.kv_cache_allocated <= r.kv_cache_budget
    assert r.to_dict()["throughput"]["unit"]


def test_batching_scalar_equals_vectorized_core():
    mb = np.array([1, 8, 64, 512, 256, 32])
    p = np.array([128, 2048, 512, 4096, 1000, 8000])
    o = np.array([1, 256, 0, 64, 1000, 16])
    paged = np.array([1, 0, 1, 1, 0, 1])
    blk = np.array([16, 16, 32, 8, 16, 1])
    core = batching_core(L8, H100, max_batch=mb, prompt_len=p, output_len=o, tp=1, precision="fp16",
                         kv_precision="fp16", paged=paged, block_size=blk)
    for i in range(len(mb)):
        r = ContinuousBatchingModel().solve(L8, H100, seq_len=int(p[i]), max_batch=int(mb[i]), output_len=int(o[i]),
                                            paged_attention=bool(paged[i]), block_size=int(blk[i]))
        assert r.throughput.m_as("token/s") == pytest.approx(core["throughput"][i], rel=1e-12)
        assert r.itl.m_as("s") == pytest.approx(core["itl"][i], rel=1e-12)
        assert r.effective_batch == core["effective_batch"][i]
        assert r.kv_fragmentation == pytest.approx(core["kv_fragmentation"][i], rel=1e-12)


@PROPS
@given(p=st.integers(16, 8000), o=st.integers(1, 2000), paged=st.booleans(), cap=st.floats(20, 200),
       model=st.sampled_from([L8, MIXTRAL]))
def test_batching_throughput_never_decreases_with_max_batch(p, o, paged, cap, model):
    hw = make_hw(989.0, 3350.0, cap)
    r = batching_core(model, hw, max_batch=np.arange(1, 513, dtype=float), prompt_len=p, output_len=o,
                      precision="fp16", paged=float(paged), block_size=16)
    t = r["throughput"]
    assert np.all(np.diff(t) >= -1e-9 * t[:-1])
    assert np.all(r["effective_batch"] <= r["max_concurrent"])


@PROPS
@given(cap=st.floats(20, 200), k=st.floats(1, 3), p=st.integers(16, 8000), paged=st.booleans())
def test_more_capacity_never_lowers_concurrency(cap, k, p, paged):
    kw = dict(max_batch=10_000, prompt_len=p, output_len=128, precision="fp16", paged=float(paged))
    a = batching_core(L8, make_hw(989.0, 3350.0, cap), **kw)
    b = batching_core(L8, make_hw(989.0, 3350.0, cap * k), **kw)
    assert b["max_concurrent"] >= a["max_concurrent"]
    if a["feasible"]:
        assert a["kv_allocated"] <= a["kv_budget"] * (1 + 1e-12)


def test_batching_bad_inputs():
    m = ContinuousBatchingModel()
    with pytest.raises(UserInputError, match="max_batch"):
        m.solve(L8, H100, max_batch=-1)
    with pytest.raises(UserInputError, match="block_size"):
        m.solve(L8, H100, block_size=0)
    with pytest.raises(UnknownNameError, match="precision"):
        m.solve(L8, H100, precision="fp7")
    with pytest.raises(UnitError, match="seq_len"):
        m.solve(L8, H100, seq_len=Q_(1, "s"))
    with pytest.raises(UserInputError, match="transformer"):
        m.solve(R50, H100)


# =========================================================================================
# Weight streaming
# =========================================================================================

def test_weight_streaming_hand_arithmetic():
    r = WeightStreamingModel().solve(L70, CS3, seq_len=2048, batch_size=1)
    # default stream bandwidth 1.2 Tb/s = 150 GB/s; 141.107e9 B / 150e9 B/s = 0.94072 s per step
    assert DEFAULT_STREAMING_BANDWIDTH == 150e9
    assert r.streaming_bandwidth.m_as("GB/s") == pytest.approx(150, rel=REL)
    assert r.stream_time.m_as("s") == pytest.approx(70_553_706_496 * 2 / 150e9, rel=REL)
    # compute per token: (2 · 69,503,033,344 + 4 · 80 · 2048 · 8192) FLOP / (125e15 x efficiency on CS-3)
    flops = 2 * 69_503_033_344 + 4 * 80 * 2048 * 8192
    rate = 125e15 * compute_efficiency(L70, 1, CS3, "fp16")
    assert r.compute_time.m_as("s") == pytest.approx(flops / rate, rel=REL)
    assert r.bottleneck == "Streaming" and r.itl == r.stream_time
    # ridge: b* = ceil(141.107e9 / 150e9 x 9.0888e16 / 1.4438e11) = 592,205
    assert r.optimal_batch == math.ceil(70_553_706_496 * 2 / 150e9 * rate / flops)
    # the KV cache of one 2048-token sequence (2048 x 327,680 B = 0.671 GB) + one layer's activations
    assert r.on_chip_memory.m_as("byte") == pytest.approx(2048 * 327_680 + 2 * 34 * 8192 * 2048, rel=REL)
    assert r.max_batch_on_chip == math.floor(44e9 / (2048 * 327_680 + 2 * 34 * 8192 * 2048))  # 38


def test_weight_streaming_throughput_vs_batch_and_ridge():
    bw = Q_(2, "TB/s")
    opt = WeightStreamingModel().solve(L8, CS3, seq_len=512, batch_size=1, streaming_bandwidth=bw).optimal_batch
    r = streaming_core(L8, CS3, batch_size=np.arange(1, 3 * opt, dtype=float), seq_len=512, streaming_bandwidth=2e12)
    b = np.arange(1, 3 * opt)
    below, above = b < opt, b >= opt
    # below the ridge the step is the weight stream: throughput = b · bw / W, linear in b
    np.testing.assert_allclose(r["throughput"][below], b[below] * 2e12 / L8.weight_bytes("fp16"), rtol=REL)
    assert np.all(r["stream_bound"][below]) and not np.any(r["stream_bound"][above][1:])
    # at and above it, compute-bound: throughput flat at rate / FLOPs per token
    flops = L8.forward_flops_per_token(512)
    np.testing.assert_allclose(r["throughput"][above], 125e15 * compute_efficiency(L8, 1, CS3, "fp16") / flops, rtol=REL)
    # the ridge is the smallest batch with compute >= stream
    assert r["compute_time"][opt - 1] >= r["stream_time"][opt - 1]
    assert r["compute_time"][opt - 2] < r["stream_time"][opt - 2]
    np.testing.assert_allclose(r["time_per_token"], r["step_time"] / b, rtol=REL)


@PROPS
@given(bw=st.floats(1e10, 1e13), s=st.integers(16, 8192), model=st.sampled_from([L8, L70, MIXTRAL]))
def test_optimal_batch_is_the_streaming_ridge(bw, s, model):
    r = streaming_core(model, CS3, batch_size=1.0, seq_len=s, streaming_bandwidth=bw)
    b = float(r["optimal_batch"])
    at = streaming_core(model, CS3, batch_size=np.array([b, max(b - 1, 1)]), seq_len=s, streaming_bandwidth=bw)
    assert at["compute_time"][0] >= at["stream_time"][0] * (1 - 1e-9)
    if b > 1:
        assert at["compute_time"][1] < at["stream_time"][1]


def test_weight_streaming_feasibility_and_dimensions():
    r = WeightStreamingModel().solve(L70, CS3, seq_len=2048, batch_size=64)
    assert r.feasible is False and r.max_batch_on_chip < 64
    ok = WeightStreamingModel().solve(L70, CS3, seq_len=2048, batch_size=r.max_batch_on_chip)
    assert ok.feasible is True
    for name, unit in {"itl": "s", "time_per_token": "s", "throughput": "token/s", "stream_time": "s",
                       "compute_time": "s", "ttft": "s", "weight_bytes_streamed": "byte", "on_chip_memory": "byte",
                       "on_chip_capacity": "byte", "streaming_bandwidth": "byte/s"}.items():
        assert_dim(getattr(ok, name), unit)
    assert isinstance(ok.optimal_batch, int) and isinstance(ok.max_batch_on_chip, int)


def test_weight_streaming_moe_streams_only_routed_experts():
    r1 = WeightStreamingModel().solve(MIXTRAL, CS3, seq_len=512, batch_size=1)
    r64 = WeightStreamingModel().solve(MIXTRAL, CS3, seq_len=512, batch_size=64)
    # batch 1 touches 2 of 8 experts per layer; 64 tokens touch nearly all
    assert r1.weight_bytes_streamed < r64.weight_bytes_streamed
    assert r64.weight_bytes_streamed.m_as("byte") <= MIXTRAL.weight_bytes("fp16") * (1 + 1e-12)
    assert r1.weight_bytes_streamed.m_as("byte") >= MIXTRAL.active_parameters * 2 * (1 - 1e-9)


def test_weight_streaming_scalar_equals_core_and_bad_inputs():
    bs = np.array([1, 7, 64, 1000])
    core = streaming_core(L8, CS3, batch_size=bs, seq_len=1024, streaming_bandwidth=1e12)
    for i, b in enumerate(bs):
        r = WeightStreamingModel().solve(L8, CS3, seq_len=1024, batch_size=int(b), streaming_bandwidth=Q_(1, "TB/s"))
        assert r.itl.m_as("s") == pytest.approx(core["step_time"][i], rel=1e-12)
        assert r.throughput.m_as("token/s") == pytest.approx(core["throughput"][i], rel=1e-12)
    with pytest.raises(UnitError, match="streaming_bandwidth"):
        WeightStreamingModel().solve(L8, CS3, streaming_bandwidth=Q_(1, "ms"))
    with pytest.raises(UserInputError, match="batch_size"):
        WeightStreamingModel().solve(L8, CS3, batch_size=0)
    with pytest.raises(UnknownNameError):
        WeightStreamingModel().solve(L8, CS3, precision="fp9")


# =========================================================================================
# Inference-time scaling (reasoning)
# =========================================================================================

def test_reasoning_time_is_ttft_plus_tokens_times_itl():
    r = InferenceScalingModel().solve(L8, H100, reasoning_steps=10, tokens_per_step=100, samples=4, prompt_len=512)
    # 10 steps x 100 tokens = 1000 tokens per sample; 4 samples -> 4000 tokens
    assert r.tokens_per_sample.m_as("token") == 1000 and r.total_tokens.m_as("token") == 4000
    pre = serving_core(L8, H100, batch_size=1, prompt_len=512, output_len=1000, tp=1, precision="fp16", kv_precision="fp16")
    mid = serving_core(L8, H100, batch_size=4, prompt_len=512, output_len=500, tp=1, precision="fp16", kv_precision="fp16")
    # total = TTFT (shared prompt, batch 1) + 999 x ITL(batch 4, mean context 512 + 500)
    assert r.total_reasoning_time.m_as("s") == pytest.approx(pre["ttft"] + 999 * mid["itl"], rel=REL)
    assert r.time_per_step.m_as("s") == pytest.approx(100 * mid["itl"], rel=REL)
    assert r.throughput.m_as("token/s") == pytest.approx(4000 / r.total_reasoning_time.m_as("s"), rel=REL)
    # energy at TDP: 700 W x 1 device x time
    assert r.energy.m_as("J") == pytest.approx(700 * r.total_reasoning_time.m_as("s"), rel=REL)
    assert r.cost is None  # the H100 fixture has no cloud price


def test_reasoning_cost_with_a_cloud_price_and_tp():
    r = InferenceScalingModel().solve(L70, A100, reasoning_steps=5, tokens_per_step=200, tp_size=4)
    # 4 devices x 4 USD/hour x time
    assert r.cost.m_as("USD") == pytest.approx(4 * 4 / 3600 * r.total_reasoning_time.m_as("s"), rel=REL)
    assert r.energy.m_as("J") == pytest.approx(4 * 400 * r.total_reasoning_time.m_as("s"), rel=REL)
    assert r.feasible is True
    assert InferenceScalingModel().solve(L70, A100, reasoning_steps=5).feasible is False


def test_reasoning_energy_is_none_without_a_tdp():
    from mlsysim.hardware.types import HardwareNode

    no_tdp = HardwareNode(**{**{f: getattr(H100, f) for f in HardwareNode.model_fields}, "tdp": None})
    r = InferenceScalingModel().solve(L8, no_tdp, reasoning_steps=2)
    assert r.energy is None and r.cost is None and r.total_reasoning_time.magnitude > 0


def test_more_reasoning_costs_more_and_samples_amortize():
    m = InferenceScalingModel()
    t = [m.solve(L8, H100, reasoning_steps=s).total_reasoning_time.m_as("s") for s in (1, 2, 4, 8, 16)]
    assert all(b > a for a, b in zip(t, t[1:]))
    one = m.solve(L8, H100, reasoning_steps=8, samples=1)
    eight = m.solve(L8, H100, reasoning_steps=8, samples=8)
    # memory-bound decode: 8 samples decode together, far cheaper than 8 sequential runs
    assert one.total_reasoning_time < eight.total_reasoning_time < 2 * one.total_reasoning_time
    assert eight.total_tokens.m_as("token") == 8 * one.total_tokens.m_as("token")
    assert eight.memory_per_device > one.memory_per_device


def test_reasoning_scalar_equals_core_and_dimensions():
    steps = np.array([1, 5, 20])
    n = np.array([1, 4, 16])
    core = reasoning_core(L8, H100, reasoning_steps=steps, tokens_per_step=50, samples=n, prompt_len=256)
    for i in range(3):
        r = InferenceScalingModel().solve(L8, H100, reasoning_steps=int(steps[i]), tokens_per_step=50,
                                          samples=int(n[i]), prompt_len=256)
        assert r.total_reasoning_time.m_as("s") == pytest.approx(core["total_time"][i], rel=1e-12)
    for name, unit in {"total_reasoning_time": "s", "ttft": "s", "itl": "s", "time_per_step": "s",
                       "tokens_per_sample": "token", "total_tokens": "token", "throughput": "token/s",
                       "energy": "J", "memory_per_device": "byte"}.items():
        assert_dim(getattr(r, name), unit)
    assert isinstance(r.reasoning_steps, int) and isinstance(r.samples, int)


def test_reasoning_bad_inputs():
    m = InferenceScalingModel()
    with pytest.raises(UserInputError, match="reasoning_steps"):
        m.solve(L8, H100, reasoning_steps=-2)
    with pytest.raises(UserInputError, match="samples"):
        m.solve(L8, H100, samples=0)
    with pytest.raises(UnknownNameError):
        m.solve(L8, H100, precision="fp5")
    with pytest.raises(UnitError, match="prompt_len"):
        m.solve(L8, H100, prompt_len=Q_(3, "GB/s"))
    with pytest.raises(UserInputError, match="transformer"):
        m.solve(R50, H100)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(peak=st.floats(50, 2000), bw=st.floats(200, 8000), k=st.floats(1.0, 3.0), mb=st.integers(1, 1024),
       p=st.integers(16, 8192), o=st.integers(1, 4096), which=st.sampled_from(["flops", "bw", "link"]),
       admission=st.sampled_from(["on_demand", "no_evict"]))
def test_more_bandwidth_flops_or_link_never_lowers_batching_throughput(peak, bw, k, mb, p, o, which, admission):
    # the mixed chunked-prefill iteration is a sum of rooflines and an all-reduce: each term is
    # non-increasing in FLOP/s, HBM bandwidth and link bandwidth, and the concurrency does not
    # depend on them, so throughput never drops when one of them grows
    base = make_hw(peak, bw)
    better = {"flops": make_hw(peak * k, bw), "bw": make_hw(peak, bw * k),
              "link": make_hw(peak, bw, link_gbs=600.0 * k)}[which]
    kw = dict(max_batch=mb, prompt_len=p, output_len=o, tp=2, precision="fp16", admission=admission)
    r0, r1 = batching_core(L8, base, **kw), batching_core(L8, better, **kw)
    assert r1["effective_batch"] == r0["effective_batch"]
    assert r1["throughput"] >= r0["throughput"] * (1 - 1e-12)
    assert r1["itl"] <= r0["itl"] * (1 + 1e-12)
