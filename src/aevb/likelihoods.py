"""Likelihood families p_θ(x|z): map a decoder network's raw output to a distribution over x.

The decoder network outputs ``n_params * prod(event_shape)`` numbers per latent sample, parameter-major, which are
read as ``(n_params, *event_shape)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, Normal

from aevb.errors import ConfigError
from aevb.nets import Standardization
from aevb.registry import LIKELIHOODS

if TYPE_CHECKING:
    from aevb.config import ModelConfig


def _split(raw: torch.Tensor, n_params: int, event_shape: tuple[int, ...]) -> torch.Tensor:
    """Read the flat last dim of ``raw`` as ``(n_params, *event_shape)``; returns fp32.

    Every decoder network outputs a flat vector per latent sample (conv decoders flatten ``[n_params*C, H, W]``,
    which is parameter-major), so this one reshape serves all architectures.
    """
    return raw.float().unflatten(-1, (n_params, *event_shape))


class BernoulliLogits(Bernoulli):
    """Bernoulli(logits=l) whose log-density is log p(x) = x·l − softplus(l): the value of torch's −BCE-with-logits
    in three elementwise passes over one buffer instead of about six fresh ones. For the 784-dimensional decoder output
    of an IS-NLL evaluation this cuts the time spent outside the decoder's matrix product by ~40 %."""

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        logits = self.logits
        value = value.to(logits.dtype)
        # x [B, ...] against logits [S, B, ...] is the usual case; it is tested first because torch.broadcast_shapes
        # costs ~50 µs in eager mode, more than this whole density at B = 2.
        usual = value.dim() <= logits.dim() and logits.shape[logits.dim() - value.dim() :] == value.shape
        if not usual and torch.broadcast_shapes(value.shape, logits.shape) != logits.shape:
            return value * logits - F.softplus(logits)
        # softplus' backward reads its input, not its output, so the output buffer may be reused in place.
        return F.softplus(logits).neg_().addcmul_(value, logits)


@LIKELIHOODS.register("bernoulli")
class BernoulliLikelihood(nn.Module):
    """p_θ(x|z) = Π_d Bernoulli(x_d; sigmoid(logits_d)) (Kingma & Welling 2014, App. C.1).

    Parameterized by logits, so log p = −BCE-with-logits is computed stably. Values in [0, 1] are accepted: for
    gray-scale data this is the cross-entropy commonly used as a Bernoulli log-likelihood of probabilities.
    """

    n_params = 1
    support = "unit"

    def __init__(self, event_shape: Sequence[int]) -> None:
        super().__init__()
        self.event_shape = tuple(event_shape)

    @classmethod
    def from_config(cls, config: ModelConfig, event_shape: Sequence[int]) -> BernoulliLikelihood:
        return cls(event_shape)

    @staticmethod
    def raw_for_mean(mean: torch.Tensor) -> torch.Tensor:
        """The network output whose distribution has this mean: logit(p), with p clamped to [0.001, 0.999] so that
        pixels that are always 0 or 1 in the data get a finite start."""
        return torch.logit(mean.clamp(1e-3, 1 - 1e-3)).flatten()

    def forward(self, raw: torch.Tensor) -> Distribution:
        logits = _split(raw, 1, self.event_shape).squeeze(-len(self.event_shape) - 1)
        return Independent(BernoulliLogits(logits=logits, validate_args=False), len(self.event_shape))


MAX_LOG_VARIANCE = 60.0
"""The largest log σ'² the Gaussian likelihood uses (σ ≈ 10¹³ in the data's units, far above any real data's spread;
exp(88.7) overflows float32)."""


@LIKELIHOODS.register("gaussian")
class GaussianLikelihood(nn.Module):
    """p_θ(x|z) = N(x; μ, diag σ²) with a learned per-pixel variance (Kingma & Welling 2014, App. C.2).

    The network gives (μ', log σ'²). μ = sigmoid(μ') when ``squash_mean`` (the paper did this for Frey Face, whose
    pixels lie in [0, 1]); σ² = ``min_variance`` + exp(min(log σ'², ``MAX_LOG_VARIANCE``)). The floor keeps the
    density bounded: without it a decoder can drive σ → 0 on pixels that never vary and the likelihood diverges. The
    cap keeps it finite: a decoder fed an extreme z (a training row far out in the tails) can drive log σ'² past 88,
    where exp overflows float32 and the bound becomes −inf mid-training. With ``standardize`` (a ``Standardization``
    (c, s)) the network models x̃ = (x − c) / s and the density returned is that of x: N(x; c + s ⊙ μ, diag (s ⊙ σ)²).
    """

    n_params = 2
    support = "real"

    def __init__(
        self,
        event_shape: Sequence[int],
        squash_mean: bool = True,
        min_variance: float = 1e-4,
        standardization: Standardization | None = None,
    ) -> None:
        super().__init__()
        if not min_variance > 0:
            raise ConfigError(f"min_variance must be > 0, got {min_variance}")
        self.event_shape = tuple(event_shape)
        self.squash_mean = squash_mean
        self.min_variance = min_variance
        # With a standardization (c, s): the network models x̃ = (x − c) / s; the density returned is that of x.
        self.standardization = standardization

    @classmethod
    def from_config(cls, config: ModelConfig, event_shape: Sequence[int]) -> GaussianLikelihood:
        # "auto" (None) is decided from the training data before the model is built (aevb.models.data_defaults).
        squash = True if config.squash_mean is None else config.squash_mean
        standardization = Standardization(event_shape) if config.standardize else None
        return cls(event_shape, squash, config.min_variance, standardization)

    def forward(self, raw: torch.Tensor) -> Distribution:
        mean, log_var = _split(raw, 2, self.event_shape).unbind(-len(self.event_shape) - 1)
        if self.squash_mean:
            mean = torch.sigmoid(mean)
        scale = torch.sqrt(self.min_variance + torch.exp(log_var.clamp(max=MAX_LOG_VARIANCE)))
        if self.standardization is not None:  # N(x̃; μ, σ²) as a density of x = c + s x̃: N(x; c + s μ, (s σ)²)
            mean = self.standardization.center + self.standardization.scale * mean
            scale = self.standardization.scale * scale
        return Independent(Normal(mean, scale, validate_args=False), len(self.event_shape))


class Decoder(nn.Module):
    """z (and an optional context c) → p_θ(x|z, c): a network followed by a likelihood family."""

    def __init__(self, net: nn.Module, family: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.family = family

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        return self.family(self.net(z, context))

    @torch.no_grad()
    def init_output_bias_(self, data_mean: torch.Tensor) -> None:
        """Set the bias of the network's last linear layer so that, before training, p_θ(x|z) has the data's mean
        (``family.raw_for_mean``): Burda et al.'s IWAE code starts the Bernoulli decoder at the pixel marginals."""
        raw_for_mean = getattr(self.family, "raw_for_mean", None)
        linears = [m for m in self.net.modules() if isinstance(m, nn.Linear)]
        if raw_for_mean is None or not linears:
            raise ConfigError(
                f"data_bias needs a Bernoulli likelihood and an MLP decoder; got {type(self.family).__name__} "
                f"with {type(self.net).__name__}"
            )
        bias = raw_for_mean(data_mean)
        last = linears[-1]
        if last.bias is None or last.bias.shape != bias.shape:
            raise ConfigError(
                f"data_bias: the decoder's last layer has {last.out_features} outputs, the data {bias.numel()} values"
            )
        last.bias.copy_(bias)
