"""Distributed 3D/4D-parallel transformer training: step time, MFU, memory per device.

Inputs are kept apart as Calculon does (Isaev et al. 2023, SC'23): the *application* (a
``TransformerWorkload``), the *system* (a ``Cluster``) and the *execution* (the parallel split),
the last as numpy arrays so one call evaluates a whole population of splits.

Rank order is Megatron-LM's tp -> cp -> dp (with ep inside dp) -> pp, innermost first, so a
tensor-parallel group is contiguous inside a node and pipeline peers are furthest apart.

Per microbatch and pipeline stage (L/p layers on t·c devices):
* compute: forward 2·N_active + 4·s·d_attn FLOPs per token, backward twice that (Narayanan et al.
  2021, Sec. 5.1), recomputation adds a forward (full) or the attention core (selective;
  Korthikanti et al. 2022), at the efficiency of ``physics.efficiency``; element-wise ops move
  the Korthikanti activation bytes through HBM;
* TP: two all-reduces per layer forward and two backward (Shoeybi et al. 2019), the same volume
  as all-gather + reduce-scatter under sequence parallelism (Korthikanti et al. 2022, Sec. 4.2.2);
* CP: ring attention passes K/V blocks c-1 times, overlapped with attention compute
  (Liu et al. 2023, "Ring Attention"); EP: dispatch and combine all-to-all per MoE layer, forward
  and backward (Lepikhin et al. 2021, GShard); PP: activations to the next stage per microbatch.
Step: (m + (p-1)/v) microbatch-stage times (1F1B; bubble (p-1)/(v·m), Narayanan et al. 2021
Sec. 2.2), plus the gradient reduction over dp not hidden behind the last backward, plus ZeRO-3
parameter gathers and the optimizer update.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import U_GB, U_MS, U_S, U_SAMPLE_S, U_TOKEN_S
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, to_si, plain
from .collectives import LINK_EFFICIENCY, all_gather_time, all_reduce_time, all_to_all_time, group_link, p2p_time
from .efficiency import MEMORY_EFFICIENCY, kernel_efficiency, roofline_d_half, transformer_matmul_efficiency
from .serving import RUNTIME_RESERVE_BYTES
from .training_memory import (GRAD_BYTES, OPTIMIZER_BYTES, WEIGHT_BYTES,
                              activation_bytes_per_layer, in_flight_factor, model_activation_shape,
                              model_state_bytes)

# Optimizer update reads and writes the 16 B/param model state once: 32 B of HBM traffic per param.
OPTIMIZER_TRAFFIC_BYTES = 32.0
# Element-wise ops (norms, activations, dropout, residuals) read and write the stored activations
# once in forward and twice in backward.
ELEMENTWISE_PASSES = 3.0


REASONS = (
    "",
    "tp*pp*cp*dp must equal the accelerator count",
    "dp must be a whole number",
    "global batch must divide by dp*micro_batch",
    "heads must divide by tp",
    "pp*virtual_stages exceeds the layers + 2 (a chunk holds a layer, or only the embedding or the head)",
    "seq_len must divide by cp",
    "virtual stages need pp > 1",
    "ep must divide dp and the expert count",
    "sequence parallelism needs tp > 1",
    "does not fit in device memory",
)


def reason_text(reason_code) -> np.ndarray:
    """Human-readable reasons for an array of reason codes."""
    return np.asarray(REASONS, dtype=object)[np.asarray(reason_code, dtype=np.int64)]


def _f(x):
    return np.asarray(x, dtype=float)


def pipeline_layout(layers, pp, head_layers) -> dict:
    """Layers per pipeline stage when they need not divide evenly (vectorized).

    The last stage carries the output head, worth ``head_layers`` layers of compute, so it takes
    k = (L - (p-1)·head)/p layers (rounded to the better neighbour), the middle stages M = ceil((L-k)/(p-1))
    and the first what is left (at most M). Returns the stages' layer counts and the slowest stage's
    load max(M, k + head) in layers; with p = 1 the one stage holds all L layers and the head."""
    L = np.asarray(layers, dtype=float)
    p = np.asarray(pp, dtype=float)
    hr = np.asarray(head_layers, dtype=float)
    multi = p > 1
    q = np.where(multi, p - 1.0, 1.0)
    k_star = (L - (p - 1.0) * hr) / p
    best_load = best_k = best_m = None
    for k in (np.floor(k_star), np.ceil(k_star)):
        k = np.clip(k, 1.0, np.maximum(L - (p - 1.0), 1.0))
        m_layers = np.ceil((L - k) / q)
        load = np.maximum(m_layers, k + hr)
        if best_load is None:
            best_load, best_k, best_m = load, k, m_layers
        else:
            better = load < best_load
            best_load = np.where(better, load, best_load)
            best_k, best_m = np.where(better, k, best_k), np.where(better, m_layers, best_m)
    first = L - best_k - np.maximum(p - 2.0, 0.0) * best_m
    first = np.where(first >= 1.0, first, best_m)
    return {
        "load": np.where(multi, best_load, L + hr),
        "slow_layers": np.where(multi, np.where(best_k + hr > best_m, best_k, best_m), L),
        "first": np.where(multi, first, L), "middle": np.where(multi, best_m, L), "last": np.where(multi, best_k, L),
    }


def distributed_core(model, cluster, *, tp, pp, dp=None, cp=1, ep=1, micro_batch=1, global_batch,
                     seq_len, zero_stage=0, recompute=0, sp=1, virtual_stages=1, overlap_comm=1,
                     nodes=None, precision="bf16", optimizer="adam", flash_attention=True) -> dict:
    """Vectorized training physics in SI units. ``recompute`` is 0/1/2 (none/selective/full).
    ``nodes`` (optional) overrides the cluster's node count; ``dp`` defaults to N/(tp·pp·cp)."""
    node = cluster.node
    hw = node.accelerator
    g = float(node.accelerators_per_node)
    nsi, fsi = node.si, cluster.fabric.si
    t, p, c, e, mb = _f(tp), _f(pp), _f(cp), _f(ep), _f(micro_batch)
    v, z, rc = _f(virtual_stages), _f(zero_stage), _f(recompute)
    spf, ov = _f(sp), _f(overlap_comm)
    n_nodes = _f(cluster.node_count if nodes is None else nodes)
    N = n_nodes * g
    d = N / (t * p * c) if dp is None else _f(dp)
    B, s = _f(global_batch), _f(seq_len)
    L, h, a = float(model.layers), float(model.hidden), float(model.heads)
    act_b = bytes_per_element(precision)
    peak = hw.peak_flops_si(precision)
    bw = hw.si["memory_bandwidth"] * MEMORY_EFFICIENCY
    inter_bw = fsi["bandwidth"] * LINK_EFFICIENCY / cluster.oversubscription

    # ---- validity of the split ---------------------------------------------------------
    m = B / (d * mb)
    checks = (
        np.isclose(t * p * c * d, N),
        np.isclose(d, np.round(d)) & (d >= 1),
        np.isclose(m, np.round(m)) & (m >= 1),
        np.isclose(a / t, np.round(a / t)),
        p * v <= L + 2.0,
        np.isclose(s / c, np.round(s / c)),
        (v == 1) | (p > 1),
        np.isclose(d / e, np.round(d / e)) & np.isclose(model.experts / e, np.round(model.experts / e)),
        (spf == 0) | (t > 1),
    )
    shape = np.broadcast(t, p, c, e, mb, v, z, rc, d, B, s, spf).shape
    valid = np.ones(shape, dtype=bool)
    reason_code = np.zeros(shape, dtype=np.int8)          # index into REASONS; 0 = ok
    for i, ok in enumerate(checks, start=1):
        first_failure = valid & ~ok
        reason_code[first_failure] = i
        valid &= ok

    # ---- pipeline layout: uneven stages --------------------------------------------------
    inner = model.moe_ffn if model.is_moe else model.ffn
    fwd_flops_token = model.forward_flops_per_token(s)         # whole model, one token
    attn_layer_token = 4.0 * s * model.d_attn                  # attention core of one layer, one token
    # The output layer (logits GEMM, 2·h·V per token) sits on the last pipeline stage (Korthikanti et
    # al. 2022 Sec. 4.3; Llama Team 2024 Sec. 3.3.2: "output and loss ... making this stage the execution
    # latency bottleneck"). Layers need not divide by the stages: the last stage takes fewer layers to
    # make room for the head, the first takes what is left (126 layers on 16 stages -> 7, 14 x 8, 7,
    # as Llama 3 did; BLOOM likewise). ``stage_layers`` below is the slowest stage's load in layers.
    head_flops_token = 0.0 if model.encoder_only else 2.0 * h * model.vocab
    layer_flops_token = fwd_flops_token - head_flops_token
    per_layer_token = layer_flops_token / L
    hr = head_flops_token / per_layer_token                    # the head in layer equivalents
    # the layout depends on pp only: compute it once per distinct degree
    p_values, p_index = np.unique(p, return_inverse=True)
    lay = {k: v[p_index].reshape(p.shape) for k, v in pipeline_layout(L, p_values, hr).items()}
    stage_load, layers_stage = lay["load"], lay["slow_layers"]

    # ---- compute per microbatch per stage --------------------------------------------
    tokens_dev = mb * s / c                                    # tokens one device sees per microbatch
    # GEMM efficiency from the per-device shapes (hidden, hidden/tp or ffn/tp, and the microbatch's
    # tokens) against the device's own roofline (efficiency.roofline_d_half)
    gemm_peak, attn_eff = kernel_efficiency(hw, precision)
    eff = transformer_matmul_efficiency(h, inner, t, tokens=tokens_dev, d_half=roofline_d_half(hw, precision),
                                        peak_fraction=gemm_peak)
    fwd_flops = stage_load * per_layer_token * mb * s / (t * c)            # slowest stage, per microbatch
    attn_flops = attn_layer_token * layers_stage * mb * s / (t * c)
    gemm_layer_flops = (per_layer_token - attn_layer_token) * layers_stage * mb * s / (t * c)
    # recomputation: full re-runs the layers' forward, selective the attention core, op-level about
    # half of the matmuls (every other output is saved; torchtitan's selective_op policy)
    recompute_gemm = np.select([rc == 2, rc == 3], [gemm_layer_flops, 0.5 * gemm_layer_flops], 0.0)
    recompute_attn = np.where((rc == 2) | (rc == 1), attn_flops, 0.0)
    # Attention runs in its own fused kernel (FlashAttention) at the family's attention rate, and a
    # causal mask halves the work it does; the reported FLOPs (MFU) keep the dense 4·s·d_attn count
    # (Narayanan et al. 2021 eq. 3, PaLM's MFU). Without a fused kernel the scores are full GEMMs.
    # FP8 training keeps attention in bf16 (Transformer Engine, torchtitan Float8 convert only linears)
    attn_peak = hw.peak_flops_si("bf16") if precision in ("fp8", "int8") else peak
    if flash_attention and not model.encoder_only:
        attn_rate, attn_work = attn_eff, 0.5
    else:
        attn_rate, attn_work = (attn_eff if flash_attention else eff), 1.0
    attn_math = attn_work * attn_flops / (attn_peak * attn_rate)
    t_fwd_math = (fwd_flops - attn_flops) / (peak * eff) + attn_math
    t_recompute = recompute_gemm / (peak * eff) + attn_work * recompute_attn / (attn_peak * attn_rate)
    # element-wise traffic: stored activation bytes (Korthikanti 34·s·b·h) through HBM
    shape = model_activation_shape(model)
    split = np.where(spf > 0, t, 1.0)
    act_layer_none = activation_bytes_per_layer(s / c, mb, h, a, t, spf, 0, flash_attention, **shape) * act_b / 2.0
    elem_bytes = layers_stage * act_layer_none
    t_elem = ELEMENTWISE_PASSES * elem_bytes / bw
    t_compute = 3.0 * t_fwd_math + t_recompute + t_elem        # fwd + 2x bwd + recompute + elementwise

    # ---- communication per microbatch per stage -------------------------------------
    intra_bw, intra_lat = nsi["intra_bandwidth"] * LINK_EFFICIENCY, nsi["intra_latency"]
    tp_bw, tp_lat = group_link(t, 1.0, g, intra_bw, intra_lat, inter_bw, fsi["latency"])
    tp_msg = tokens_dev * h * act_b
    # two all-reduces per layer forward and two backward; full recomputation repeats the forward
    # pass and with it its two all-reduces (Korthikanti et al. 2022, Sec. 5 and Table 4)
    tp_collectives = 4.0 + np.where(rc == 2, 2.0, 0.0)
    t_tp = layers_stage * tp_collectives * all_reduce_time(tp_msg, t, tp_bw, tp_lat)

    cp_bw, cp_lat = group_link(c, t, g, intra_bw, intra_lat, inter_bw, fsi["latency"])
    kv_block = 2.0 * tokens_dev * model.n_kv_heads * model.d_head * act_b / np.minimum(t, model.n_kv_heads)
    cp_comm = np.where(c > 1, layers_stage * 3.0 * (c - 1.0) * p2p_time(kv_block, cp_bw, cp_lat), 0.0)
    t_cp = np.maximum(cp_comm - 3.0 * attn_math, 0.0)         # the K/V passes hide behind attention

    moe_frac = (model.moe_layers / L) if model.is_moe else 0.0
    ep_bw, ep_lat = group_link(e, t * c, g, intra_bw, intra_lat, inter_bw, fsi["latency"])
    ep_msg = tokens_dev / split * model.experts_per_token * h * act_b
    t_ep = layers_stage * moe_frac * 4.0 * all_to_all_time(ep_msg, e, ep_bw, ep_lat) * (e > 1)

    pp_bw, pp_lat = group_link(p, t * c * d, g, intra_bw, intra_lat, inter_bw, fsi["latency"])
    # scatter/gather: each of the t tensor-parallel ranks sends 1/t of the activation over its own
    # inter-node link and the receiver all-gathers it over NVLink (Narayanan et al. 2021, Sec. 4.1);
    # under sequence parallelism the activation is already split t ways
    pp_full = tokens_dev * h * act_b
    pp_gather = np.where(spf > 0, 0.0, all_gather_time(pp_full, t, tp_bw, tp_lat))
    t_pp = np.where(p > 1, 2.0 * v * (p2p_time(pp_full / t, pp_bw, pp_lat) + pp_gather), 0.0)

    t_micro = t_compute + t_tp + t_cp + t_ep + t_pp
    t_pipeline = (m + (p - 1.0) / v) * t_micro
    t_bubble = (p - 1.0) / v * t_micro

    # ---- parameters per device, data-parallel reduction, optimizer --------------------
    expert_params = model.moe_layers * model.experts * model.expert_params if model.is_moe else 0.0
    dense_params = model.parameters - expert_params
    params_dev = dense_params / (t * p) + expert_params / (t * p * e)
    dp_bw, dp_lat = group_link(d, t * c, g, intra_bw, intra_lat, inter_bw, fsi["latency"])
    grad_dense = dense_params / (t * p) * GRAD_BYTES
    grad_expert = expert_params / (t * p * e) * GRAD_BYTES
    t_dp = (all_reduce_time(grad_dense, d * c, dp_bw, dp_lat)
            + all_reduce_time(grad_expert, d / e * c, dp_bw, dp_lat))
    gather = all_gather_time(params_dev * WEIGHT_BYTES, d, dp_bw, dp_lat)
    # Overlap windows are disjoint parts of the math (one stretch of compute cannot hide two
    # transfers; counting it twice made a faster accelerator give a *longer* step): the attention
    # math hides the CP K/V passes (above), the rest of the forward and backward math hides the
    # ZeRO-3 parameter gathers, and what the last backward pass has left hides the gradient reduction.
    lin_math = t_fwd_math - np.where(c > 1, attn_math, 0.0)
    t_zero3 = np.where(z >= 3, m * (np.maximum(gather - lin_math, 0.0)
                                    + np.maximum(gather - 2.0 * lin_math, 0.0)), 0.0)
    t_bwd_last = (2.0 * t_fwd_math - np.where(z >= 3, np.minimum(gather, 2.0 * lin_math), 0.0)
                  - np.where(c > 1, np.minimum(cp_comm * 2.0 / 3.0, 2.0 * attn_math), 0.0))
    t_dp_exposed = np.where(ov > 0, np.maximum(t_dp - t_bwd_last, 0.0), t_dp)
    t_optimizer = params_dev / np.where(z >= 1, d, 1.0) * OPTIMIZER_TRAFFIC_BYTES / bw
    step = t_pipeline + t_dp_exposed + t_zero3 + t_optimizer

    # ---- memory per device: the fullest of the first, a middle and the last stage ------------
    act_layer = activation_bytes_per_layer(s / c, mb, h, a, t, spf, rc, flash_attention, **shape) * act_b / 2.0
    inflight = in_flight_factor(p, m, v)                       # first stage: min(p, m) microbatches
    inflight_mid = in_flight_factor(np.maximum(p - 1.0, 1.0), m, v) * np.where(p > 2, 1.0, 0.0)
    # full recomputation re-creates one layer's activations at a time during the backward pass
    act_peak = np.where(rc == 2, act_layer_none, 0.0)
    embed_in = model.vocab * h + model.position_embeddings * h
    embed_out = 0.0 if model.encoder_only else model.vocab * h   # a tied head is a second copy under pp
    layer_dense = (dense_params - model.embedding_params) / L
    layer_expert = expert_params / L

    logits = 4.0 * tokens_dev * model.vocab / t                 # fp32 logits of the last stage
    one = p <= 1
    zero = 0.0 * t
    stages = (  # (layers, extra parameters, microbatches in flight, logits) of the first, a middle, the last
        (lay["first"], embed_in + np.where(one, embed_out, 0.0), inflight, np.where(one, logits, 0.0)),
        (lay["middle"], zero, inflight_mid, zero),
        (lay["last"], embed_out + zero, np.where(one, 0.0, np.minimum(1.0, m)), np.where(one, 0.0, logits)),
    )
    parts = []
    for layers, extra, in_flight, lg in stages:
        params = layers * (layer_dense / t + layer_expert / (t * e)) + extra / t
        st = model_state_bytes(params, d, z, optimizer)
        parts.append({"weights": st["weights"], "gradients": st["gradients"], "optimizer": st["optimizer"],
                      "activations": act_layer * layers * in_flight + act_peak, "logits": lg})
    # a middle stage exists only with pp > 2, a separate last stage only with pp > 1
    totals = [sum(pt.values()) for pt in parts]
    totals[1] = np.where(p > 2, totals[1], -np.inf)
    totals[2] = np.where(one, -np.inf, totals[2])
    fullest = np.argmax(np.stack(np.broadcast_arrays(*totals)), axis=0)
    pick = {k: np.choose(fullest, np.broadcast_arrays(*[pt[k] for pt in parts])) for k in parts[0]}
    state = {k: pick[k] for k in ("weights", "gradients", "optimizer")}
    act, logits = pick["activations"], pick["logits"]
    mem = sum(pick.values()) + RUNTIME_RESERVE_BYTES
    capacity = hw.si["memory_capacity"]
    fits = mem <= capacity
    reason_code[valid & ~fits] = len(REASONS) - 1
    feasible = valid & fits

    # ---- rates ---------------------------------------------------------------------------
    tokens_step = B * s
    model_flops = 3.0 * fwd_flops_token * tokens_step
    hw_flops = model_flops + np.select([rc == 2, rc == 1, rc == 3],
                                       [layer_flops_token, attn_layer_token * L,
                                        0.5 * (layer_flops_token - attn_layer_token * L)], 0.0) * tokens_step
    mfu = model_flops / (step * N * peak)
    ideal = model_flops / (N * peak * eff)
    return {
        "step_time": step, "compute_time": m * t_compute, "tp_comm_time": m * t_tp, "cp_comm_time": m * t_cp,
        "ep_comm_time": m * t_ep, "pp_comm_time": m * t_pp, "bubble_time": t_bubble,
        "dp_comm_time": t_dp, "dp_comm_exposed": t_dp_exposed, "zero3_gather_time": t_zero3,
        "optimizer_time": t_optimizer, "tokens_per_s": tokens_step / step, "samples_per_s": B / step,
        "mfu": mfu, "hfu": hw_flops / (step * N * peak), "scaling_efficiency": ideal / step,
        "memory_per_device": mem, "weights_memory": state["weights"], "gradients_memory": state["gradients"],
        "optimizer_memory": state["optimizer"], "activation_memory": act, "logits_memory": logits,
        "capacity": capacity + 0.0 * mem, "dp": d, "microbatches": m, "num_accelerators": N,
        "bubble_fraction": t_bubble / step, "feasible": feasible, "valid": valid, "reason_code": reason_code,
    }


@dataclass
class DistributedResult(Result):
    step_time: object
    tokens_per_s: object
    samples_per_s: object
    mfu: object
    hfu: object
    scaling_efficiency: object
    bubble_fraction: object
    breakdown: dict
    memory_per_device: object
    memory_breakdown: dict
    dp_size: object
    microbatches: object
    num_accelerators: object
    feasible: object
    reason: object


class DistributedModel:
    """Step time, throughput, MFU and memory of a 3D/4D-parallel training split on a fleet."""

    def solve(self, model, fleet, batch_size, seq_len=None, precision: str = "bf16", tp_size=1, pp_size=1,
              cp_size=1, ep_size=1, microbatch_size=1, zero_stage=0, activation_recomputation="none",
              sequence_parallel=None, virtual_stages=1, overlap_comm=True, nodes=None,
              optimizer: str = "adam") -> DistributedResult:
        from ..core.catalog import registry
        from ..core.errors import UnknownNameError, UserInputError
        from .splits import default_seq_len, recompute_codes

        model = registry("models").get(model)
        fleet = registry("clusters").get(fleet)
        if getattr(model, "kind", None) != "transformer":
            raise UserInputError(f"DistributedModel models transformer training; {model.name} is a {model.kind}")
        if optimizer not in OPTIMIZER_BYTES:
            raise UnknownNameError("optimizer", optimizer, OPTIMIZER_BYTES)
        rc = recompute_codes(activation_recomputation)
        ints = {k: to_si(v, "", what=k, integer=True) for k, v in dict(
            batch_size=batch_size, tp_size=tp_size, pp_size=pp_size, cp_size=cp_size, ep_size=ep_size,
            microbatch_size=microbatch_size, virtual_stages=virtual_stages).items()}
        z = to_si(zero_stage, "", what="zero_stage", integer=True, allow_zero=True)
        if np.any(np.asarray(z) > 3):
            raise UserInputError(f"zero_stage must be 0, 1, 2 or 3, got {zero_stage!r}")
        s = to_si(seq_len if seq_len is not None else default_seq_len(model), "", what="seq_len", integer=True)
        n = None if nodes is None else to_si(nodes, "", what="nodes", integer=True)
        sp = (np.asarray(ints["tp_size"]) > 1) if sequence_parallel is None else np.asarray(sequence_parallel)
        bytes_per_element(precision)
        r = distributed_core(model, fleet, tp=ints["tp_size"], pp=ints["pp_size"], cp=ints["cp_size"],
                             ep=ints["ep_size"], micro_batch=ints["microbatch_size"], global_batch=ints["batch_size"],
                             seq_len=s, zero_stage=z, recompute=rc, sp=sp.astype(float),
                             virtual_stages=ints["virtual_stages"], overlap_comm=float(bool(overlap_comm)),
                             nodes=n, precision=precision, optimizer=optimizer)
        return _wrap(r)


def _wrap(r: dict) -> DistributedResult:
    sec = lambda k: as_unit(r[k] * 1e3, U_MS)  # noqa: E731
    gbq = lambda k: as_unit(r[k] / 1e9, U_GB)  # noqa: E731
    return DistributedResult(
        step_time=as_unit(r["step_time"], U_S),
        tokens_per_s=as_unit(r["tokens_per_s"], U_TOKEN_S),
        samples_per_s=as_unit(r["samples_per_s"], U_SAMPLE_S),
        mfu=plain(r["mfu"]), hfu=plain(r["hfu"]),
        scaling_efficiency=plain(r["scaling_efficiency"]),
        bubble_fraction=plain(r["bubble_fraction"]),
        breakdown={k: sec(k) for k in ("compute_time", "tp_comm_time", "cp_comm_time", "ep_comm_time",
                                        "pp_comm_time", "bubble_time", "dp_comm_exposed", "zero3_gather_time",
                                        "optimizer_time")},
        memory_per_device=gbq("memory_per_device"),
        memory_breakdown={k: gbq(k) for k in ("weights_memory", "gradients_memory", "optimizer_memory",
                                               "activation_memory", "logits_memory")},
        dp_size=plain(r["dp"]), microbatches=plain(r["microbatches"]),
        num_accelerators=plain(r["num_accelerators"]),
        feasible=plain(r["feasible"]), reason=plain(reason_text(r["reason_code"])),
    )
