"""A VAE with several stochastic layers (Burda et al. 2015 §5; Rezende et al. 2014; the lecture's "VAEs from
multilayer DNNs").

Generative model  p_θ(x, h¹, …, h^L) = p(h^L) p_θ(h^{L−1}|h^L) ⋯ p_θ(h¹|h²) p_θ(x|h¹),
recognition model q_φ(h¹, …, h^L | x) = q_φ(h¹|x) q_φ(h²|h¹) ⋯ q_φ(h^L|h^{L−1}),

so log w = log p_θ(x|h¹) + [log p(h^L) + Σ_l log p_θ(h^l|h^{l+1})] − Σ_l log q_φ(h^l|h^{l−1}) with h⁰ = x, and every
bound of :mod:`aevb.estimators` applies unchanged. The x-level networks come from the arch registry and the posterior
family of ``config.posterior`` (exactly the plain VAE's parts); every other conditional is a diagonal Gaussian whose
(μ, log σ²) an MLP computes from the neighbouring layer.

The KL of the whole hierarchy has no closed form, so with two or more layers :class:`Terms` carries no
``posterior``/``prior`` and estimator B raises a clear error (use ``--estimator A`` or ``--objective iwae``). With one
layer the model is the plain VAE and estimator B works.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from aevb.config import ModelConfig
from aevb.estimators import Terms
from aevb.likelihoods import Decoder
from aevb.models.protocols import BoundModel
from aevb.models.vae import build_vae_parts
from aevb.nets import MLPNet, initialize_
from aevb.posteriors import DiagonalGaussian, Encoder
from aevb.priors import StandardNormalPrior
from aevb.registry import MODELS
from aevb.runtime import module_device, to_device


def conditional_gaussian(in_dim: int, out_dim: int, hidden: Sequence[int], act: str) -> Encoder:
    """N(h_out; μ(h_in), diag σ²(h_in)) with an MLP ``in_dim → hidden → 2·out_dim``: one stochastic layer."""
    return Encoder(MLPNet((in_dim,), hidden, DiagonalGaussian.n_params(out_dim), act), DiagonalGaussian(out_dim))


class DeepVAE(nn.Module, BoundModel):
    """L stochastic layers h¹..h^L (``latent_dims``); ``encoders[l]`` is q(h^{l+1}|h^l) (h⁰ = x), ``decoder`` is
    p(x|h¹), ``conditionals[l]`` is p(h^{l+1}|h^{l+2}) and ``prior`` is p(h^L) = N(0, I)."""

    variational = True

    def __init__(
        self,
        encoders: Sequence[Encoder],
        decoder: Decoder,
        conditionals: Sequence[Encoder],
        prior: nn.Module,
        event_shape: Sequence[int],
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__()
        if len(conditionals) != len(encoders) - 1:
            raise ValueError("a deep VAE needs one generative conditional per pair of adjacent stochastic layers")
        self.encoders = nn.ModuleList(encoders)
        self.decoder = decoder
        self.conditionals = nn.ModuleList(conditionals)
        self.prior = prior
        self.event_shape = tuple(event_shape)
        self.config = config

    @property
    def num_layers(self) -> int:
        return len(self.encoders)

    @property
    def latent_dim(self) -> int:
        """Width of h¹, the layer :meth:`encode` returns and the decoder reads."""
        return self.encoders[0].family.latent_dim

    @property
    def encoder(self) -> Encoder:
        """q_φ(h¹|x), the network and family of the first stochastic layer (what :meth:`encode` runs)."""
        return self.encoders[0]

    # --- the distributions ----------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        """q_φ(h¹|x), the first stochastic layer's posterior."""
        return self.encoders[0](to_device(x, module_device(self)))

    def decode(self, h1: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        """p_θ(x|h¹)."""
        return self.decoder(to_device(h1, module_device(self)))

    def prior_distribution(self, context: torch.Tensor | None = None) -> Distribution:
        """p(h^L), the top layer's prior."""
        return self.prior(context)

    # --- bounds ----------------------------------------------------------------------------------------------
    def terms(
        self,
        x: torch.Tensor,
        num_samples: int = 1,
        context: torch.Tensor | None = None,
        posterior: Distribution | None = None,
    ) -> Terms:
        """Sample the hierarchy h ~ q(h|x) by reparameterization, S times per datapoint; log densities ``[S, B]``.

        ``posterior``: q_φ(h¹|x) already computed for this ``x`` (the IS evaluator encodes once per block).
        """
        x = to_device(x, module_device(self))
        q = self.encoders[0](x) if posterior is None else posterior
        h = q.rsample((num_samples,))
        layers, log_q = [h], q.log_prob(h)
        for encoder in self.encoders[1:]:
            q_l = encoder(h)  # batch shape [S, B]: one conditional per sample of the layer below
            h = q_l.rsample()
            layers.append(h)
            log_q = log_q + q_l.log_prob(h)
        log_p = self.prior_distribution().log_prob(layers[-1])
        for conditional, below, above in zip(self.conditionals, layers[:-1], layers[1:], strict=True):
            log_p = log_p + conditional(above).log_prob(below)
        log_px = self.decoder(layers[0]).log_prob(x)  # x and the layers are on the model's device already
        if self.num_layers == 1:  # one layer: the plain VAE, whose KL is analytic (estimator B)
            return Terms(log_px, log_p, log_q, posterior=q, prior=self.prior_distribution())
        return Terms(log_px, log_p, log_q)

    # --- generation -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor | None = None, mean: bool = True) -> torch.Tensor:
        """Ancestral sampling h^L ~ p(h^L), h^l ~ p(h^l|h^{l+1}), then x: the decoder's mean (``mean``) or a draw."""
        h = self.prior_distribution().sample((n,))
        for conditional in reversed(self.conditionals):
            h = conditional(h).sample()
        p_x = self.decode(h)
        return p_x.mean if mean else p_x.sample()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean at the first layer's posterior mean: E_p(x|h¹=μ_φ(x))[x]."""
        return self.decode(self.encode(x).mean).mean


@MODELS.register("deep-vae")
def build_deep_vae(config: ModelConfig, event_shape: Sequence[int]) -> DeepVAE:
    """``latent_dims`` = [d₁, …, d_L]; x ↔ h¹ use ``hidden`` (and ``config.posterior`` for q(h¹|x)); every pair
    h^l ↔ h^{l+1} uses MLPs with ``upper_hidden`` (reversed for the generative direction)."""
    dims = list(config.latent_dims) or [config.latent_dim]
    upper = list(config.upper_hidden) or list(config.hidden)
    first, decoder = build_vae_parts(dataclasses.replace(config, latent_dim=dims[0]), event_shape)
    act = config.activation
    encoders = [first] + [conditional_gaussian(a, b, upper, act) for a, b in zip(dims[:-1], dims[1:], strict=True)]
    conditionals = [
        conditional_gaussian(b, a, list(reversed(upper)), act) for a, b in zip(dims[:-1], dims[1:], strict=True)
    ]
    model = DeepVAE(encoders, decoder, conditionals, StandardNormalPrior(dims[-1]), event_shape, config)
    return initialize_(model, config.init, config.init_std)
