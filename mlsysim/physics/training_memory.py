"""Memory of one device in distributed transformer training (vectorized).

* Model state, mixed-precision Adam: 2 B fp16/bf16 weights + 2 B gradients + 12 B optimizer state
  (fp32 master weights, momentum, variance) = 16 B per parameter; ZeRO stage 1 shards the optimizer
  state over the data-parallel group, stage 2 also the gradients, stage 3 also the weights
  (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
  SC'20, Sec. 3 and Fig. 1).
* Activations per layer per microbatch (Korthikanti et al. 2022, "Reducing Activation Recomputation
  in Large Transformer Models", Sec. 4, Table 2): s·b·h·(34 + 5·a·s/h) bytes without parallelism;
  tensor parallelism divides the 24 s·b·h of the linear-layer inputs by t, sequence parallelism the
  remaining 10 s·b·h too; selective recomputation (or FlashAttention) drops the 5·a·s²·b attention
  term; full recomputation keeps only the 2·s·b·h layer input. With 1F1B the first stage holds p
  microbatches of L/p layers; interleaving multiplies that by 1 + (p-1)/(p·v) (Sec. 4.2.3).
"""
from __future__ import annotations

import numpy as np

WEIGHT_BYTES = 2.0       # fp16/bf16 working copy
GRAD_BYTES = 2.0         # fp16/bf16 gradients
MASTER_COPY_BYTES = 4.0  # fp32 master weights kept by mixed-precision training
# Optimizer state per parameter beyond the master copy: Adam(W) momentum + variance in fp32 (8 B);
# SGD/Lion one fp32 momentum (4 B); Adafactor a factored second moment, O(rows + cols) per matrix,
# ~0 B/param (Shazeer & Stern 2018, Sec. 3).
OPTIMIZER_STATE_BYTES = {"adam": 8.0, "adamw": 8.0, "sgd": 4.0, "lion": 4.0, "adafactor": 0.0}
OPTIMIZER_BYTES = {k: MASTER_COPY_BYTES + v for k, v in OPTIMIZER_STATE_BYTES.items()}
#: Activation recomputation, by code: 0 none, 1 selective (Megatron: attention core; Korthikanti et
#: al. 2022), 2 full (every layer's forward), 3 selective_op (torchtitan's op-level selective
#: activation checkpointing: every other matmul output saved, the rest recomputed).
RECOMPUTE_MODES = ("none", "selective", "full", "selective_op")


def model_state_bytes(params_per_device, dp, zero_stage, optimizer: str = "adam") -> dict:
    """Weights, gradients and optimizer state per device under ZeRO ``zero_stage`` (0-3)."""
    p = np.asarray(params_per_device, dtype=float)
    d = np.asarray(dp, dtype=float)
    z = np.asarray(zero_stage, dtype=float)
    opt = OPTIMIZER_BYTES[optimizer]
    return {
        "weights": p * WEIGHT_BYTES / np.where(z >= 3, d, 1.0),
        "gradients": p * GRAD_BYTES / np.where(z >= 2, d, 1.0),
        "optimizer": p * opt / np.where(z >= 1, d, 1.0),
    }


def activation_bytes_per_layer(seq, micro_batch, hidden, heads, tp, sp, recompute, flash_attention=True, *,
                               kv_ratio=1.0, ffn_ratio=4.0, gated_mlp=False, dropout=True):
    """Activation bytes (16-bit) one layer keeps for one microbatch on one device.

    Korthikanti et al. 2022 (Sec. 4.1) count, per token and hidden unit, 10 bytes that tensor
    parallelism leaves replicated (two norm inputs 4, QKV and MLP inputs 4, two dropout masks 2) and
    24 it splits t ways (Q, K 4; V 2; projection input 2; GeLU input and output 16), plus 5·a·s/h for the
    attention scores. Generalized to the model's shape: K and V scale with ``kv_ratio`` = kv heads /
    heads (GQA; a rank holds at least one KV head), the MLP keeps 4·f/h (GeLU in, out) or 6·f/h
    (SwiGLU gate, up and product) with ``ffn_ratio`` = f/h, and the masks only with ``dropout``.
    Defaults reproduce Korthikanti's 34·s·b·h.

    ``recompute``: 0 none; 1 selective (Megatron: the attention core is recomputed, so only the
    scores term goes); 2 full (only the 2·s·b·h layer input stays); 3 ``selective_op`` (torchtitan's
    op-level selective checkpointing: the layer input, the attention output and every other matmul
    output are saved, everything else recomputed). FlashAttention never stores the scores.
    ``sp`` 0/1: sequence parallelism also splits the replicated part t ways."""
    s, b, h = (np.asarray(x, dtype=float) for x in (seq, micro_batch, hidden))
    t = np.asarray(tp, dtype=float)
    sp = np.asarray(sp, dtype=float)
    rc = np.asarray(recompute)
    sbh = s * b * h
    seq_split = np.where(sp > 0, t, 1.0)
    kv = 4.0 * np.maximum(kv_ratio, t / heads)          # K and V; a rank holds at least one KV head
    mlp = (6.0 if gated_mlp else 4.0) * ffn_ratio
    replicated = (8.0 + (2.0 if dropout else 0.0)) / seq_split
    split = (4.0 + kv + mlp) / t
    attention_scores = 0.0 if flash_attention else 5.0 * heads * s / (h * t)
    partial = sbh * (replicated + split + np.where(rc >= 1, 0.0, attention_scores))
    full = 2.0 * sbh / seq_split
    # op-level: layer input + attention output + half of the matmul outputs (Q, K, V, output
    # projection, the MLP's 2 or 3 matmuls)
    matmul_outputs = 2.0 + kv + 2.0 + (2.0 if gated_mlp else 1.0) * 2.0 * ffn_ratio + 2.0
    op_level = sbh * (2.0 / seq_split + (2.0 + 0.5 * matmul_outputs) / t)
    return np.where(rc == 2, full, np.where(rc == 3, op_level, partial))


def model_activation_shape(model) -> dict:
    """The shape arguments of :func:`activation_bytes_per_layer` for a transformer workload.
    Dropout is taken as off: Llama, MPT, PaLM and Chinchilla pre-train without it (GPT-3-era Megatron
    runs used 0.1, which adds 2 of 34 bytes per token and hidden unit)."""
    inner = model.moe_ffn * (model.experts_per_token + model.shared_experts) if model.is_moe else model.ffn
    return {"kv_ratio": model.n_kv_heads / model.heads, "ffn_ratio": inner / model.hidden,
            "gated_mlp": bool(model.gated_mlp), "dropout": False}


def in_flight_factor(pp, microbatches, virtual_stages):
    """Microbatches whose activations the first pipeline stage holds at once under 1F1B,
    times the interleaving overhead 1 + (p-1)/(p·v) (Korthikanti et al. 2022, Sec. 4.2.3)."""
    p = np.asarray(pp, dtype=float)
    v = np.asarray(virtual_stages, dtype=float)
    m = np.asarray(microbatches, dtype=float)
    inter = np.where(v > 1, 1.0 + (p - 1.0) / (p * v), 1.0)
    return np.minimum(p, m) * inter
