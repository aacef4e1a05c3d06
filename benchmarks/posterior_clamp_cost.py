"""What the posterior's log-variance clamp (``aevb.posteriors.LOG_VARIANCE_RANGE``) costs a training step.

The 784-400-20 ReLU VAE, batch 100, Adam (fused), one sample, on the CPU: ms per step with ``DiagonalGaussian`` as
shipped and with the clamp removed, alternating in this process (``--rounds`` rounds of ``--steps`` steps each).
Prints the median of the paired ratios and the fastest round of each (on a noisy machine the fastest is the cleanest).

    python benchmarks/posterior_clamp_cost.py [--rounds 20] [--steps 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.distributions import Independent, Normal

import aevb.posteriors as posteriors
from aevb import ModelConfig, build_model


def _unclamped(self, raw: torch.Tensor) -> Independent:  # noqa: ANN001
    loc, log_var = raw.float().chunk(2, dim=-1)
    return Independent(Normal(loc, torch.exp(0.5 * log_var), validate_args=False), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    model = build_model(ModelConfig(latent_dim=20, hidden=[400], activation="relu"), (1, 28, 28), seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    x = (torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.13).float()

    def ms_per_step() -> float:
        start = time.perf_counter()
        for _ in range(args.steps):
            terms = model.terms(x, 1)
            loss = -(terms.log_likelihood.mean(0) - terms.kl()).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return (time.perf_counter() - start) / args.steps * 1e3

    shipped = posteriors.DiagonalGaussian.forward
    times: dict[str, list[float]] = {"clamped": [], "unclamped": []}
    for _ in range(args.rounds):
        for name, forward in (("clamped", shipped), ("unclamped", _unclamped)):
            posteriors.DiagonalGaussian.forward = forward
            times[name].append(ms_per_step())
    posteriors.DiagonalGaussian.forward = shipped
    ratios = [a / b for a, b in zip(times["clamped"], times["unclamped"], strict=True)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds of {args.steps} steps")
    for name, values in times.items():
        print(f"{name:10s} median {statistics.median(values):.3f} ms/step, fastest {min(values):.3f}")
    print(f"clamped / unclamped: paired median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
