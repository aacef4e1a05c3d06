"""Priors p(z)."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Independent, Normal

from aevb.nets import MLPNet
from aevb.posteriors import DiagonalGaussian


class StandardNormalPrior(nn.Module):
    """p(z) = N(z; 0, I), the prior of Kingma & Welling (2014) §3."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        # Buffers so the prior follows the model across devices and dtypes.
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)
        self.register_buffer("scale", torch.ones(latent_dim), persistent=False)

    def forward(self, context: torch.Tensor | None = None) -> Independent:
        return Independent(Normal(self.loc, self.scale, validate_args=False), 1)


class ConditionalGaussianPrior(nn.Module):
    """A learned conditional prior p_θ(z|c) = N(z; μ_θ(c), diag σ²_θ(c)) (Sohn et al. 2015, the CVAE's prior
    network): an MLP from the context c (e.g. a one-hot label) to (μ, log σ²)."""

    def __init__(self, latent_dim: int, context_dim: int, hidden: list[int], act: str) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = MLPNet((context_dim,), hidden, DiagonalGaussian.n_params(latent_dim), act)
        self.family = DiagonalGaussian(latent_dim)

    def forward(self, context: torch.Tensor | None = None) -> Independent:
        if context is None:
            raise ValueError("a conditional prior p(z|c) needs a context (e.g. one-hot labels)")
        return self.family(self.net(context))
