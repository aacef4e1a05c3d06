"""Training throughput of the 784-400-20 ReLU VAE (batch 128, Bernoulli, Adam, estimator B, one sample).

Compares, in this process and interleaved (median of ``--repeats`` epochs each):

  aevb            aevb's Trainer: the data is one in-memory tensor, a minibatch is an index into it
  aevb bf16       the same with ``precision = "bf16"`` (autocast; densities and sums in fp32)
  DataLoader      ``DataLoader(TensorDataset(x), batch_size=128, shuffle=True)`` with aevb's model, objective and
                  optimizer: isolates the data path
  pytorch/examples the canonical loop as users write it (pytorch/examples ``vae/main.py``): DataLoader, an
                  ``nn.Module`` with sigmoid outputs, ``binary_cross_entropy(reduction="sum") + KLD``, default Adam

A second table (``--hand``, the default) answers issue 15's question at batch 100 and 128: ``aevb.fit`` (evaluation,
terms, pictures and checkpoints off) against a plain hand-written loop over the same in-memory tensor (``randperm``
batches, two ``nn.Sequential``, ``binary_cross_entropy_with_logits(sum)`` + the analytic KL, fused Adam), the two
alternating, ``--repeats`` epochs each; goal: aevb within 5 %.

The references run with glibc's default allocator settings (as a user's own loop does); aevb's Trainer tunes the
allocator when it starts on a CPU (``aevb.runtime.tune_cpu_allocator``), so its rows run tuned, and the row
"aevb Trainer (fp32, default allocator)" separates the two effects.

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


class ExamplesVAE(torch.nn.Module):
    """The model of pytorch/examples ``vae/main.py`` (784-400-20, ReLU), written out as users do."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc21, self.fc22 = torch.nn.Linear(784, 400), torch.nn.Linear(400, 20), torch.nn.Linear(400, 20)
        self.fc3, self.fc4 = torch.nn.Linear(20, 400), torch.nn.Linear(400, 784)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(torch.relu(self.fc3(z)))), mu, logvar


def examples_epoch(x: torch.Tensor) -> float:
    torch.manual_seed(0)
    model = ExamplesVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x), batch_size=BATCH, shuffle=True)
    start = time.perf_counter()
    for (xb,) in loader:
        recon, mu, logvar = model(xb)
        bce = torch.nn.functional.binary_cross_entropy(recon, xb.view(-1, 784), reduction="sum")
        loss = bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def hand_epoch(x: torch.Tensor, batch: int, device: str = "cpu") -> float:
    """The hand-written loop: the whole method in a few lines, nothing else; on a GPU with the data resident there
    and the permutation drawn there (the reference of issue 27)."""
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(784, 400), torch.nn.ReLU(), torch.nn.Linear(400, 40)).to(device)
    decoder = torch.nn.Sequential(torch.nn.Linear(20, 400), torch.nn.ReLU(), torch.nn.Linear(400, 784)).to(device)
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3, fused=True)
    flat = x.reshape(x.shape[0], -1).to(device)
    _sync(device)
    start = time.perf_counter()
    perm = torch.randperm(flat.shape[0], device=device)
    for i in range(0, flat.shape[0], batch):
        xb = flat[perm[i : i + batch]]
        mu, logvar = encoder(xb).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(decoder(z), xb, reduction="sum")
        loss = (bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / xb.shape[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    return time.perf_counter() - start


def fit_epoch(x: torch.Tensor, batch: int, device: str = "cpu") -> float:
    """``aevb.fit`` with everything around the steps off: the library's default training path."""
    from aevb import fit

    model = new_model()
    data = TensorData(x, None, "bench")
    _sync(device)
    start = time.perf_counter()
    fit(
        model,
        data,
        batch_size=batch,
        epochs=1,
        eval_every=0,
        progress=False,
        terms_points=0,
        picture_epochs=[],
        device=device,
    )
    _sync(device)
    return time.perf_counter() - start


def hand_table(x: torch.Tensor, repeats: int, batches: tuple[int, ...] = (100, 128), device: str = "cpu") -> None:
    """aevb.fit / hand-written loop per batch size, on ``device``; on a GPU also aevb.fit on this machine's CPU at
    the first batch size (issue 27 asks for both ratios, measured in one run)."""
    print(
        f"aevb.fit vs the hand-written loop on {device} ({x.shape[0]} points per epoch, medians of {repeats}, "
        "alternating):"
    )
    for batch in batches:
        hand_epoch(x, batch, device), fit_epoch(x, batch, device)  # warm-up
        hand, lib = [], []
        for _ in range(repeats):
            hand.append(hand_epoch(x, batch, device))
            lib.append(fit_epoch(x, batch, device))
        h, a = sorted(hand)[len(hand) // 2], sorted(lib)[len(lib) // 2]
        print(
            f"  batch {batch}: hand-written {h:.3f} s ({x.shape[0] / h:,.0f} samples/s), aevb.fit {a:.3f} s "
            f"({x.shape[0] / a:,.0f} samples/s) per epoch: aevb / hand speed = {h / a:.3f} (goal >= 0.95)"
        )
        if device != "cpu" and batch == batches[0]:
            cpu = sorted(fit_epoch(x, batch, "cpu") for _ in range(max(1, repeats // 2)))[0]
            print(
                f"  batch {batch}: aevb.fit on this machine's CPU {cpu:.3f} s: {device} / CPU speed = {cpu / a:.2f} "
                "(goal >= 3)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12_800, help="training points per timed epoch")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only-hand", action="store_true", help="only the aevb.fit vs hand-written table")
    ap.add_argument("--device", default="cpu", help="where the hand-written table runs (e.g. cuda)")
    ap.add_argument("--batches", default="100,128", help="batch sizes of the hand-written table")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    x, source = train_points(args.n)
    hand_table(x, args.repeats, tuple(int(b) for b in args.batches.split(",")), args.device)
    if args.only_hand:
        return
    n = x.shape[0]
    enc, dec = mlp_vae_flops(784, [400], 20)
    flops = 3 * (enc + dec)
    print(f"data: {n} points of {source}; ~{flops / 1e6:.1f} MFLOP per training sample")
    # Phase 1 runs with glibc's default allocator settings, phase 2 with aevb's tuning (which a process cannot fully
    # undo: freed blocks stay in the heap), so the default-allocator rows are measured first; variants interleave
    # within each phase.
    os.environ["AEVB_MALLOC_TUNING"] = "0"
    phases = [
        {
            "DataLoader(TensorDataset)": lambda: dataloader_epoch(x),
            "pytorch/examples loop": lambda: examples_epoch(x),
            "aevb Trainer (fp32, default allocator)": lambda: aevb_epoch(x, "fp32"),
        },
        {
            "aevb Trainer (fp32)": lambda: aevb_epoch(x, "fp32"),
            "aevb Trainer (bf16)": lambda: aevb_epoch(x, "bf16"),
        },
    ]
    times: dict[str, list[float]] = {}
    peaks = []
    for i, variants in enumerate(phases):
        if i == 1:
            del os.environ["AEVB_MALLOC_TUNING"]
        for fn in variants.values():  # warm-up
            fn()
        for _ in range(args.repeats):
            peaks.append(gemm_peak(torch.float32, repeats=3))
            for name, fn in variants.items():
                times.setdefault(name, []).append(fn())
    peak = sorted(peaks)[len(peaks) // 2]
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    ref = med["DataLoader(TensorDataset)"]
    print(f"fp32 GEMM peak (median over the run): {peak:.0f} GFLOP/s")
    ex = med["pytorch/examples loop"]
    print(f"{'variant':40s} {'samples/s':>10s} {'vs DataLoader':>14s} {'vs examples':>12s} {'of fp32 peak':>13s}")
    for name, t in med.items():
        rate = n / t
        print(f"{name:40s} {rate:10.0f} {ref / t:13.2f}x {ex / t:11.2f}x {rate * flops / 1e9 / peak:12.0%}")


if __name__ == "__main__":
    main()
