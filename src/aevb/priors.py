"""Priors p(z)."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal

from aevb.kl import StandardNormal
from aevb.nets import MLPNet
from aevb.posteriors import DiagonalGaussian


class StandardNormalPrior(nn.Module):
    """p(z) = N(z; 0, I), the prior of Kingma & Welling (2014) §3."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        # A buffer so the prior follows the model across devices and dtypes.
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)

    def forward(self, context: torch.Tensor | None = None) -> Independent:
        return Independent(StandardNormal(self.loc, validate_args=False), 1)


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


class FittedGaussianPrior(nn.Module):
    """N(z; μ, Σ) fitted by moments to a set of codes (:meth:`fit`): what a plain autoencoder, which has no prior,
    samples from. μ and the Cholesky factor of Σ are buffers, so they are saved with the weights; before a fit they
    are N(0, I)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("loc", torch.zeros(latent_dim))
        self.register_buffer("scale_tril", torch.eye(latent_dim))

    @torch.no_grad()
    def fit(self, codes: torch.Tensor, ridge: float = 1e-6) -> None:
        """μ = mean of ``codes`` ``[N, d]``, Σ = their covariance + ``ridge`` · I."""
        codes = codes.double()
        mean = codes.mean(0)
        centred = codes - mean
        cov = centred.T @ centred / max(codes.shape[0] - 1, 1)
        cov += ridge * torch.eye(self.latent_dim, dtype=cov.dtype, device=cov.device)
        self.loc.copy_(mean.to(self.loc))
        self.scale_tril.copy_(torch.linalg.cholesky(cov).to(self.scale_tril))

    def forward(self, context: torch.Tensor | None = None) -> MultivariateNormal:
        return MultivariateNormal(self.loc, scale_tril=self.scale_tril, validate_args=False)
