"""Posterior families q_φ(z|x): map an encoder network's raw output to a distribution over z.

A family has no parameters of its own; the encoder network produces ``n_params(latent_dim)`` numbers per
datapoint and the family reads them as distribution parameters.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from aevb import kl as _kl  # noqa: F401  (registers the full-covariance KL for estimator B)
from aevb.registry import POSTERIORS

LOG_VARIANCE_RANGE = (-60.0, 60.0)
"""The posterior's log σ² is clamped to this range (σ from 9·10⁻¹⁴ to 10¹³): below it σ² underflows float32 to 0 and
log q(z|x) is NaN (an input ~170 standard deviations out drove log σ² to −112 on scikit-learn's digits); no trained
posterior of ordinary data comes near either end."""
_LOG_SIGMA_RANGE = tuple(0.5 * bound for bound in LOG_VARIANCE_RANGE)  # log σ = log σ² / 2


@POSTERIORS.register("diagonal")
class DiagonalGaussian(nn.Module):
    """q_φ(z|x) = N(z; μ, diag σ²) with the network giving (μ, log σ²) (Kingma & Welling 2014, App. C.2).

    log σ² is clamped to ``LOG_VARIANCE_RANGE``, where σ² neither underflows nor overflows float32.

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
        return Independent(Normal(loc, torch.exp(0.5 * log_var.clamp(*LOG_VARIANCE_RANGE)), validate_args=False), 1)


@POSTERIORS.register("full")
class FullCovarianceGaussian(nn.Module):
    """q_φ(z|x) = N(z; μ, L Lᵀ), a Gaussian with full covariance (Kingma & Welling 2014 §2.4; the lecture).

    The network gives μ, log σ and L′ (d(d−1)/2 numbers); L = L_mask ⊙ L′ + diag(σ) with L_mask the strictly
    lower-triangular mask, so L is lower triangular with a positive diagonal, a valid Cholesky factor. Then
    z = μ + L ε, ε ~ N(0, I) and log q(z|x) = log N(ε; 0, I) − Σ_i log |L_ii| (``MultivariateNormal(scale_tril=L)``
    computes exactly this). The KL to a diagonal-Gaussian prior is analytic (:mod:`aevb.kl`).
    """

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        rows, cols = torch.tril_indices(latent_dim, latent_dim, offset=-1)
        # Where the d(d−1)/2 numbers L′ go in the flattened d×d matrix: the strictly lower triangle, row by row.
        self.register_buffer("lower_index", rows * latent_dim + cols, persistent=False)

    @staticmethod
    def n_params(latent_dim: int) -> int:
        return 2 * latent_dim + latent_dim * (latent_dim - 1) // 2

    def scale_tril(self, log_sigma: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
        """L = L_mask ⊙ L′ + diag(σ), ``[..., d, d]``."""
        d = self.latent_dim
        strict = lower.new_zeros(*lower.shape[:-1], d * d).index_copy(-1, self.lower_index, lower)
        return strict.unflatten(-1, (d, d)) + torch.diag_embed(torch.exp(log_sigma.clamp(*_LOG_SIGMA_RANGE)))

    def forward(self, raw: torch.Tensor) -> Distribution:
        d = self.latent_dim
        raw = raw.float()
        loc, log_sigma, lower = raw[..., :d], raw[..., d : 2 * d], raw[..., 2 * d :]
        return MultivariateNormal(loc, scale_tril=self.scale_tril(log_sigma, lower), validate_args=False)


class PointMass(Distribution):
    """δ(z − loc): all mass at the encoder's output — the "posterior" of a plain autoencoder, z = f(x).

    ``rsample`` returns ``loc`` itself (the gradient flows to the encoder); ``log_prob`` is 0 by convention. A point
    mass has no density with respect to Lebesgue measure, so no bound on log p(x) involves it: models with this
    posterior are not variational (``aevb.models.ae``).
    """

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(self, loc: torch.Tensor) -> None:
        self.loc = loc
        super().__init__(batch_shape=loc.shape[:-1], event_shape=loc.shape[-1:], validate_args=False)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def stddev(self) -> torch.Tensor:
        return torch.zeros_like(self.loc)

    @property
    def variance(self) -> torch.Tensor:
        return torch.zeros_like(self.loc)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:  # noqa: B008 - torch's signature
        return self.loc.expand(self._extended_shape(torch.Size(sample_shape)))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return torch.zeros(value.shape[:-1], dtype=value.dtype, device=value.device)


@POSTERIORS.register("point")
class PointPosterior(nn.Module):
    """q(z|x) = δ(z − f(x)): the network's output is the code itself (the plain autoencoder)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    @staticmethod
    def n_params(latent_dim: int) -> int:
        return latent_dim

    def forward(self, raw: torch.Tensor) -> Distribution:
        return PointMass(raw.float())


class Encoder(nn.Module):
    """x (and an optional context c) → q_φ(z|x, c): a network followed by a posterior family."""

    def __init__(self, net: nn.Module, family: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.family = family

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        return self.family(self.net(x, context))


class _SharedNoise:
    """Mixed into a copy of a posterior q so that its ``rsample`` reads ε from ``_noise`` instead of the global RNG.

    ``_noise`` holds standard-normal draws ``[K, D]`` that every datapoint of the batch shares; successive
    ``rsample`` calls consume successive rows (``_offset``), so an estimator that draws its K samples in chunks sees
    the same K draws as one that draws them at once.
    """

    _noise: torch.Tensor
    _offset: int

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:  # noqa: B008 - torch's signature
        sample_shape = torch.Size(sample_shape)
        k = sample_shape.numel()
        if self._offset + k > self._noise.shape[0]:
            raise ValueError(f"the shared noise holds {self._noise.shape[0]} draws; {self._offset + k} were asked for")
        eps = self._noise[self._offset : self._offset + k]
        self._offset += k
        # [k, D] → [*sample_shape, 1, …, 1, D]: one draw per sample, broadcast over the batch
        eps = eps.reshape(*sample_shape, *(1,) * len(self.batch_shape), *self.event_shape)
        return self._reparameterize(eps.to(self.mean))

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:  # noqa: B008 - torch's signature
        with torch.no_grad():
            return self.rsample(sample_shape)


class _SharedNoiseDiagonal(_SharedNoise, Independent):
    def _reparameterize(self, eps: torch.Tensor) -> torch.Tensor:
        return self.base_dist.loc + self.base_dist.scale * eps  # z = μ + σ ⊙ ε


class _SharedNoiseFull(_SharedNoise, MultivariateNormal):
    def _reparameterize(self, eps: torch.Tensor) -> torch.Tensor:
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)  # z = μ + L ε


def with_shared_noise(q: Distribution, noise: torch.Tensor) -> Distribution:
    """q_φ(z|x) whose reparameterized draws z = μ + σ ⊙ ε (diagonal) or μ + L ε (full covariance) use the given ε
    ``[K, D]`` for every datapoint of the batch — common random numbers. A datapoint's Monte Carlo estimates (ELBO,
    importance-sampled log p(x), the regret) are then a function of that datapoint and ``noise`` alone, the same
    whichever other datapoints share its batch. Densities, means and KLs are q's own. A point mass (no noise) is
    returned as it is.

    The KL dispatch of estimator B finds these through their base classes (``Independent``, ``MultivariateNormal``).
    """
    if isinstance(q, PointMass):
        return q
    if isinstance(q, Independent) and isinstance(q.base_dist, Normal):
        cls: type = _SharedNoiseDiagonal
    elif isinstance(q, MultivariateNormal):
        cls = _SharedNoiseFull
    else:
        raise ValueError(f"shared noise covers diagonal and full-covariance Gaussians, not {type(q).__name__}")
    if noise.dim() != 2 or noise.shape[1] != q.event_shape.numel():
        raise ValueError(f"noise must be [K, {q.event_shape.numel()}], got {list(noise.shape)}")
    shared = object.__new__(cls)
    shared.__dict__.update(q.__dict__)  # the same parameters (and cached properties), not recomputed
    shared._noise, shared._offset = noise, 0
    return shared
