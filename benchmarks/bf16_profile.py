"""Where an SGVB training step spends its time in fp32 and under bf16 autocast, and what that bounds bf16's speed-up.

Profiles ``--steps`` steps of aevb's default path (784-400-20 ReLU VAE, batch ``--batch``, Bernoulli, Adam) with
``torch.profiler`` in each precision and sums self-CPU time into four kinds of work:

  GEMM         aten::mm / addmm / bmm (forward and backward matrix products)
  casts        aten::_to_copy / copy_ (autocast's fp32 <-> bf16 conversions, and any other copies)
  optimizer    the fused Adam kernel and zero_grad
  elementwise  everything else (ReLU, the reparameterization, the Bernoulli log-density, the KL, their gradients,
               reductions, indexing the minibatch)

and prints the Amdahl bound: if bf16 only sped up the GEMMs by the measured GEMM-peak ratio, the step could be at most
fp32 / (fp32 - GEMM + GEMM / ratio) faster.

    python benchmarks/bf16_profile.py [--batch 128] [--steps 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).parent))
from _common import gemm_peak, machine  # noqa: E402

from aevb import ModelConfig, TrainConfig, build_model  # noqa: E402
from aevb.data import TensorData  # noqa: E402
from aevb.training.trainer import Trainer  # noqa: E402

KINDS = {
    "GEMM": ("aten::mm", "aten::addmm", "aten::bmm"),
    "casts": ("aten::_to_copy", "aten::copy_"),
    "optimizer": ("aten::_fused_adam_", "Optimizer.zero_grad#Adam.zero_grad"),
}


def breakdown(precision: str, x: torch.Tensor, batch: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=20, hidden=[400], activation="relu"), (1, 28, 28))
    config = TrainConfig(
        batch_size=batch, epochs=1, eval_every=0, progress=False, terms_points=0, picture_epochs=[], precision=precision
    )
    trainer = Trainer(model, TensorData(x, None, "bench"), config)
    trainer.fit()  # warm-up epoch
    trainer.config.epochs = 2
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.fit()
    events = [e for e in prof.key_averages() if e.key.startswith("aten::") or e.key.startswith("Optimizer.zero_grad")]
    out = {kind: 0.0 for kind in (*KINDS, "elementwise")}
    for e in events:
        kind = next((k for k, names in KINDS.items() if e.key in names), "elementwise")
        out[kind] += e.self_cpu_time_total / 1e6
    steps = x.shape[0] // batch
    return {k: v / steps * 1e3 for k, v in out.items()}  # ms per step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    x = (torch.rand(args.batch * args.steps, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.13).float()
    ratio = gemm_peak(torch.bfloat16, n=1024) / gemm_peak(torch.float32, n=1024)
    rows = {p: breakdown(p, x, args.batch) for p in ("fp32", "bf16")}
    print(f"ms per step (self CPU time; batch {args.batch}); bf16/fp32 GEMM-peak ratio measured here: {ratio:.2f}x")
    print(f"{'':12s} {'fp32':>8s} {'bf16':>8s} {'fp32/bf16':>10s}")
    for kind in rows["fp32"]:
        a, b = rows["fp32"][kind], rows["bf16"][kind]
        print(f"{kind:12s} {a:8.3f} {b:8.3f} {a / b if b else float('inf'):9.2f}x")
    total = {p: sum(r.values()) for p, r in rows.items()}
    print(f"{'total':12s} {total['fp32']:8.3f} {total['bf16']:8.3f} {total['fp32'] / total['bf16']:9.2f}x")
    f = rows["fp32"]
    bound = total["fp32"] / (total["fp32"] - f["GEMM"] + f["GEMM"] / ratio)
    print(f"Amdahl bound if only the GEMMs ran {ratio:.1f}x faster: {bound:.2f}x")


if __name__ == "__main__":
    main()
