"""Layer A: workloads. A transformer is described by its architecture; parameters, FLOPs and
bytes are *derived* from it, never typed in (the published counts are kept only to test against).

FLOP accounting follows Kaplan et al. 2020 ("Scaling Laws for Neural Language Models", Table 1)
and Narayanan et al. 2021 ("Efficient Large-Scale Language Model Training on GPU Clusters Using
Megatron-LM", Sec. 5.1): per token, a forward pass costs 2 FLOP per (active, non-embedding-lookup)
parameter plus 4·L·s·d_attn for attention scores and values at context length s.
"""
from __future__ import annotations

import math
from functools import cached_property
from typing import Literal, Optional, Union

import numpy as np
from pydantic import Field, model_validator

from ..core.fields import CatalogEntry, Quantity
from ..core.units import U_BYTE, U_FLOP
from ..hardware.types import bytes_per_element


#: Largest parameter count a workload may have: 1000x the largest published models (~1e12), so
#: FLOP and byte counts of any batch stay far inside float64 range.
MAX_PARAMETERS = 1e15


class Workload(CatalogEntry):
    family: Literal["Language", "Vision", "Speech", "Recommendation", "Multimodal", "Tiny"]
    release_year: Optional[int] = Field(default=None, ge=1990, le=2035)
    published_params: Optional[float] = Field(default=None, gt=0, description="parameter count as published (for tests)")

    @property
    def parameters(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def weight_bytes(self, precision: str = "fp16") -> float:
        """Bytes of all weights at ``precision``."""
        return self.parameters * bytes_per_element(precision)


class TransformerWorkload(Workload):
    """A decoder (or encoder) transformer, dense or mixture-of-experts, MHA/GQA/MQA or MLA attention."""

    kind: Literal["transformer"] = "transformer"
    layers: int = Field(gt=0)
    hidden: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: Optional[int] = Field(default=None, gt=0, description="key/value heads (GQA); defaults to heads")
    head_dim: Optional[int] = Field(default=None, gt=0, description="defaults to hidden / heads")
    ffn: int = Field(gt=0, description="MLP intermediate size of a dense layer")
    vocab: int = Field(gt=0)
    max_seq_len: int = Field(default=2048, gt=0)
    gated_mlp: bool = Field(default=True, description="SwiGLU/GeGLU: three MLP matrices instead of two")
    tie_embeddings: bool = False
    position_embeddings: int = Field(default=0, ge=0, description="learned absolute positions (GPT-2, BERT)")
    biases: bool = Field(default=False, description="linear layers carry biases (GPT-2, BERT)")
    encoder_only: bool = False
    # Mixture of experts
    experts: int = Field(default=1, ge=1)
    experts_per_token: int = Field(default=1, ge=1)
    shared_experts: int = Field(default=0, ge=0)
    moe_ffn: Optional[int] = Field(default=None, gt=0, description="intermediate size of one expert")
    dense_layers: int = Field(default=0, ge=0, description="leading layers with a dense MLP in an MoE model")
    # Multi-head latent attention (DeepSeek-V2/V3)
    q_lora_rank: Optional[int] = Field(default=None, gt=0)
    kv_lora_rank: Optional[int] = Field(default=None, gt=0)
    qk_rope_head_dim: Optional[int] = Field(default=None, gt=0)
    qk_nope_head_dim: Optional[int] = Field(default=None, gt=0)
    v_head_dim: Optional[int] = Field(default=None, gt=0)
    published_active_params: Optional[float] = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_shapes(self):
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        if self.head_dim is None and self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) is not divisible by heads ({self.heads}); give head_dim")
        if self.experts > 1 and self.moe_ffn is None:
            raise ValueError("an MoE model (experts > 1) needs moe_ffn")
        if self.experts_per_token > self.experts:
            raise ValueError(f"experts_per_token ({self.experts_per_token}) > experts ({self.experts})")
        if self.dense_layers > self.layers:
            raise ValueError(f"dense_layers ({self.dense_layers}) > layers ({self.layers})")
        if self.is_mla and None in (self.kv_lora_rank, self.qk_rope_head_dim, self.qk_nope_head_dim, self.v_head_dim):
            raise ValueError("MLA attention needs kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim and v_head_dim")
        try:  # an absurd architecture (hidden: 1e200) fails here, not as inf or OverflowError in the physics
            params = float(self.parameters)
        except OverflowError:
            params = math.inf
        if not params <= MAX_PARAMETERS:
            raise ValueError(f"the architecture has {params:.3g} parameters, more than the {MAX_PARAMETERS:.0e} "
                             "mlsysim computes with; check layers, hidden, ffn and vocab")
        return self

    # ---- architecture -------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.experts > 1

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads or self.heads

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def d_attn(self) -> int:
        """Width of the attention context (heads x value head dim)."""
        return self.heads * (self.v_head_dim if self.is_mla else self.d_head)

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers if self.is_moe else 0

    # ---- parameters (derived) -----------------------------------------------------------
    @cached_property
    def attention_params_per_layer(self) -> float:
        h, b = self.hidden, self.biases
        if self.is_mla:
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * self.heads * qk
            else:
                q = h * self.heads * qk
            kv = (h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
                  + self.kv_lora_rank * self.heads * (self.qk_nope_head_dim + self.v_head_dim))
            return float(q + kv + self.heads * self.v_head_dim * h)
        q_out, kv_out = self.heads * self.d_head, self.n_kv_heads * self.d_head
        p = h * q_out + 2 * h * kv_out + q_out * h
        if b:
            p += q_out + 2 * kv_out + h
        return float(p)

    def _mlp_params(self, inner: int) -> float:
        mats = 3 if self.gated_mlp else 2
        p = mats * self.hidden * inner
        if self.biases:
            p += inner + self.hidden
        return float(p)

    @cached_property
    def dense_mlp_params(self) -> float:
        return self._mlp_params(self.ffn)

    @cached_property
    def expert_params(self) -> float:
        """Parameters of one routed expert (0 for a dense model)."""
        return self._mlp_params(self.moe_ffn) if self.is_moe else 0.0

    @cached_property
    def moe_mlp_params(self) -> float:
        """All MLP parameters of one MoE layer: routed + shared experts + router."""
        if not self.is_moe:
            return 0.0
        return (self.experts + self.shared_experts) * self.expert_params + self.hidden * self.experts

    @property
    def norm_params_per_layer(self) -> float:
        return float(2 * self.hidden * (2 if self.biases else 1))

    @cached_property
    def embedding_params(self) -> float:
        """Token (+ learned position) embeddings, and the output head when not tied."""
        emb = self.vocab * self.hidden + self.position_embeddings * self.hidden
        head = 0 if (self.tie_embeddings or self.encoder_only) else self.vocab * self.hidden
        return float(emb + head)

    @cached_property
    def layer_params(self) -> float:
        """Non-embedding parameters of all layers."""
        dense_layers = self.layers - self.moe_layers
        per_dense = self.attention_params_per_layer + self.dense_mlp_params + self.norm_params_per_layer
        per_moe = self.attention_params_per_layer + self.moe_mlp_params + self.norm_params_per_layer
        return dense_layers * per_dense + self.moe_layers * per_moe + self.hidden

    @cached_property
    def parameters(self) -> float:
        """Total parameter count, derived from the architecture."""
        return self.layer_params + self.embedding_params

    @cached_property
    def active_parameters(self) -> float:
        """Parameters touched per token (an MoE layer uses experts_per_token + shared experts)."""
        if not self.is_moe:
            return self.parameters
        inactive = self.moe_layers * (self.experts - self.experts_per_token) * self.expert_params
        return self.parameters - inactive

    @cached_property
    def matmul_params_per_token(self) -> float:
        """Active parameters that take part in matrix multiplies (excludes the embedding lookup)."""
        lookup = self.vocab * self.hidden + self.position_embeddings * self.hidden
        head = self.vocab * self.hidden if (self.tie_embeddings and not self.encoder_only) else 0
        return self.active_parameters - lookup + head

    # ---- FLOPs and bytes (vectorized over sequence length) --------------------------------
    def forward_flops_per_token(self, context_len) -> np.ndarray | float:
        """Forward FLOPs for one token attending over ``context_len`` tokens:
        2·(active matmul params) + 4·L·s·d_attn (Kaplan et al. 2020; Narayanan et al. 2021)."""
        return 2.0 * self.matmul_params_per_token + 4.0 * self.layers * np.asarray(context_len, dtype=float) * self.d_attn

    def training_flops_per_token(self, seq_len) -> np.ndarray | float:
        """Forward + backward = 3x forward (Kaplan et al. 2020: C ~ 6N per token plus attention)."""
        return 3.0 * self.forward_flops_per_token(seq_len)

    def kv_cache_bytes_per_token(self, precision: str = "fp16") -> float:
        """KV-cache bytes per token: 2·L·n_kv·d_head·bytes (GQA); MLA caches the compressed
        latent L·(kv_lora_rank + rope dim)·bytes (DeepSeek-AI 2024, DeepSeek-V2 Sec. 2.1)."""
        if self.is_mla:
            return self.layers * (self.kv_lora_rank + self.qk_rope_head_dim) * bytes_per_element(precision)
        return 2.0 * self.layers * self.n_kv_heads * self.d_head * bytes_per_element(precision)


class CNNWorkload(Workload):
    """A fixed-shape network (CNN, MLP) characterised by measured counts from its paper."""

    kind: Literal["cnn"] = "cnn"
    params: float = Field(gt=0, le=MAX_PARAMETERS, description="parameter count")
    flops_per_sample: Quantity("FLOP") = Field(description="forward FLOPs per input (2 x multiply-accumulates)")
    activation_bytes_per_sample: Quantity("byte") = Field(
        description="bytes of layer outputs written and read per input at fp16 (scaled for other precisions)")
    input_shape: list[int] = Field(default_factory=list)

    @property
    def parameters(self) -> float:
        return self.params

    @cached_property
    def flops_per_sample_si(self) -> float:
        return self.flops_per_sample.m_as(U_FLOP)

    def activation_bytes(self, precision: str = "fp16") -> float:
        return self.activation_bytes_per_sample.m_as(U_BYTE) * bytes_per_element(precision) / 2.0


AnyWorkload = Union[TransformerWorkload, CNNWorkload]
