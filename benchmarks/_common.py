"""Shared helpers for the benchmark scripts: timing medians, the measured matmul peak, and the machine line."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import torch


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, load average {load:.1f} at start"
    )


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, sync: Callable[[], None] = lambda: None):
    """Median wall seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_peak(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5, device: str = "cpu") -> float:
    """Measured GEMM throughput in GFLOP/s: the median of ``repeats`` n×n×n products (2n³ FLOPs each)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    inner = 4

    def run() -> None:
        for _ in range(inner):
            a @ b

    t = median_time(run, repeats=repeats, warmup=1, sync=sync)
    return 2 * n**3 * inner / t / 1e9


def mlp_vae_flops(data_dim: int, hidden: list[int], latent: int) -> tuple[int, int]:
    """Multiply-add FLOPs (2 per MAC) of (encoder per datapoint, decoder per latent sample) of an MLP VAE."""

    def chain(widths: list[int]) -> int:
        return sum(2 * a * b for a, b in zip(widths[:-1], widths[1:], strict=True))

    enc = chain([data_dim, *hidden, 2 * latent])
    dec = chain([latent, *reversed(hidden), data_dim])
    return enc, dec
