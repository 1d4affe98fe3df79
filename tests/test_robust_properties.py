"""Issue #8, physics invariants under property-based testing (hypothesis, derandomized so CI is
reproducible): catalog hardware and models, and modified copies of them
(``HardwareNode.model_copy(update=...)``, which drops the cached ``si``).

* dimensional consistency of every result field of every Tier-1 model and solver;
* monotonicity: more bandwidth, FLOP/s or memory never makes a configuration slower or
  infeasible; a larger model never needs less memory;
* conservation: the step-time breakdown sums to the step time; energy = power x time; carbon =
  energy x PUE x intensity; TCO = CapEx + OpEx;
* the scalar API equals the vectorized core, element by element.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pint
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mlsysim
from mlsysim import (CheckpointModel, CompressionModel, ContinuousBatchingModel, DataModel, DistributedModel,
                     EconomicsModel, EfficiencyModel, InferenceScalingModel, OrchestrationModel, PowerModel,
                     ReliabilityModel, ResponsibleEngineeringModel, ScalingModel, SensitivitySolver, ServingModel,
                     SingleNodeModel, SustainabilityModel, SynthesisSolver, TailLatencyModel, TopologyModel,
                     TransformationModel, WeightStreamingModel)
from mlsysim.core.units import Q_
from mlsysim.physics.distributed import distributed_core
from mlsysim.physics.economics import economics_si
from mlsysim.physics.node import roofline_si
from mlsysim.physics.power import fleet_power_si
from mlsysim.physics.serving import serving_core
from mlsysim.physics.sustainability import sustainability_si

# Bounded for CI (the file runs in seconds); MLSYSIM_ROBUST_EXAMPLES=2000 runs a deeper search locally.
_DEEP = int(os.environ.get("MLSYSIM_ROBUST_EXAMPLES", "0"))
PROFILE = settings(max_examples=_DEEP or 60, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FEW = settings(PROFILE, max_examples=_DEEP or 25)

HW = mlsysim.Hardware
LLMS = ["Llama3_8B", "Llama3_70B", "Mistral_7B", "Qwen25_7B", "Gemma2_9B", "Phi3_Mini", "Mixtral_8x7B", "GPT2",
        "DeepSeek_V3"]
CNNS = ["ResNet50", "MobileNetV2"]
GPUS = ["H100", "A100", "H200", "B200", "MI300X", "L4", "T4", "A10", "Gaudi3", "TPUv5p", "JetsonAGX"]
CLUSTERS = ["H100_256", "Research_256", "B200_1024", "H100_8", "GB200_NVL72_Rack"]
PRECISIONS = ["fp32", "bf16", "fp16", "fp8", "int8"]

llms = st.sampled_from(LLMS).map(lambda k: mlsysim.Models.get(k))
models = st.sampled_from(LLMS + CNNS).map(lambda k: mlsysim.Models.get(k))
gpus = st.sampled_from(GPUS).map(lambda k: HW.get(k))
clusters = st.sampled_from(CLUSTERS).map(lambda k: mlsysim.Systems.Clusters.get(k))
# clusters whose catalog entries give a price (GB200 has none: economics refuses, by design)
priced_clusters = st.sampled_from([c for c in CLUSTERS if c != "GB200_NVL72_Rack"]).map(
    lambda k: mlsysim.Systems.Clusters.get(k))
factors = st.floats(1.0, 16.0, allow_nan=False)
pow2 = lambda lo, hi: st.integers(lo, hi).map(lambda e: 2 ** e)  # noqa: E731


# ------------------------------------------------------------------------------------------------
# Modified copies of catalog entries
# ------------------------------------------------------------------------------------------------
def scaled_hw(hw, *, peak=1.0, bandwidth=1.0, capacity=1.0, link=1.0):
    """``hw`` with its peak FLOP/s (every precision), memory bandwidth, capacity and link bandwidth
    multiplied by the given factors (``model_copy``: cached SI values are recomputed)."""
    c = hw.compute
    compute = c.model_copy(update={"peak_flops": c.peak_flops * peak,
                                   "precision_flops": {k: v * peak for k, v in c.precision_flops.items()}})
    memory = hw.memory.model_copy(update={"bandwidth": hw.memory.bandwidth * bandwidth,
                                          "capacity": hw.memory.capacity * capacity})
    update = {"compute": compute, "memory": memory}
    if hw.interconnect is not None:
        update["interconnect"] = hw.interconnect.model_copy(update={"bandwidth": hw.interconnect.bandwidth * link})
    return hw.model_copy(update=update)


def scaled_cluster(cluster, *, peak=1.0, bandwidth=1.0, capacity=1.0, link=1.0, fabric=1.0):
    node = cluster.node
    update = {"accelerator": scaled_hw(node.accelerator, peak=peak, bandwidth=bandwidth, capacity=capacity,
                                       link=link)}
    if node.intra_fabric is not None:
        update["intra_fabric"] = node.intra_fabric.model_copy(update={"bandwidth": node.intra_fabric.bandwidth * link})
    fab = cluster.fabric.model_copy(update={"bandwidth": cluster.fabric.bandwidth * fabric})
    return cluster.model_copy(update={"node": node.model_copy(update=update), "fabric": fab})


def test_model_copy_drops_cached_si():
    """The premise of the monotonicity tests: a modified copy reports its own specs."""
    h = HW.H100
    _ = h.si, h.peak_flops_si("bf16")
    h2 = scaled_hw(h, peak=2, bandwidth=3, capacity=4)
    assert h2.si["memory_bandwidth"] == pytest.approx(3 * h.si["memory_bandwidth"])
    assert h2.si["memory_capacity"] == pytest.approx(4 * h.si["memory_capacity"])
    assert h2.peak_flops_si("bf16") == pytest.approx(2 * h.peak_flops_si("bf16"))
    c2 = scaled_cluster(mlsysim.Systems.Clusters.H100_256, fabric=2, link=2)
    assert c2.fabric.si["bandwidth"] == pytest.approx(2 * mlsysim.Systems.Clusters.H100_256.fabric.si["bandwidth"])
    assert c2.node.si["intra_bandwidth"] == pytest.approx(2 * mlsysim.Systems.Clusters.H100_256.node.si["intra_bandwidth"])


# ------------------------------------------------------------------------------------------------
# Dimensional consistency of every result field
# ------------------------------------------------------------------------------------------------
EXPECTED_UNITS = {
    "SingleNodeModel": {"latency": "ms", "throughput": "sample/s", "compute_time": "ms", "memory_time": "ms",
                        "flops": "FLOP", "memory_traffic": "B", "arithmetic_intensity": "FLOP/B",
                        "ridge_point": "FLOP/B", "memory_footprint": "GB"},
    "ServingModel": {"ttft": "ms", "itl": "ms", "kv_cache_size": "GB", "throughput": "token/s", "e2e_latency": "ms",
                     "memory_per_device": "GB", "weights_per_device": "GB", "capacity_per_device": "GB"},
    "DistributedModel": {"step_time": "s", "tokens_per_s": "token/s", "samples_per_s": "sample/s",
                         **{f"breakdown.{k}": "ms" for k in (
                             "compute_time", "tp_comm_time", "cp_comm_time", "ep_comm_time", "pp_comm_time",
                             "bubble_time", "dp_comm_exposed", "zero3_gather_time", "optimizer_time")},
                         "memory_per_device": "GB",
                         **{f"memory_breakdown.{k}": "GB" for k in (
                             "weights_memory", "gradients_memory", "optimizer_memory", "activation_memory",
                             "logits_memory")}},
    "EconomicsModel": {"tco": "USD", "cost_per_accelerator_hour": "USD/h", "energy": "kWh", "it_energy": "kWh",
                       "kwh_price": "USD/kWh"},
    "SustainabilityModel": {"energy": "kWh", "it_energy": "kWh", "carbon_footprint": "kg", "water": "l",
                            "onsite_water": "l", "offsite_water": "l", "carbon_intensity": "g/kWh"},
    "PowerModel": {"accelerator_power": "kW", "host_power": "kW", "it_power": "kW", "facility_power": "kW",
                   "it_energy": "kWh", "facility_energy": "kWh", "duration": "h"},
    "EfficiencyModel": {"achievable_flops": "FLOP/s"},
    "ContinuousBatchingModel": {"throughput": "token/s", "request_throughput": "request/s",
                                "decode_throughput": "token/s", "itl": "ms", "ttft": "ms", "e2e_latency": "ms",
                                "kv_cache_budget": "GB", "kv_cache_used": "GB", "kv_cache_allocated": "GB",
                                "kv_per_request": "GB"},
    "CheckpointModel": {"checkpoint_size": "GB", "weights_size": "GB", "optimizer_size": "GB", "write_time": "s",
                        "checkpoint_interval": "min", "storage_bandwidth": "GB/s"},
    "CompressionModel": {"original_size": "GB", "compressed_size": "GB", "memory_saving": "GB"},
    "DataModel": {"effective_throughput": "GB/s", "demand": "GB/s", "supply": "GB/s"},
    "TransformationModel": {"transform_time": "ms", "transform_rate": "sample/s", "accelerator_time": "ms"},
    "OrchestrationModel": {"avg_wait_time": "h", "p99_wait_time": "h", "avg_turnaround_time": "h"},
    "TailLatencyModel": {k: "ms" for k in ("mean_wait", "p50_wait", "p99_wait", "wait_at_percentile",
                                           "mean_latency", "p50_latency", "p99_latency", "latency_at_percentile")},
    "InferenceScalingModel": {"total_reasoning_time": "s", "ttft": "ms", "itl": "ms", "time_per_step": "ms",
                              "tokens_per_sample": "token", "total_tokens": "token", "throughput": "token/s",
                              "energy": "kJ", "cost": "USD", "memory_per_device": "GB"},
    "ReliabilityModel": {"fleet_mtbf": "h", "node_mtbf": "h", "young_interval": "min", "optimal_interval": "min",
                         "checkpoint_interval": "min", "checkpoint_time": "s", "restart_time": "min",
                         "expected_wall_time": "d", "lost_time": "h"},
    "ResponsibleEngineeringModel": {"private_training_time": "d", "private_training_time_range.0": "d",
                                    "private_training_time_range.1": "d"},
    "ScalingModel": {"optimal_tokens": "token", "compute_budget": "FLOP"},
    "TopologyModel": {"effective_bw": "GB/s", "bisection_bw": "GB/s", "all_to_all_bw": "GB/s",
                      "link_bandwidth": "GB/s"},
    "WeightStreamingModel": {"itl": "ms", "time_per_token": "ms", "throughput": "token/s", "stream_time": "ms",
                             "compute_time": "ms", "ttft": "ms", "weight_bytes_streamed": "GB",
                             "on_chip_memory": "GB", "on_chip_capacity": "GB", "streaming_bandwidth": "GB/s"},
    "SensitivitySolver": {"baseline_latency": "ms", "perturbed_latency.peak_flops": "ms",
                          "perturbed_latency.memory_bandwidth": "ms", "perturbed_latency.memory_capacity": "ms"},
    "SynthesisSolver": {"required_bandwidth": "TB/s", "required_flops": "TFLOP/s", "required_memory": "GB",
                        "ridge_point": "FLOP/B", "target_latency": "ms", "target_ttft": "ms"},
}


def quantity_fields(result):
    """(path, value) of every quantity in a result (nested dicts, tuples and dataclasses too)."""
    def walk(prefix, v):
        if isinstance(v, pint.Quantity):
            yield prefix, v
        elif isinstance(v, dict):
            for k, x in v.items():
                yield from walk(f"{prefix}.{k}", x)
        elif isinstance(v, (tuple, list)):
            for i, x in enumerate(v):
                yield from walk(f"{prefix}.{i}", x)
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            for f in dataclasses.fields(v):
                yield from walk(f"{prefix}.{f.name}", getattr(v, f.name))
    for f in dataclasses.fields(result):
        yield from walk(f.name, getattr(result, f.name))


def check_dimensions(name, result):
    expected = EXPECTED_UNITS[name]
    seen = set()
    for path, q in quantity_fields(result):
        assert path in expected, f"{name}.{path} ({q.units}) has no expected unit: add it to EXPECTED_UNITS"
        assert q.is_compatible_with(expected[path]), f"{name}.{path} is {q.units} ({q.dimensionality}), not {expected[path]}"
        seen.add(path)
    return seen


@PROFILE
@given(model=models, hw=gpus, b=pow2(0, 8), precision=st.sampled_from(PRECISIONS))
def test_engine_fields_have_their_dimensions(model, hw, b, precision):
    check_dimensions("SingleNodeModel", SingleNodeModel().solve(model, hw, batch_size=b, precision=precision))


@PROFILE
@given(model=llms, hw=gpus, b=pow2(0, 7), s=pow2(5, 14), o=st.integers(0, 512), tp=pow2(0, 3))
def test_serving_fields_have_their_dimensions(model, hw, b, s, o, tp):
    if model.heads % tp:
        tp = 1
    r = ServingModel().solve(model, hw, seq_len=s, batch_size=b, output_len=o, tp_size=tp)
    check_dimensions("ServingModel", r)


@FEW
@given(model=llms, cluster=clusters, tp=pow2(0, 3), pp=pow2(0, 2), zero=st.integers(0, 3),
       rc=st.sampled_from(["none", "selective", "full"]))
def test_distributed_fields_have_their_dimensions(model, cluster, tp, pp, zero, rc):
    r = DistributedModel().solve(model, cluster, batch_size=1024, seq_len=2048, tp_size=tp, pp_size=pp,
                                 zero_stage=zero, activation_recomputation=rc)
    check_dimensions("DistributedModel", r)


@FEW
@given(cluster=priced_clusters, days=st.floats(0.01, 3650), grid=st.sampled_from(["Quebec", "Poland", "US_Avg"]),
       u=st.floats(0, 1))
def test_ops_fields_have_their_dimensions(cluster, days, grid, u):
    check_dimensions("EconomicsModel", EconomicsModel().solve(cluster, days, grid=grid, utilization=u))
    check_dimensions("SustainabilityModel", SustainabilityModel().solve(cluster, days, datacenter=grid, utilization=u))
    check_dimensions("PowerModel", PowerModel().solve(cluster, utilization=u, duration=days * 24, grid=grid))


def test_every_model_and_solver_result_field_has_its_dimension():
    """One call of every Tier-1 model and solver: every quantity field is in EXPECTED_UNITS (so a
    new field must declare its unit) with that dimension, and every declared field exists."""
    m, h, c = mlsysim.Models.Llama3_8B, HW.H100, mlsysim.Systems.Clusters.H100_256
    calls = {
        "SingleNodeModel": lambda: SingleNodeModel().solve(m, h, batch_size=4),
        "ServingModel": lambda: ServingModel().solve(m, h, batch_size=4, output_len=16),
        "DistributedModel": lambda: DistributedModel().solve(m, c, batch_size=256, tp_size=2, pp_size=2),
        "EconomicsModel": lambda: EconomicsModel().solve(c, 30, grid="Quebec"),
        "SustainabilityModel": lambda: SustainabilityModel().solve(c, 30, datacenter="Quebec"),
        "PowerModel": lambda: PowerModel().solve(c),
        "EfficiencyModel": lambda: EfficiencyModel().solve(m, h, workload_type="decode", batch_size=4),
        "ContinuousBatchingModel": lambda: ContinuousBatchingModel().solve(m, h),
        "CheckpointModel": lambda: CheckpointModel().solve(m, h),
        "CompressionModel": lambda: CompressionModel().solve(m, h),
        "DataModel": lambda: DataModel().solve(Q_(1, "GB/s"), h),
        "TransformationModel": lambda: TransformationModel().solve(32, Q_(1000, "sample/s")),
        "OrchestrationModel": lambda: OrchestrationModel().solve(c, Q_(1, "1/hour"), Q_(2, "hour")),
        "TailLatencyModel": lambda: TailLatencyModel().solve(Q_(10, "1/s"), Q_(50, "ms"), replicas=2),
        "InferenceScalingModel": lambda: InferenceScalingModel().solve(m, h),
        "ReliabilityModel": lambda: ReliabilityModel().solve(c, 30),
        "ResponsibleEngineeringModel": lambda: ResponsibleEngineeringModel().solve(Q_(10, "day")),
        "ScalingModel": lambda: ScalingModel().solve(Q_(1e23, "FLOP")),
        "TopologyModel": lambda: TopologyModel().solve("IB_NDR", num_nodes=32, accelerators_per_node=8),
        "WeightStreamingModel": lambda: WeightStreamingModel().solve(m, h),
        "SensitivitySolver": lambda: SensitivitySolver().solve(m, h, batch_size=4),
        "SynthesisSolver": lambda: SynthesisSolver().solve(m, Q_(20, "ms"), target_ttft=Q_(500, "ms")),
    }
    assert set(calls) == set(EXPECTED_UNITS)
    exported = {n for n in dir(mlsysim) if n.endswith(("Model", "Solver")) and isinstance(getattr(mlsysim, n), type)}
    assert exported <= set(calls), f"not covered: {exported - set(calls)}"
    for name, call in calls.items():
        seen = check_dimensions(name, call())
        assert seen == set(EXPECTED_UNITS[name]), f"{name}: declared but absent {set(EXPECTED_UNITS[name]) - seen}"


# ------------------------------------------------------------------------------------------------
# Monotonicity
# ------------------------------------------------------------------------------------------------
def _le(a, b, rtol=1e-9):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.all(a <= b * (1 + rtol) + 1e-300)


@PROFILE
@given(model=models, hw=gpus, b=pow2(0, 10), precision=st.sampled_from(PRECISIONS), k_peak=factors,
       k_bw=factors, k_cap=factors)
def test_roofline_more_hardware_is_never_slower_or_infeasible(model, hw, b, precision, k_peak, k_bw, k_cap):
    base = roofline_si(model, hw, batch_size=b, precision=precision)
    better = roofline_si(model, scaled_hw(hw, peak=k_peak, bandwidth=k_bw, capacity=k_cap), batch_size=b,
                         precision=precision)
    assert _le(better["latency"], base["latency"])
    assert not base["feasible"] or better["feasible"]


@PROFILE
@given(model=llms, hw=gpus, b=pow2(0, 8), s=pow2(6, 14), o=st.integers(0, 1024), tp=pow2(0, 3),
       k_peak=factors, k_bw=factors, k_cap=factors, k_link=factors)
def test_serving_more_hardware_is_never_slower_or_infeasible(model, hw, b, s, o, tp, k_peak, k_bw, k_cap, k_link):
    kw = dict(batch_size=b, prompt_len=s, output_len=o, tp=tp, precision="fp16", kv_precision="fp16")
    base = serving_core(model, hw, **kw)
    better = serving_core(model, scaled_hw(hw, peak=k_peak, bandwidth=k_bw, capacity=k_cap, link=k_link), **kw)
    for k in ("ttft", "itl", "e2e_latency"):
        assert _le(better[k], base[k]), k
    assert not base["feasible"] or better["feasible"]


SPLITS = {k: np.array(v, dtype=float) for k, v in zip(
    ("tp", "pp", "cp", "mb", "zero", "rc", "v"),
    np.array([(t, p, c, mb, z, r, v) for t in (1, 2, 4, 8) for p in (1, 2, 4) for c in (1, 2) for mb in (1, 2)
              for z in (0, 1, 3) for r in (0, 1, 2) for v in ((1, 2) if p > 1 else (1,))]).T)}


def _train(model, cluster, nodes, batch, seq):
    s = SPLITS
    return distributed_core(model, cluster, tp=s["tp"], pp=s["pp"], cp=s["cp"], micro_batch=s["mb"],
                            zero_stage=s["zero"], recompute=s["rc"], virtual_stages=s["v"], sp=(s["tp"] > 1) * 1.0,
                            global_batch=batch, seq_len=seq, nodes=nodes)


@FEW
@given(model=llms, cluster=clusters, nodes=pow2(0, 6), batch=pow2(6, 11), seq=pow2(10, 13), k_peak=factors,
       k_bw=factors, k_cap=factors, k_link=factors, k_fabric=factors)
# what the fuzzer found (each was slower with the better hardware before its fix, docs/robustness.md):
# bug 29: 5x the FLOP/s slowed tp=4, cp=2 (the GEMM efficiency was a product of per-dimension factors)
@example(model=mlsysim.Models.Llama3_8B, cluster=mlsysim.Systems.Clusters.H100_256, nodes=1, batch=64, seq=1024,
         k_peak=5.0, k_bw=1.0, k_cap=1.0, k_link=1.0, k_fabric=1.0)
# bug 30: 2x the HBM bandwidth slowed ZeRO-3 (one backward pass hid both the gathers and the reduction)
@example(model=mlsysim.Models.Llama3_8B, cluster=mlsysim.Systems.Clusters.H100_256, nodes=2, batch=64, seq=1024,
         k_peak=1.0, k_bw=2.0, k_cap=1.0, k_link=1.0, k_fabric=1.0)
# bug 30: 2x the FLOP/s slowed ZeRO-3 with cp=2 (the attention math hid both the K/V passes and the gathers)
@example(model=mlsysim.Models.Llama3_8B, cluster=mlsysim.Systems.Clusters.B200_1024, nodes=1, batch=64, seq=1024,
         k_peak=2.0, k_bw=1.0, k_cap=1.0, k_link=1.0, k_fabric=1.0)
def test_training_more_hardware_is_never_slower_or_infeasible(model, cluster, nodes, batch, seq, k_peak, k_bw, k_cap,
                                                              k_link, k_fabric):
    base = _train(model, cluster, nodes, batch, seq)
    better = _train(model, scaled_cluster(cluster, peak=k_peak, bandwidth=k_bw, capacity=k_cap, link=k_link,
                                          fabric=k_fabric), nodes, batch, seq)
    valid = base["valid"]
    assert np.array_equal(valid, better["valid"])             # validity is about the split, not the specs
    worse = valid & (better["step_time"] > base["step_time"] * (1 + 1e-9))
    assert not worse.any(), {k: SPLITS[k][worse][:3] for k in SPLITS}
    assert not (base["feasible"] & ~better["feasible"]).any()


@PROFILE
@given(model=llms, hw=gpus, b=pow2(0, 6), s=pow2(6, 13), tp=pow2(0, 3), k=st.integers(2, 4))
def test_a_larger_model_never_needs_less_memory(model, hw, b, s, tp, k):
    """More layers (or a wider MLP) is a larger model: more weights, KV cache and training state."""
    bigger = model.model_copy(update={"layers": model.layers * k})
    wider = model.model_copy(update={"ffn": model.ffn * k, "moe_ffn": model.moe_ffn and model.moe_ffn * k})
    assert bigger.parameters > model.parameters and wider.parameters > model.parameters
    kw = dict(batch_size=b, prompt_len=s, output_len=0, tp=tp, precision="fp16", kv_precision="fp16")
    base = serving_core(model, hw, **kw)["memory_per_device"]
    for m in (bigger, wider):
        assert _le(base, serving_core(m, hw, **kw)["memory_per_device"])
    cluster = mlsysim.Systems.Clusters.H100_256
    t_base = _train(model, cluster, 4, 256, s)["memory_per_device"]
    for m in (bigger, wider):
        assert _le(t_base, _train(m, cluster, 4, 256, s)["memory_per_device"])


# ------------------------------------------------------------------------------------------------
# Conservation
# ------------------------------------------------------------------------------------------------
BREAKDOWN = ("compute_time", "tp_comm_time", "cp_comm_time", "ep_comm_time", "pp_comm_time", "bubble_time",
             "dp_comm_exposed", "zero3_gather_time", "optimizer_time")


@FEW
@given(model=llms, cluster=clusters, nodes=pow2(0, 6), batch=pow2(6, 11), seq=pow2(10, 13))
def test_step_time_breakdown_sums_to_the_step_time(model, cluster, nodes, batch, seq):
    r = _train(model, cluster, nodes, batch, seq)
    total = sum(np.asarray(r[k], float) for k in BREAKDOWN)
    ok = r["valid"]
    np.testing.assert_allclose(total[ok], r["step_time"][ok], rtol=1e-9)
    np.testing.assert_allclose(r["memory_per_device"][ok], sum(r[k] for k in (
        "weights_memory", "gradients_memory", "optimizer_memory", "activation_memory", "logits_memory"))[ok]
        + 2e9, rtol=1e-9)  # + the runtime reserve (serving.RUNTIME_RESERVE_BYTES)


@PROFILE
@given(cluster=priced_clusters, hours=st.floats(0.1, 1e5), u=st.floats(0, 1), pue=st.floats(1.0, 3.0),
       grid=st.sampled_from(["Quebec", "Poland", "US_Avg", "France"]))
def test_energy_is_power_times_time_and_carbon_is_energy_times_pue_times_intensity(cluster, hours, u, pue, grid):
    p = PowerModel().solve(cluster, utilization=u, duration=hours, pue=pue)
    assert p.it_energy.m_as("kWh") == pytest.approx(p.it_power.m_as("kW") * hours, rel=1e-9)
    assert p.facility_energy.m_as("kWh") == pytest.approx(p.facility_power.m_as("kW") * hours, rel=1e-9)
    assert p.facility_power.m_as("kW") == pytest.approx(p.it_power.m_as("kW") * pue, rel=1e-9)
    days = hours / 24
    s = SustainabilityModel().solve(cluster, days, datacenter=grid, utilization=u, pue=pue, include_embodied=False)
    region = mlsysim.Infra.Grids.get(grid)
    assert s.energy.m_as("kWh") == pytest.approx(p.facility_energy.m_as("kWh"), rel=1e-9)
    expect_kg = p.it_energy.m_as("kWh") * pue * region.carbon_intensity.m_as("kg/kWh")
    assert s.carbon_footprint_kg == pytest.approx(expect_kg, rel=1e-9)
    assert s.operational_carbon_kg == pytest.approx(expect_kg, rel=1e-9)
    assert s.onsite_water.m_as("L") == pytest.approx(p.it_energy.m_as("kWh") * region.wue.m_as("L/kWh"), rel=1e-9)
    e = EconomicsModel().solve(cluster, days, grid=grid, utilization=u, pue=pue)
    assert e.energy.m_as("kWh") == pytest.approx(s.energy.m_as("kWh"), rel=1e-9)   # one power model for both
    assert e.tco_usd == pytest.approx(e.capex_usd + e.opex_usd, rel=1e-9)
    assert e.opex_usd == pytest.approx(e.energy_opex_usd + e.maintenance_usd, rel=1e-9)
    assert e.energy_opex_usd == pytest.approx(e.energy.m_as("kWh") * region.electricity_price.m_as("USD/kWh"),
                                              rel=1e-9)


def test_evaluator_macro_is_consistent_with_the_ops_models():
    ev = mlsysim.SystemEvaluator.evaluate(model_obj="Llama3_8B", hardware_obj="H100", nodes=4, grid="France",
                                          duration_days=10, batch_size=256)
    m = ev.macro.metrics
    assert m["tco_usd"] == pytest.approx(m["capex_usd"] + m["opex_usd"], rel=1e-9)
    assert m["avg_power_kw"] == pytest.approx(m["energy_kwh"] / (10 * 24), rel=1e-9)
    grid = mlsysim.Infra.Grids.France
    assert m["carbon_kg"] >= m["energy_kwh"] * grid.carbon_intensity.m_as("kg/kWh") * (1 - 1e-9)


# ------------------------------------------------------------------------------------------------
# The scalar API equals the vectorized core, element by element
# ------------------------------------------------------------------------------------------------
@FEW
@given(model=models, hw=gpus, bs=st.lists(pow2(0, 10), min_size=1, max_size=6), precision=st.sampled_from(PRECISIONS))
def test_engine_scalar_equals_vectorized_core(model, hw, bs, precision):
    core = roofline_si(model, hw, batch_size=np.array(bs, float), precision=precision)
    vec = SingleNodeModel().solve(model, hw, batch_size=np.array(bs), precision=precision)
    for i, b in enumerate(bs):
        r = SingleNodeModel().solve(model, hw, batch_size=b, precision=precision)
        assert r.latency.m_as("s") == pytest.approx(core["latency"][i], rel=1e-12)
        assert r.latency.m_as("s") == pytest.approx(vec.latency.m_as("s")[i], rel=1e-12)
        assert r.memory_footprint.m_as("B") == pytest.approx(core["memory_footprint"][i], rel=1e-12)
        assert r.feasible == bool(core["feasible"][i]) == bool(vec.feasible[i])
        assert r.bottleneck == vec.bottleneck[i]


@FEW
@given(model=llms, hw=gpus, b=pow2(0, 6), ss=st.lists(pow2(6, 14), min_size=1, max_size=5), o=st.integers(0, 256),
       tp=pow2(0, 3))
def test_serving_scalar_equals_vectorized_core(model, hw, b, ss, o, tp):
    if model.heads % tp:
        tp = 1
    core = serving_core(model, hw, batch_size=b, prompt_len=np.array(ss, float), output_len=o, tp=tp,
                        precision="fp16", kv_precision="fp16")
    for i, s in enumerate(ss):
        r = ServingModel().solve(model, hw, seq_len=s, batch_size=b, output_len=o, tp_size=tp)
        assert r.ttft.m_as("s") == pytest.approx(core["ttft"][i], rel=1e-12)
        assert r.itl.m_as("s") == pytest.approx(core["itl"][i], rel=1e-12)
        assert r.memory_per_device.m_as("B") == pytest.approx(core["memory_per_device"][i], rel=1e-12)
        assert r.feasible == bool(core["feasible"][i])


@FEW
@given(model=llms, cluster=clusters, batch=pow2(6, 10), seq=pow2(10, 12))
def test_distributed_scalar_equals_vectorized_core(model, cluster, batch, seq):
    s = SPLITS
    core = distributed_core(model, cluster, tp=s["tp"], pp=s["pp"], cp=s["cp"], micro_batch=s["mb"],
                            zero_stage=s["zero"], recompute=s["rc"], virtual_stages=s["v"], sp=(s["tp"] > 1) * 1.0,
                            global_batch=batch, seq_len=seq)
    rc_name = ("none", "selective", "full")
    for i in np.linspace(0, len(s["tp"]) - 1, 6).astype(int):
        r = DistributedModel().solve(model, cluster, batch_size=batch, seq_len=seq, tp_size=int(s["tp"][i]),
                                     pp_size=int(s["pp"][i]), cp_size=int(s["cp"][i]),
                                     microbatch_size=int(s["mb"][i]), zero_stage=int(s["zero"][i]),
                                     activation_recomputation=rc_name[int(s["rc"][i])],
                                     virtual_stages=int(s["v"][i]))
        assert r.step_time.m_as("s") == pytest.approx(core["step_time"][i], rel=1e-12)
        assert r.memory_per_device.m_as("B") == pytest.approx(core["memory_per_device"][i], rel=1e-12)
        assert r.feasible == bool(core["feasible"][i])


@FEW
@given(cluster=priced_clusters, days=st.lists(st.floats(0.1, 3650), min_size=1, max_size=5), u=st.floats(0, 1),
       grid=st.sampled_from(["Quebec", "Poland", "US_Avg"]))
def test_ops_scalar_equals_vectorized_core(cluster, days, u, grid):
    from mlsysim.physics.power import fleet_si

    f, region = fleet_si(cluster), mlsysim.Infra.Grids.get(grid)
    t = np.array(days) * 86400.0
    j_per_kwh = 3.6e6
    eco = economics_si(f["accelerators"], f["nodes"], f["tdp_w"], f["host_power_w"], f["node_price_usd"], t, u,
                       region.pue, region.electricity_price.m_as("USD/kWh") / j_per_kwh, 5 * 365 * 86400.0, 0.10)
    emb = 0.0 if not np.isfinite(f["embodied_kg"]) else f["embodied_kg"]
    sus = sustainability_si(f["accelerators"], f["nodes"], f["tdp_w"], f["host_power_w"], t, u, region.pue,
                            region.si["kg_per_j"], region.si["l_per_j"], emb)
    power = fleet_power_si(f["accelerators"], f["tdp_w"], f["nodes"], f["host_power_w"], u, pue=region.pue, duration_s=t)
    for i, d in enumerate(days):
        e = EconomicsModel().solve(cluster, d, grid=grid, utilization=u)
        s = SustainabilityModel().solve(cluster, d, datacenter=grid, utilization=u)
        assert e.tco_usd == pytest.approx(eco["tco_usd"][i], rel=1e-12)
        assert s.carbon_footprint_kg == pytest.approx(sus["carbon_kg"][i], rel=1e-12)
        assert s.energy.m_as("J") == pytest.approx(power["facility_energy_j"][i], rel=1e-12)
