"""log p(x) by importance sampling on a device, in fp32, tf32 and bf16, against the device's measured fp32 GEMM peak and
against the fp32 CPU result of the same run (issue 27: ≥ 30 % of the peak; the NLL within 0.05 nats of the CPU's).

For each precision: ``aevb.evaluate`` over ``--limit`` evenly spaced test images of the run's dataset at K = ``-k``,
compiled when the whole set's work pays (as ``aevb evaluate`` decides), timed with the device synchronized after a
warm-up on one evaluation batch (timed apart: compilation is not counted); the decoder and encoder FLOPs of an MLP
VAE per second as a share of the fp32 GEMM peak measured in the same process (TF32 off); the NLL and its difference
to the device's fp32 NLL. Then the fp32 NLL on the CPU of the first ``--cpu-limit`` of those images with the same
seed, against the device's on the same images.

    python benchmarks/evaluate_device.py RUN --device cuda                     # the whole test set, K = 5000
    python benchmarks/evaluate_device.py RUN --device cpu -k 200 --limit 200   # tried here, on the CPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import gemm_peak, machine, mlp_vae_flops  # noqa: E402

import aevb  # noqa: E402
from aevb.config import PRECISIONS  # noqa: E402
from aevb.inference.importance import compile_pays  # noqa: E402
from aevb.runs.rundir import Run  # noqa: E402


def timed_nll(
    model: torch.nn.Module, x: torch.Tensor, k: int, precision: str, device: torch.device, compile: bool
) -> tuple:
    """(seconds, NLL per datapoint, whether it compiled) of one ``aevb.evaluate`` call, the device synchronized."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    result = aevb.evaluate(model, x, nll_samples=k, precision=precision, seed=0, compile=compile)
    sync()
    return time.perf_counter() - start, result.nll, result.compiled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a run directory of an MLP VAE (what aevb train --out wrote)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("-k", type=int, default=5000, help="importance samples per datapoint")
    ap.add_argument("--limit", type=int, default=0, help="evenly spaced test images (0: all)")
    ap.add_argument("--cpu-limit", type=int, default=200, help="images for the CPU reference NLL")
    args = ap.parse_args()
    device = torch.device(args.device)
    run = Run(args.run)
    test = run.data("test")
    test = test.spread(args.limit) if args.limit else test
    model = aevb.load(args.run, device=str(device))
    config = run.config.model
    enc, dec = mlp_vae_flops(test.x[0].numel(), list(config.hidden), config.latent_dim)
    n = test.x.shape[0]
    flops = n * enc + n * args.k * dec

    matmul = torch.backends.cuda.matmul
    saved, matmul.fp32_precision = matmul.fp32_precision, "ieee"
    peak = gemm_peak(torch.float32, n=4096 if device.type == "cuda" else 2048, device=str(device))
    matmul.fp32_precision = saved
    print(f"{machine()}; device {device}; fp32 GEMM peak {peak:,.0f} GFLOP/s (TF32 off)")
    print(f"{n} test images of {run.config.train.dataset}, K = {args.k}: {flops / 1e12:.2f} TFLOP of MLP work")

    nll, compile = {}, compile_pays(n, args.k)  # the choice `aevb evaluate` makes for the whole set
    for precision in PRECISIONS:
        # one evaluation batch first (aevb.evaluate's 500 datapoints): compilation and warm-up apart from the timing
        warmup, _, _ = timed_nll(model, test.x[:500], args.k, precision, device, compile)
        seconds, nll[precision], compiled = timed_nll(model, test.x, args.k, precision, device, compile)
        print(f"{precision}: warm-up on {min(n, 500)} images {warmup:.1f} s (compilation included where it compiles)")
        rate = flops / seconds / 1e9
        print(
            f"{precision}: {seconds:.1f} s = {n / seconds:,.0f} images/s, {rate:,.0f} GFLOP/s = "
            f"{rate / peak:.1%} of the fp32 peak; NLL {nll[precision]:.4f} nats "
            f"({nll[precision] - nll['fp32']:+.4f} against fp32)"
            f"{', compiled' if compiled else ''}"
        )

    few = test.x[: args.cpu_limit]
    on_device = aevb.evaluate(model, few, nll_samples=args.k, seed=0).nll
    on_cpu = aevb.evaluate(aevb.load(args.run, device="cpu"), few, nll_samples=args.k, seed=0).nll
    print(
        f"the first {few.shape[0]} images, fp32: {args.device} {on_device:.4f}, CPU {on_cpu:.4f} nats, "
        f"difference {on_device - on_cpu:+.4f} (goal: within 0.05)"
    )


if __name__ == "__main__":
    main()
