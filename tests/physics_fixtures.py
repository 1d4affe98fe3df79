"""Workloads, accelerators and clusters built in Python for the physics tests (independent of
the YAML catalog). Numbers are from the cited model cards and datasheets."""
from __future__ import annotations

from mlsysim.hardware.types import HardwareNode
from mlsysim.models.types import CNNWorkload, TransformerWorkload
from mlsysim.systems.types import Cluster, Fabric, Node

L70 = TransformerWorkload(key="L70", name="Llama 3 70B", family="Language", source="Meta Llama 3 model card config",
                          layers=80, hidden=8192, heads=64, kv_heads=8, ffn=28672, vocab=128256, max_seq_len=8192)
L8 = TransformerWorkload(key="L8", name="Llama 3 8B", family="Language", source="Meta Llama 3 model card config",
                         layers=32, hidden=4096, heads=32, kv_heads=8, ffn=14336, vocab=128256, max_seq_len=8192)
MIXTRAL = TransformerWorkload(key="MX", name="Mixtral 8x7B", family="Language", source="Mistral AI Mixtral config.json",
                              layers=32, hidden=4096, heads=32, kv_heads=8, ffn=14336, vocab=32000, max_seq_len=32768,
                              experts=8, experts_per_token=2, moe_ffn=14336)
R50 = CNNWorkload(key="R50", name="ResNet-50", family="Vision", source="He et al 2016",
                  params=25.6e6, flops_per_sample="8.2 GFLOP", activation_bytes_per_sample="46 MB")

A100 = HardwareNode(key="A100x", name="A100 80GB", category="Cloud", vendor="NVIDIA", release_year=2020,
                    source="NVIDIA A100 datasheet",
                    compute={"peak_flops": "312 TFLOP/s", "default_precision": "bf16",
                             "precision_flops": {"fp32": "19.5 TFLOP/s", "tf32": "156 TFLOP/s",
                                                 "fp16": "312 TFLOP/s", "int8": "624 TOP/s"}},
                    memory={"capacity": "80 GB", "bandwidth": "2039 GB/s"}, tdp="400 W",
                    interconnect={"name": "NVLink3", "bandwidth": "600 GB/s"}, price_usd="15000 USD",
                    cloud_price_per_hour="4 USD/hour")
H100 = HardwareNode(key="H100x", name="H100 SXM", category="Cloud", vendor="NVIDIA", release_year=2022,
                    source="NVIDIA H100 datasheet",
                    compute={"peak_flops": "989.4 TFLOP/s", "default_precision": "bf16",
                             "precision_flops": {"fp32": "66.9 TFLOP/s", "fp16": "989.4 TFLOP/s",
                                                 "fp8": "1978.9 TFLOP/s", "int8": "1978.9 TOP/s"}},
                    memory={"capacity": "80 GB", "bandwidth": "3.35 TB/s"}, tdp="700 W",
                    interconnect={"name": "NVLink4", "bandwidth": "900 GB/s"}, price_usd="30000 USD")
# Wafer-scale engine for the weight-streaming model: 44 GB on-chip SRAM (Cerebras CS-3 datasheet);
# the peak is a round illustrative figure.
CS3 = HardwareNode(key="CS3x", name="Cerebras CS-3", category="Cloud", vendor="Cerebras", release_year=2024,
                   source="Cerebras CS-3 datasheet", compute={"peak_flops": "125 PFLOP/s", "default_precision": "fp16"},
                   memory={"capacity": "44 GB", "bandwidth": "21 PB/s"}, tdp="23 kW")

HDR = Fabric(key="HDRx", name="IB HDR", kind="infiniband", bandwidth="200 Gbit/s", latency="5 us",
             source="Mellanox ConnectX-6 datasheet")
DGXA = Node(key="DGXAx", name="DGX A100", accelerator=A100, accelerators_per_node=8, host_power="3300 W",
            source="NVIDIA DGX A100 datasheet")


def cluster(nodes: int) -> Cluster:
    """Selene-like DGX A100 SuperPOD slice (Korthikanti et al. 2022 ran on Selene)."""
    return Cluster(key=f"sel{nodes}", name="Selene", node=DGXA, node_count=nodes, fabric=HDR, source="Korthikanti 2022")


def gpt(layers: int, hidden: int, heads: int) -> TransformerWorkload:
    """GPT-style model of Korthikanti et al. 2022, Table 3."""
    return TransformerWorkload(key=f"gpt{hidden}", name=f"GPT {hidden}", family="Language",
                               source="Korthikanti 2022 Table 3", layers=layers, hidden=hidden, heads=heads,
                               ffn=4 * hidden, vocab=51200, max_seq_len=2048, gated_mlp=False, biases=True,
                               position_embeddings=2048)


def make_hw(peak_tflops: float = 312.0, bandwidth_gbs: float = 2039.0, capacity_gb: float = 80.0,
            link_gbs: float = 600.0, key: str = "probe") -> HardwareNode:
    """A fresh accelerator with the given specs (a new object, so no cached SI values)."""
    return HardwareNode(key=key, name=f"probe {peak_tflops:g} TF {bandwidth_gbs:g} GB/s", category="Cloud",
                        vendor="test", release_year=2024, source="synthetic test device",
                        compute={"peak_flops": f"{float(peak_tflops)!r} TFLOP/s", "default_precision": "fp16"},
                        memory={"capacity": f"{float(capacity_gb)!r} GB", "bandwidth": f"{float(bandwidth_gbs)!r} GB/s"},
                        tdp="400 W", interconnect={"name": "link", "bandwidth": f"{float(link_gbs)!r} GB/s"})
