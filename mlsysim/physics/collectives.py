"""Time of collective operations on n ranks (vectorized), alpha-beta model.

Ring algorithms (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of
workstations", JPDC 69(2); Thakur, Rabenseifner & Gropp 2005, "Optimization of collective
communication operations in MPICH", IJHPCA 19(1)):

* all-reduce:                 2(n-1)/n · S/B + 2(n-1)·alpha
* all-gather / reduce-scatter: (n-1)/n · S/B + (n-1)·alpha      (S = the full gathered size)
* all-to-all:                  (n-1)/n · S/B + (n-1)·alpha      (S = bytes each rank holds)
* point-to-point:              S/B + alpha

B is the per-direction bandwidth of one rank's link; with n = 1 every collective costs 0.
"""
from __future__ import annotations

import numpy as np

# Collectives reach ~80% of a link's per-direction datasheet bandwidth: NCCL all-reduce "bus
# bandwidth" on DGX A100 NVLink3 measures ~230-240 GB/s of 300 GB/s, and ~20-22 GB/s of 25 GB/s per
# HDR NIC (NVIDIA nccl-tests performance notes; Jeaugey, "Massively Scale Your Deep Learning
# Training with NCCL 2.4", NVIDIA blog 2019).
LINK_EFFICIENCY = 0.80


def _frac(n):
    n = np.asarray(n, dtype=float)
    return (n - 1.0) / np.maximum(n, 1.0)


def _ring(size_bytes, n, bandwidth, latency, passes):
    """passes·(n-1)/n·S/B + passes·(n-1)·alpha; exactly 0 for a single rank (even with no link)."""
    if np.ndim(n) == 0 and np.ndim(size_bytes) == 0 and np.ndim(bandwidth) == 0:  # scalar fast path
        n = float(n)
        if n <= 1.0:
            return 0.0
        time_bw = float("inf") if bandwidth == 0 else (n - 1.0) / n * size_bytes / bandwidth
        return passes * (time_bw + (n - 1.0) * latency)
    n = np.asarray(n, dtype=float)
    many = n > 1.0
    bw = np.where(many, bandwidth, 1.0)
    with np.errstate(divide="ignore"):  # no link (bandwidth 0) between several ranks: infinite time
        return np.where(many, passes * (_frac(n) * size_bytes / bw + (n - 1.0) * latency), 0.0)


def all_reduce_time(size_bytes, n, bandwidth, latency):
    return _ring(size_bytes, n, bandwidth, latency, 2.0)


def all_gather_time(size_bytes, n, bandwidth, latency):
    return _ring(size_bytes, n, bandwidth, latency, 1.0)


reduce_scatter_time = all_gather_time


def all_to_all_time(size_bytes, n, bandwidth, latency):
    return _ring(size_bytes, n, bandwidth, latency, 1.0)


def p2p_time(size_bytes, bandwidth, latency):
    return size_bytes / bandwidth + latency


def group_link(group_size, stride, gpus_per_node, intra_bw, intra_lat, inter_bw, inter_lat):
    """Bandwidth and latency a communication group sees: the node's own link (NVLink) when the
    ``group_size`` ranks, spaced ``stride`` apart, all sit in one node; else the inter-node fabric
    (the slowest hop bounds a ring)."""
    span = np.asarray(group_size, dtype=float) * np.asarray(stride, dtype=float)
    inside = span <= gpus_per_node
    return np.where(inside, intra_bw, inter_bw), np.where(inside, intra_lat, inter_lat)
