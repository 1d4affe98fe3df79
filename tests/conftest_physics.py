"""Catalog objects for the physics tests, built in Python with round, test-only numbers so every
expected value can be checked by hand (they are *not* the catalog's datasheet values).

Import from test modules: ``from conftest_physics import ...`` (pytest puts ``tests/`` on sys.path).
"""
from __future__ import annotations

import math

import pint

from mlsysim.core.units import Q_
from mlsysim.hardware.types import HardwareNode
from mlsysim.infra.types import GridRegion
from mlsysim.models.types import CNNWorkload, TransformerWorkload
from mlsysim.systems.types import Cluster, Fabric, Node

SRC = "test fixture with round numbers (not a datasheet)"


def make_a100(**kw) -> HardwareNode:
    spec = dict(key="A100_T", name="A100 test", category="Cloud", vendor="NVIDIA", release_year=2020, source=SRC,
                compute={"peak_flops": "312 TFLOP/s", "default_precision": "bf16",
                         "precision_flops": {"int8": "624 TOP/s", "fp32": "19.5 TFLOP/s"}},
                memory={"capacity": "80 GB", "bandwidth": "2000 GB/s"}, tdp="400 W",
                interconnect={"name": "NVLink 3", "bandwidth": "600 GB/s"},
                price_usd="15000 USD", cloud_price_per_hour="2 USD/hour", embodied_carbon="150 kgCO2e")
    spec.update(kw)
    return HardwareNode(**spec)


def make_h100(**kw) -> HardwareNode:
    spec = dict(key="H100_T", name="H100 test", category="Cloud", vendor="NVIDIA", release_year=2022, source=SRC,
                compute={"peak_flops": "1000 TFLOP/s", "default_precision": "bf16",
                         "precision_flops": {"fp8": "2000 TFLOP/s", "int8": "2000 TOP/s"}},
                memory={"capacity": "80 GB", "bandwidth": "3350 GB/s"}, tdp="700 W",
                interconnect={"name": "NVLink 4", "bandwidth": "900 GB/s"}, price_usd="30000 USD")
    spec.update(kw)
    return HardwareNode(**spec)


def make_tiny() -> HardwareNode:
    return HardwareNode(key="MCU_T", name="MCU test", category="Tiny", vendor="x", release_year=2020, source=SRC,
                        compute={"peak_flops": "0.5 GFLOP/s"}, memory={"capacity": "512 kB", "bandwidth": "1 GB/s"},
                        tdp="0.1 W")


IB_HDR = Fabric(key="IB_HDR_T", name="IB HDR test", kind="infiniband", bandwidth="200 Gbit/s", source=SRC)
IB_NDR = Fabric(key="IB_NDR_T", name="IB NDR test", kind="infiniband", bandwidth="400 Gbit/s", source=SRC)

A100 = make_a100()
H100 = make_h100()

# DGX A100-like: 8 x A100, 1.5 kW of host, $50k of server -> node price 8 x 15,000 + 50,000 = $170,000;
# MTBF set explicitly to 50,000 h.
DGX_A100 = Node(key="DGX_A100_T", name="DGX A100 test", accelerator=A100, accelerators_per_node=8,
                host_power="1500 W", host_price="50000 USD", mtbf="50000 hour", source=SRC)
# DGX H100-like: MTBF left at its default -> ReliabilityModel derives it from the Llama 3 log.
DGX_H100 = Node(key="DGX_H100_T", name="DGX H100 test", accelerator=H100, accelerators_per_node=8,
                host_power="2000 W", host_price="70000 USD", source=SRC)


def research_256(**kw) -> Cluster:
    """32 DGX A100 test nodes (256 GPUs) on IB HDR."""
    spec = dict(key="Research_256_T", name="Research 256 test", node=DGX_A100, node_count=32, fabric=IB_HDR,
                source=SRC)
    spec.update(kw)
    return Cluster(**spec)


def h100_256(**kw) -> Cluster:
    """32 DGX H100 test nodes (256 GPUs) on IB NDR."""
    spec = dict(key="H100_256_T", name="H100 256 test", node=DGX_H100, node_count=32, fabric=IB_NDR, source=SRC)
    spec.update(kw)
    return Cluster(**spec)


def small_cluster(nodes=2, **node_kw) -> Cluster:
    node = Node(**{**dict(key="N_T", name="node test", accelerator=A100, accelerators_per_node=8,
                          host_power="1500 W", host_price="50000 USD", source=SRC), **node_kw})
    return Cluster(key="Small_T", name="small test", node=node, node_count=nodes, fabric=IB_HDR, source=SRC)


def grid(key, intensity, price, pue, wue) -> GridRegion:
    return GridRegion(key=key, name=key, country="test", carbon_intensity=f"{intensity} gCO2e/kWh",
                      electricity_price=f"{price} USD/kWh", pue=pue, wue=f"{wue} L/kWh", source=SRC)


QUEBEC = grid("Quebec_T", 20, 0.05, 1.1, 0.2)
US_AVG = grid("US_Avg_T", 400, 0.08, 1.4, 0.5)
POLAND = grid("Poland_T", 700, 0.15, 1.5, 0.4)

# Llama 3 70B architecture (Meta model card): 80 layers, d=8192, 64 heads / 8 KV heads, FFN 28672, vocab 128256.
LLAMA3_70B = TransformerWorkload(key="Llama3_70B_T", name="Llama 3 70B test", family="Language", layers=80,
                                 hidden=8192, heads=64, kv_heads=8, ffn=28672, vocab=128256, max_seq_len=8192,
                                 source=SRC)
RESNET50 = CNNWorkload(key="ResNet50_T", name="ResNet-50 test", family="Vision", params=25.6e6,
                       flops_per_sample="8.2 GFLOP", activation_bytes_per_sample="20 MB", source=SRC)


def dim(q) -> str:
    """Dimensionality of a quantity as a string ('' for plain numbers)."""
    return str(q.dimensionality) if isinstance(q, pint.Quantity) else ""


def assert_dims(result, expected: dict) -> None:
    """Every field named in ``expected`` has that pint dimensionality; None means a plain value."""
    for name, want in expected.items():
        value = getattr(result, name)
        if want is None:
            assert not isinstance(value, pint.Quantity), f"{name} should be a plain value, got {value!r}"
        else:
            assert isinstance(value, pint.Quantity), f"{name} should be a Quantity, got {value!r}"
            assert value.dimensionality == Q_(1, want).dimensionality, f"{name}: {value.dimensionality} != {want}"


def close(a, b, rel=1e-9, abs_=0.0) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)
