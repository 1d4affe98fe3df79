"""Domain 3 (algorithm): is quantization, pruning or distillation worth it?

First-order model of what compression does to the *weights*:

* compression_ratio = original weight bytes / compressed weight bytes;
* memory-bound speedup = the same bytes ratio -- a decode step that streams its weights from
  memory (roofline memory term, Williams et al. 2009) speeds up by the bytes it no longer reads;
* compute speedup = peak FLOP/s at the new precision / peak at the base precision on ``hardware``
  (1 for weight-only int4, which dequantizes to 16-bit before the matmul); for distillation the
  FLOP ratio of the smaller student.

Per method (bits per weight, base = ``base_precision``, 16-bit by default):

* ``int8``  8 bits. LLM.int8() (Dettmers et al. 2022, NeurIPS) shows no perplexity or zero-shot
  degradation up to 175B parameters; SmoothQuant W8A8 (Xiao et al. 2023, ICML) stays within about
  a point of FP16 accuracy on OPT-175B / BLOOM-176B.
* ``fp8``   8 bits. Micikevicius et al. 2022, "FP8 Formats for Deep Learning" (arXiv:2209.05433):
  FP8 (E4M3) inference and training match 16-bit baselines within run-to-run noise.
* ``int4``  4 bits + group-wise scale and zero (16-bit each per ``group_size`` weights, GPTQ's
  grouping). GPTQ (Frantar et al. 2023, ICLR) and AWQ (Lin et al. 2024, MLSys): small
  perplexity increases for large models (tenths of a point at 4-bit for OPT-175B), larger for
  models below ~10B parameters.
* ``pruning`` unstructured, keeps (1 - sparsity) of the weights (ideal storage, no index
  overhead). SparseGPT (Frantar & Alistarh 2023, ICML): 50-60% sparsity at negligible perplexity
  increase on the largest GPT models, degradation rising quickly beyond ~60% and for small models.
  The speedup assumes kernels that skip zeros (2:4 sparse tensor cores, or memory-bound sparse
  formats); unstructured sparsity often yields none in practice.
* ``distillation`` a student with ``student_fraction`` of the parameters (default 0.6: DistilBERT
  is 40% smaller than BERT-base and keeps 97% of its GLUE score, Sanh et al. 2019, arXiv:1910.01108).

``accuracy_delta`` is a documented (low, high) range of the change in task accuracy in
**percentage points** (negative = worse), summarised from the papers above for large models; it is
an indication of the literature, not a prediction for a particular model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UnknownNameError, UserInputError
from ..core.units import ureg
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, to_si, plain
from .inputs import fraction_si, resolve_entry
METHODS = ("int8", "int4", "fp8", "pruning", "distillation")

#: Documented accuracy change ranges (percentage points), and their sources.
ACCURACY_DELTA = {
    "int8": ((-1.0, 0.0), "Dettmers et al. 2022 (LLM.int8(), no degradation to 175B); Xiao et al. 2023 (SmoothQuant W8A8, within ~1 point)"),
    "fp8": ((-0.5, 0.0), "Micikevicius et al. 2022, FP8 Formats for Deep Learning (matches 16-bit within noise)"),
    "int4": ((-2.0, -0.1), "Frantar et al. 2023 (GPTQ); Lin et al. 2024 (AWQ): small loss for large models, more below ~10B"),
    "pruning": ((-2.0, 0.0), "Frantar & Alistarh 2023 (SparseGPT): <=60% unstructured sparsity, negligible loss on large models"),
    "pruning_high": ((-20.0, -2.0), "Frantar & Alistarh 2023 (SparseGPT): accuracy degrades quickly beyond ~60% sparsity"),
    "distillation": ((-3.0, -1.0), "Sanh et al. 2019 (DistilBERT: 40% smaller, 97% of BERT-base GLUE score)"),
}
#: Weights per quantization group for int4 (GPTQ/AWQ group size 128, one 16-bit scale + one 16-bit zero).
DEFAULT_GROUP_SIZE = 128
#: Default DistilBERT-like student size.
DEFAULT_STUDENT_FRACTION = 0.6
#: Default pruning sparsity (SparseGPT's headline 50%).
DEFAULT_SPARSITY = 0.5
_U_GB = ureg.gigabyte


def compression_si(params, base_bits, new_bits, keep_fraction, compute_ratio=1.0) -> dict:
    """Vectorized weight compression. ``params`` parameters stored at ``base_bits`` become
    ``keep_fraction`` x params at ``new_bits``. Returns ``original_bytes``, ``compressed_bytes``,
    ``memory_saving`` (bytes), ``compression_ratio``, ``memory_bound_speedup`` and ``compute_speedup``."""
    n = np.asarray(params, dtype=float)
    orig = n * np.asarray(base_bits, dtype=float) / 8.0
    comp = n * np.asarray(keep_fraction, dtype=float) * np.asarray(new_bits, dtype=float) / 8.0
    ratio = orig / comp
    return {"original_bytes": orig, "compressed_bytes": comp, "memory_saving": orig - comp,
            "compression_ratio": ratio, "memory_bound_speedup": ratio,
            "compute_speedup": np.asarray(compute_ratio, dtype=float) + 0.0 * ratio}


@dataclass
class CompressionResult(Result):
    """Result of :meth:`CompressionModel.solve`."""

    compression_ratio: object        # original / compressed weight bytes
    original_size: object            # GB
    compressed_size: object          # GB
    memory_saving: object            # GB
    memory_saving_fraction: object   # 1 - 1/ratio
    memory_bound_speedup: object     # bytes ratio (weight-streaming decode)
    compute_speedup: object          # peak ratio on the hardware (1 if unknown)
    accuracy_delta: tuple            # (low, high) percentage points
    accuracy_source: str
    fits_in_memory: object           # compressed weights <= device memory (None without hardware)
    method: str
    bits_per_weight: float


class CompressionModel:
    """Is quantization/pruning/distillation worth it? (see the module docstring)"""

    def solve(self, model, hardware=None, method="int8", sparsity=DEFAULT_SPARSITY, base_precision="fp16",
              group_size=DEFAULT_GROUP_SIZE, student_fraction=DEFAULT_STUDENT_FRACTION) -> CompressionResult:
        """``model``: a workload (anything with ``.parameters``) or its catalog name; ``hardware``:
        optional ``HardwareNode`` for the fit check and the compute speedup; ``method``: one of
        "int8", "int4", "fp8", "pruning", "distillation"; ``sparsity``: pruned fraction (pruning);
        ``student_fraction``: student / teacher parameters (distillation)."""
        from ..hardware.types import HardwareNode
        from ..models.types import Workload

        key = str(method).strip().lower().replace("-", "").replace("_", "")
        key = {"w8a8": "int8", "w4a16": "int4", "sparsity": "pruning", "prune": "pruning", "distill": "distillation",
               "kd": "distillation"}.get(key, key)
        if key not in METHODS:
            raise UnknownNameError("compression method", str(method), METHODS)
        model = resolve_entry(model, "models", Workload, "model")
        if hardware is not None:
            hardware = resolve_entry(hardware, "hardware", HardwareNode, "hardware")
        base_bits = 8.0 * bytes_per_element(base_precision)
        keep, compute, high_sparsity = 1.0, 1.0, False
        if key in ("int8", "fp8"):
            new_bits = 8.0
            if base_bits <= new_bits:
                raise UserInputError(f"method {key}: base_precision {base_precision} is already {base_bits:g}-bit")
            if hardware is not None:
                compute = hardware.peak_flops_si(key) / hardware.peak_flops_si(base_precision)
        elif key == "int4":
            g = to_si(group_size, ureg.dimensionless, what="group_size", integer=True)
            new_bits = 4.0 + 32.0 / np.asarray(g, dtype=float)
            if np.any(new_bits >= base_bits):
                raise UserInputError(f"method int4: base_precision {base_precision} is not wider than int4")
            new_bits = plain(new_bits)
        elif key == "pruning":
            s = fraction_si(sparsity, "sparsity", allow_one=False)
            keep, new_bits = 1.0 - np.asarray(s, dtype=float), base_bits
            high_sparsity = bool(np.any(np.asarray(s) > 0.6))
        else:  # distillation
            f = fraction_si(student_fraction, "student_fraction", allow_zero=False)
            keep, new_bits = np.asarray(f, dtype=float), base_bits
            compute = 1.0 / keep
        r = compression_si(model.parameters, base_bits, new_bits, keep, compute)
        if key == "pruning":
            delta, source = ACCURACY_DELTA["pruning_high" if high_sparsity else "pruning"]
        else:
            delta, source = ACCURACY_DELTA[key]
        fits = None
        if hardware is not None:
            fits = plain(r["compressed_bytes"] <= hardware.si["memory_capacity"])
        gb = lambda k: as_unit(plain(r[k] / 1e9), _U_GB)  # noqa: E731
        ratio = plain(r["compression_ratio"])
        return CompressionResult(
            compression_ratio=ratio, original_size=gb("original_bytes"), compressed_size=gb("compressed_bytes"),
            memory_saving=gb("memory_saving"), memory_saving_fraction=plain(1.0 - 1.0 / np.asarray(ratio)),
            memory_bound_speedup=plain(r["memory_bound_speedup"]), compute_speedup=plain(r["compute_speedup"]),
            accuracy_delta=delta, accuracy_source=source, fits_in_memory=fits, method=key,
            bits_per_weight=plain(np.asarray(new_bits, dtype=float) * np.asarray(keep, dtype=float)),
        )
