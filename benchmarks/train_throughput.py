"""Training throughput of the 784-400-20 ReLU VAE (batch 128, Bernoulli, Adam, estimator B, one sample).

Compares, in this process and interleaved (median of ``--repeats`` epochs each):

  aevb            aevb's Trainer: the data is one in-memory tensor, a minibatch is an index into it
  aevb bf16       the same with ``precision = "bf16"`` (autocast; densities and sums in fp32)
  DataLoader      the canonical loop: ``DataLoader(TensorDataset(x), batch_size=128, shuffle=True)`` with the same
                  model, objective and optimizer

and reports samples/s, the ratio to the DataLoader loop (goal >= 1.3x) and the fraction of the fp32 GEMM peak
measured here (training FLOPs per sample taken as 3x the forward pass).

    python benchmarks/train_throughput.py [--n 12800] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from _common import gemm_peak, machine, mlp_vae_flops  # noqa: E402

from aevb import ModelConfig, TrainConfig, build_model  # noqa: E402
from aevb.data import TensorData  # noqa: E402
from aevb.training.optim import make_optimizer  # noqa: E402
from aevb.training.trainer import Trainer  # noqa: E402

BATCH = 128


def train_points(n: int) -> tuple[torch.Tensor, str]:
    try:
        from aevb.data import load_dataset

        x = load_dataset("binarized-mnist", split="train", data_dir=os.environ.get("AEVB_DATA_DIR"), download=False).x
        return x[:n], "binarized-mnist train"
    except Exception:  # no staged data: random binary images cost the same
        g = torch.Generator().manual_seed(0)
        return (torch.rand(n, 1, 28, 28, generator=g) < 0.13).float(), "random binary 28x28"


def new_model():
    torch.manual_seed(0)
    return build_model(ModelConfig(latent_dim=20, hidden=[400], activation="relu"), (1, 28, 28))


def aevb_epoch(x: torch.Tensor, precision: str) -> float:
    fields = {"batch_size": BATCH, "epochs": 1, "eval_every": 0, "progress": False, "precision": precision}
    for optional, off in (("terms_points", 0), ("picture_epochs", [])):  # per-epoch extras: off
        if optional in TrainConfig.__dataclass_fields__:
            fields[optional] = off
    trainer = Trainer(new_model(), TensorData(x, None, "bench"), TrainConfig(**fields))
    start = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - start


def dataloader_epoch(x: torch.Tensor) -> float:
    model = new_model()
    opt = make_optimizer("adam", model.parameters(), 1e-3, 0.0)
    loader = DataLoader(TensorDataset(x), batch_size=BATCH, shuffle=True)
    start = time.perf_counter()
    for (xb,) in loader:
        loss = -model.elbo(xb).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12_800, help="training points per timed epoch")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    x, source = train_points(args.n)
    n = x.shape[0]
    enc, dec = mlp_vae_flops(784, [400], 20)
    flops = 3 * (enc + dec)
    print(f"data: {n} points of {source}; ~{flops / 1e6:.1f} MFLOP per training sample")
    variants = {
        "aevb Trainer (fp32)": lambda: aevb_epoch(x, "fp32"),
        "aevb Trainer (bf16)": lambda: aevb_epoch(x, "bf16"),
        "DataLoader(TensorDataset)": lambda: dataloader_epoch(x),
    }
    for fn in variants.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in variants}
    peaks = []
    for _ in range(args.repeats):
        peaks.append(gemm_peak(torch.float32, repeats=3))
        for name, fn in variants.items():
            times[name].append(fn())
    peak = sorted(peaks)[len(peaks) // 2]
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    ref = med["DataLoader(TensorDataset)"]
    print(f"fp32 GEMM peak (median over the run): {peak:.0f} GFLOP/s")
    print(f"{'variant':28s} {'samples/s':>10s} {'vs DataLoader':>14s} {'of fp32 peak':>13s}")
    for name, t in med.items():
        rate = n / t
        print(f"{name:28s} {rate:10.0f} {ref / t:13.2f}x {rate * flops / 1e9 / peak:12.0%}")


if __name__ == "__main__":
    main()
