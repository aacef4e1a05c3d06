"""A density-bookkeeping invariant shared by the model tests: the marginals p(x) of all binary x sum to one.

For x ∈ {0,1}^D with D tiny, the importance-sampling estimate p̂(x) = (1/K) Σ_k p(x, h_k)/q(h_k|x) is unbiased for
p(x) whatever q is, so Σ_x p̂(x) ≈ 1. A missing or doubled term anywhere in log p(x, h) − log q(h|x) (a layer's
conditional, a Jacobian, a normalizer) moves the sum away from 1.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


def all_binary(d: int) -> torch.Tensor:
    """Every x ∈ {0,1}^d, ``[2^d, d]``."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)))


@torch.no_grad()
def total_probability(model: nn.Module, d: int, num_samples: int, context: torch.Tensor | None = None) -> float:
    """Σ_x p̂(x) over all binary x of dimension d (``model`` built for event shape ``(d,)``)."""
    xs = all_binary(d)
    if context is not None:
        context = context.expand(xs.shape[0], -1)
    log_w = model.terms(xs, num_samples, context).log_weight.double()
    p_hat = torch.logsumexp(log_w, 0).exp() / num_samples
    return float(p_hat.sum())
