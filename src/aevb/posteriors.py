"""Posterior families q_φ(z|x): map an encoder network's raw output to a distribution over z.

A family has no parameters of its own; the encoder network produces ``n_params(latent_dim)`` numbers per
datapoint and the family reads them as distribution parameters.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from aevb.registry import POSTERIORS


@POSTERIORS.register("diagonal")
class DiagonalGaussian(nn.Module):
    """q_φ(z|x) = N(z; μ, diag σ²) with the network giving (μ, log σ²) (Kingma & Welling 2014, App. C.2).

    Sampling is reparameterized: z = μ + σ ⊙ ε, ε ~ N(0, I) (``rsample``).
    """

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    @staticmethod
    def n_params(latent_dim: int) -> int:
        return 2 * latent_dim

    def forward(self, raw: torch.Tensor) -> Distribution:
        # Densities are accumulated in fp32 even when the network runs in bf16.
        loc, log_var = raw.float().chunk(2, dim=-1)
        return Independent(Normal(loc, torch.exp(0.5 * log_var), validate_args=False), 1)


class Encoder(nn.Module):
    """x (and an optional context c) → q_φ(z|x, c): a network followed by a posterior family."""

    def __init__(self, net: nn.Module, family: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.family = family

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        return self.family(self.net(x, context))
