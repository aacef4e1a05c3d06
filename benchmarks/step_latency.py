"""Small-batch training-step latency: the IWAE recipe (batch 20, 784-200-200-50 tanh), one stochastic layer, trained
on the ELBO with the analytic KL (estimator B) as the ``vae-iwae-schedule`` preset is.

Burda et al. (2015) train with batch 20 for 3280 epochs of 50 000 points (2500 steps each, 8.2 M steps). At this size
a step is dominated by per-kernel and per-parameter overhead, so the variants measured here (each in this process,
interleaved, median over repeats) are:

  eager        autograd + Adam(foreach=True) (the Trainer's default before this benchmark)
  fused        Adam(fused=True): one kernel per step for all parameters (the Trainer's default now)
  compile      torch.compile of the whole step (forward, backward and the optimizer update) with fused Adam
  aevb         aevb's Trainer.train_step with the default config and with ``compile = true``

Prints ms/step, the speed-up over eager and the time of the full 8.2 M-step schedule.

    python benchmarks/step_latency.py [--steps 300] [--repeats 5] [--no-compile]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import gemm_peak, machine, mlp_vae_flops  # noqa: E402

from aevb import ModelConfig, TrainConfig, build_model  # noqa: E402
from aevb.data import TensorData  # noqa: E402
from aevb.training.objectives import OBJECTIVES  # noqa: E402

SCHEDULE_STEPS = 3280 * 2500


def make(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(ModelConfig(latent_dim=50, hidden=[200, 200], activation="tanh"), (1, 28, 28))


def plain_step(fused: bool):
    model = make()
    objective = OBJECTIVES.get("elbo")(TrainConfig(objective="elbo", samples=1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if fused else {"foreach": True}))

    def step(x: torch.Tensor) -> torch.Tensor:
        loss = -objective(model, x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def compiled_step():
    return torch.compile(plain_step(fused=True))


def trainer_step(compile_: bool):
    from aevb.training.trainer import Trainer

    x = (torch.rand(200, 1, 28, 28) < 0.2).float()
    fields = {"objective": "elbo", "samples": 1, "batch_size": 20, "eval_every": 0, "progress": False}
    if compile_:
        fields["compile"] = True
    for optional in ("terms_points", "picture_epochs"):  # other engineers' per-epoch callbacks: off
        if optional in TrainConfig.__dataclass_fields__:
            fields[optional] = 0 if optional == "terms_points" else []
    trainer = Trainer(make(), TensorData(x, None, "bench"), TrainConfig(**fields))
    return lambda xb: trainer.train_step(xb, None)


def time_steps(step, batches, steps: int) -> float:
    """Median-free single pass (the caller takes medians over repeats): seconds per step over ``steps`` steps."""
    start = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    return (time.perf_counter() - start) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants (no C++ compiler)")
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (0: torch's default). On a shared machine use 1: OpenMP barriers in a small step wait for "
        "descheduled threads, which made steps 100x slower here under load",
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    peak = gemm_peak(torch.float32)
    enc, dec = mlp_vae_flops(784, [200, 200], 50)
    flops = 3 * 20 * (enc + dec)  # forward + backward ≈ 3 × forward
    print(
        f"fp32 GEMM peak {peak:.0f} GFLOP/s; a step is {flops / 1e6:.1f} MFLOP -> compute bound "
        f"{flops / peak / 1e6:.3f} ms"
    )

    g = torch.Generator().manual_seed(0)
    batches = [(torch.rand(20, 1, 28, 28, generator=g) < 0.2).float() for _ in range(50)]
    variants = {"eager (foreach Adam)": plain_step(False), "fused Adam": plain_step(True)}
    if not args.no_compile:
        variants["torch.compile(step) + fused Adam"] = compiled_step()
    variants["aevb Trainer.train_step (default)"] = trainer_step(False)
    if not args.no_compile and "compile" in TrainConfig.__dataclass_fields__:
        variants["aevb Trainer.train_step (compile=true)"] = trainer_step(True)
    for name, step in variants.items():  # warm-up (and compilation) outside the timings
        start = time.perf_counter()
        for i in range(20):
            step(batches[i])
        print(f"warm-up {name}: {time.perf_counter() - start:.1f} s")
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):  # interleaved, so load changes hit every variant alike
        for name, step in variants.items():
            times[name].append(time_steps(step, batches, args.steps))
    base = sorted(times["eager (foreach Adam)"])[args.repeats // 2]
    print(f"{'variant':42s} {'ms/step':>8s} {'speed-up':>9s} {'schedule (8.2M steps)':>22s}")
    for name, ts in times.items():
        t = sorted(ts)[args.repeats // 2]
        print(f"{name:42s} {t * 1e3:8.3f} {base / t:8.2f}x {t * SCHEDULE_STEPS / 3600:19.2f} h")


if __name__ == "__main__":
    main()
