"""Priors p(z)."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Independent, Normal


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
