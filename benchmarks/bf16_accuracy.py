"""bf16 autocast vs fp32 on binarized MNIST: training throughput, final test ELBO after the same epochs, and IS-NLL.

Trains the 784-400-20 ReLU VAE (batch 100, Adam 1e-3, estimator B) for ``--epochs`` epochs in each precision from the
same initialization and seed, then reports the epoch times (throughput gain), the test ELBO of each (goal: within
0.5 nats) and the IS-NLL of the fp32 model evaluated in both precisions on the same samples (goal: within 0.05 nats).

    AEVB_DATA_DIR=/work/shared/data python benchmarks/bf16_accuracy.py [--epochs 3] [--nll-points 1000] [-k 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402

from aevb import ModelConfig, TrainConfig, build_model  # noqa: E402
from aevb.data import load_dataset  # noqa: E402
from aevb.evaluation import evaluate, log_likelihood  # noqa: E402
from aevb.training.trainer import Trainer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--nll-points", type=int, default=1000)
    ap.add_argument("-k", type=int, default=1000)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    data_dir = os.environ.get("AEVB_DATA_DIR")
    train = load_dataset("binarized-mnist", split="train", data_dir=data_dir, download=False)
    test = load_dataset("binarized-mnist", split="test", data_dir=data_dir, download=False)
    models = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = build_model(ModelConfig(latent_dim=20, hidden=[400], activation="relu"), (1, 28, 28))
        fields = {"epochs": args.epochs, "batch_size": 100, "eval_every": 0, "progress": False, "precision": precision}
        for optional, off in (("terms_points", 0), ("picture_epochs", [])):
            if optional in TrainConfig.__dataclass_fields__:
                fields[optional] = off
        start = time.perf_counter()
        result = Trainer(model, train, TrainConfig(**fields)).fit()
        seconds = time.perf_counter() - start
        ev = evaluate(model, test.x, elbo_samples=1, seed=0, precision=precision)
        models[precision] = model
        epoch_s = [r["epoch_seconds"] for r in result.history]
        print(
            f"[{precision}] train {seconds:.1f} s ({len(train) * args.epochs / seconds:.0f} samples/s; epochs "
            f"{', '.join(f'{s:.1f}' for s in epoch_s)} s); train bound {result.history[-1]['train_bound']:.2f}; "
            f"test ELBO {ev.elbo:.3f} ± {ev.elbo_stderr:.3f} nats"
        )
    model = models["fp32"].eval()
    x = test.x[: args.nll_points]
    out = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(1)  # the same ε in both precisions
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            out[precision] = log_likelihood(model, x, args.k)
        print(
            f"[{precision}] IS-NLL (K = {args.k}, {len(x)} test points) {-out[precision].mean():.4f} nats in "
            f"{time.perf_counter() - start:.1f} s"
        )
    d = out["bf16"] - out["fp32"]
    print(f"IS-NLL bf16 - fp32 on the same samples: {-d.mean():+.4f} nats (mean |per-point diff| {d.abs().mean():.4f})")


if __name__ == "__main__":
    main()
