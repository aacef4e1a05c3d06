"""Scoring throughput: ``aevb score``'s ``nll`` (K = 100) over the 10 000 gray-MNIST test images and ``regret`` (100
Adam steps), 784-400-20 ReLU VAE, in images/s; ``nll`` also as GFLOP/s and a fraction of the fp32 GEMM peak measured
in the same process (the accounting of ``nll_throughput.py``: encoder once per image, decoder K times).

    python benchmarks/score_throughput.py                  # random weights (same FLOPs as a trained model)
    python benchmarks/score_throughput.py --run RUN        # a trained run's model
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import gemm_peak, machine, mlp_vae_flops  # noqa: E402

from aevb import ModelConfig, build_model, load, load_dataset  # noqa: E402
from aevb.scoring import ScoreSettings, score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default=None, help="a trained 784-400-20 run (default: random weights)")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--regret-points", type=int, default=2000)
    args = parser.parse_args()
    print(machine())
    data = load_dataset("mnist", "test", data_dir=os.environ.get("AEVB_DATA_DIR"), download=False)
    model = load(args.run) if args.run else build_model(ModelConfig(latent_dim=20, hidden=[400]), (1, 28, 28), seed=0)
    x = data.x
    enc, dec = mlp_vae_flops(784, [400], 20)
    peak = gemm_peak(torch.float32)
    settings = ScoreSettings(nll_samples=args.k)
    start = time.perf_counter()
    score(model, x, ["nll"], settings=settings)
    t = time.perf_counter() - start
    gflops = x.shape[0] * (enc + args.k * dec) / t / 1e9
    print(
        f"nll, K = {args.k}: {x.shape[0]} images in {t:.1f} s = {x.shape[0] / t:.0f} images/s; {gflops:.0f} GFLOP/s = "
        f"{gflops / peak:.0%} of the fp32 GEMM peak measured just before ({peak:.0f} GFLOP/s)"
    )
    xr = data.spread(args.regret_points).x
    start = time.perf_counter()
    score(model, xr, ["regret"], settings=settings)
    t = time.perf_counter() - start
    print(f"regret, {settings.regret_steps} steps: {xr.shape[0]} images in {t:.1f} s = {xr.shape[0] / t:.0f} images/s")


if __name__ == "__main__":
    main()
