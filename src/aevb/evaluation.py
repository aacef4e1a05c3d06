"""Held-out evaluation: test ELBO and the importance-sampled marginal likelihood, for any model with ``terms``.

log p(x) ≈ log (1/K) Σ_k p(x, z_k)/q(z_k|x), z_k ~ q(z|x) (Burda et al. 2015, eq. 11; Rezende et al. 2014) — the
IWAE bound with a large K, which tends to log p(x) as K → ∞. Evaluated over chunks of samples and datapoints so
memory stays bounded, combining chunks with ``logsumexp`` in fp32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aevb.estimators import elbo

# Bytes of activations we allow one chunk of (samples × datapoints) to take.
DEFAULT_MEMORY_BUDGET = 256 * 2**20


def _floats_per_sample(model: nn.Module) -> int:
    """Rough count of activation floats one (sample, datapoint) pair needs: decoder output dominates."""
    n_params = getattr(getattr(getattr(model, "decoder", None), "family", None), "n_params", 2)
    hidden = sum(getattr(getattr(model, "config", None), "hidden", [1000]))
    return n_params * math.prod(model.event_shape) * 3 + 2 * hidden + 8 * getattr(model, "latent_dim", 64)


def sample_chunk(model: nn.Module, batch: int, num_samples: int, budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """How many posterior samples per chunk keep ``batch × chunk`` activations within ``budget`` bytes."""
    per = 4 * _floats_per_sample(model) * batch
    return max(1, min(num_samples, budget // max(per, 1)))


@torch.no_grad()
def log_likelihood(
    model: nn.Module,
    x: torch.Tensor,
    num_samples: int = 5000,
    context: torch.Tensor | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> torch.Tensor:
    """Importance-sampled log p(x) per datapoint of ``x``, ``[B]``, with K = ``num_samples`` proposals from q."""
    chunk = sample_chunk(model, x.shape[0], num_samples, memory_budget)
    parts = []
    done = 0
    while done < num_samples:
        s = min(chunk, num_samples - done)
        # logsumexp of each chunk; the chunks are combined with one more logsumexp below.
        parts.append(torch.logsumexp(model.terms(x, s, context).log_weight.float(), dim=0))
        done += s
    return torch.logsumexp(torch.stack(parts), dim=0) - math.log(num_samples)


@dataclass
class Evaluation:
    """Per-datapoint bounds in nats. ``elbo`` is a lower bound on log p(x) (higher is better); ``nll`` is
    −log p̂(x) from importance sampling (lower is better); standard errors are over datapoints."""

    elbo: float
    elbo_stderr: float
    nll: float | None
    nll_stderr: float | None
    n: int
    nll_samples: int
    data_dim: int

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        out["units"] = "nats per datapoint; elbo = lower bound on log p(x) (higher is better), nll = -log p(x)"
        if self.nll is not None:
            out["nll_bits_per_dim"] = self.nll / (self.data_dim * math.log(2))
        out["elbo_bits_per_dim"] = -self.elbo / (self.data_dim * math.log(2))
        return out


def _mean_stderr(values: torch.Tensor) -> tuple[float, float]:
    values = values.double()
    n = values.numel()
    stderr = float(values.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan")
    return float(values.mean()), stderr


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    *,
    context: torch.Tensor | None = None,
    elbo_samples: int = 1,
    nll_samples: int = 0,
    batch_size: int = 500,
    seed: int | None = 0,
    precision: str = "fp32",
) -> Evaluation:
    """Test ELBO (estimator A, which every model supports) and, if ``nll_samples`` > 0, the IS estimate of log p(x).

    Runs under a forked RNG seeded with ``seed`` so evaluating never perturbs a training run's random stream.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    elbos, lls = [], []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            for start in range(0, x.shape[0], batch_size):
                xb = x[start : start + batch_size].to(device)
                cb = None if context is None else context[start : start + batch_size].to(device)
                elbos.append(elbo(model.terms(xb, elbo_samples, cb), "A").float().cpu())
                if nll_samples:
                    lls.append(log_likelihood(model, xb, nll_samples, cb).cpu())
    model.train(was_training)
    e, e_se = _mean_stderr(torch.cat(elbos))
    nll = nll_se = None
    if nll_samples:
        ll, nll_se = _mean_stderr(torch.cat(lls))
        nll = -ll
    return Evaluation(e, e_se, nll, nll_se, x.shape[0], nll_samples, math.prod(model.event_shape))
