"""CompressionModel (compression.py)."""
import json
import numpy as np
import pytest

from conftest_physics import H100, LLAMA3_70B, RESNET50, assert_dims, close
from mlsysim.core.errors import UnknownNameError, UserInputError
from mlsysim.physics.compression import ACCURACY_DELTA, CompressionModel, compression_si

N = LLAMA3_70B.parameters   # 70,553,706,496 parameters, derived from the architecture


def test_int8_hand_arithmetic():
    # fp16 -> int8: 2 bytes -> 1 byte per weight: ratio 2, 141.1 GB -> 70.55 GB
    r = CompressionModel().solve(LLAMA3_70B, H100, "int8")
    assert close(r.compression_ratio, 2.0) and close(r.memory_bound_speedup, 2.0)
    assert close(r.original_size.m_as("B"), 2 * N) and close(r.compressed_size.m_as("B"), N)
    assert close(r.memory_saving_fraction, 0.5)
    # H100 test part: 2000 TOP/s int8 / 1000 TFLOP/s bf16 = 2x compute
    assert close(r.compute_speedup, 2.0)
    assert r.fits_in_memory is True   # 70.55 GB <= 80 GB
    assert r.accuracy_delta == ACCURACY_DELTA["int8"][0] and "Dettmers" in r.accuracy_source


def test_int4_group_overhead():
    # 4 bits + (16-bit scale + 16-bit zero) / 128 weights = 4.25 bits; ratio 16 / 4.25 = 3.7647
    r = CompressionModel().solve(LLAMA3_70B, H100, "int4")
    assert close(r.bits_per_weight, 4.25) and close(r.compression_ratio, 16 / 4.25)
    assert r.compute_speedup == 1.0   # weight-only: dequantized before the matmul
    assert close(CompressionModel().solve(LLAMA3_70B, method="int4", group_size=64).bits_per_weight, 4.5)


def test_pruning_and_distillation():
    # keep 1 - 0.5 of the weights: ratio 2; at 75% sparsity: ratio 4 and the high-sparsity range
    assert close(CompressionModel().solve(RESNET50, method="pruning", sparsity=0.5).compression_ratio, 2.0)
    high = CompressionModel().solve(RESNET50, method="pruning", sparsity=0.75)
    assert close(high.compression_ratio, 4.0) and high.accuracy_delta == ACCURACY_DELTA["pruning_high"][0]
    # DistilBERT-like student of 60%: ratio and FLOP speedup 1/0.6
    d = CompressionModel().solve(RESNET50, method="distillation")
    assert close(d.compression_ratio, 1 / 0.6) and close(d.compute_speedup, 1 / 0.6)
    assert d.fits_in_memory is None


def test_fp32_base_and_ranges_are_documented():
    assert close(CompressionModel().solve(RESNET50, method="fp8", base_precision="fp32").compression_ratio, 4.0)
    for key, ((lo, hi), src) in ACCURACY_DELTA.items():
        assert lo <= hi <= 0 and len(src) > 10


def test_dimensions():
    r = CompressionModel().solve(LLAMA3_70B, H100, "fp8")
    assert_dims(r, {"original_size": "B", "compressed_size": "B", "memory_saving": "B", "compression_ratio": None,
                    "memory_bound_speedup": None, "compute_speedup": None, "fits_in_memory": None})
    assert isinstance(r.accuracy_delta, tuple) and len(r.accuracy_delta) == 2


def test_scalar_equals_core_elementwise():
    s = np.array([0.1, 0.5, 0.9])
    core = compression_si(N, 16.0, 16.0, 1 - s)
    vec = CompressionModel().solve(LLAMA3_70B, method="pruning", sparsity=s)
    for i, x in enumerate(s):
        one = CompressionModel().solve(LLAMA3_70B, method="pruning", sparsity=float(x))
        assert close(one.compression_ratio, core["compression_ratio"][i])
        assert close(vec.compressed_size.m_as("B")[i], core["compressed_bytes"][i])


@pytest.mark.parametrize("kw, err", [
    ({"method": "int3"}, UnknownNameError), ({"method": "pruning", "sparsity": 1.0}, UserInputError),
    ({"method": "pruning", "sparsity": -0.1}, UserInputError), ({"method": "int8", "base_precision": "int8"}, UserInputError),
    ({"method": "distillation", "student_fraction": 0}, UserInputError), ({"base_precision": "fp12"}, UnknownNameError),
])
def test_bad_inputs(kw, err):
    with pytest.raises(err):
        CompressionModel().solve(LLAMA3_70B, **kw)


def test_bad_model():
    with pytest.raises(UserInputError):
        CompressionModel().solve(12345)


def test_result_is_json_ready():
    json.dumps(CompressionModel().solve(LLAMA3_70B, H100, "int4").to_dict())
