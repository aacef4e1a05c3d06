"""The variational auto-encoder: a prior × a posterior (encoder) × a likelihood (decoder).

Generative model p_θ(x, z) = p(z) p_θ(x|z); recognition model q_φ(z|x) (Kingma & Welling 2014, §2–3). The
objectives in :mod:`aevb.estimators` read the log densities this module computes (:meth:`VAE.terms`); the model
itself holds no loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from aevb.config import ModelConfig
from aevb.estimators import Terms, elbo
from aevb.likelihoods import Decoder
from aevb.models.archs import ARCHS
from aevb.models.protocols import BoundModel, as_input
from aevb.nets import initialize_
from aevb.posteriors import Encoder
from aevb.priors import StandardNormalPrior
from aevb.registry import LIKELIHOODS, MODELS, POSTERIORS
from aevb.runtime import module_device, to_device


class VAE(nn.Module, BoundModel):
    """A one-stochastic-layer VAE composed of ``prior``, ``encoder`` (→ q_φ(z|x)) and ``decoder`` (→ p_θ(x|z)).

    ``context`` (labels, for conditional models) is passed to all three; unconditional parts ignore it. Tensor
    inputs of the public methods may be on any device: they are moved to the model's (:mod:`aevb.runtime`).
    """

    # A variational model: q_φ(z|x) is a density, so the ELBO and importance-sampled log p(x) are defined. The plain
    # autoencoder (aevb.models.ae) shares this class with a point-mass q and sets it to False.
    variational = True

    def __init__(
        self,
        encoder: Encoder,
        decoder: Decoder,
        prior: nn.Module,
        event_shape: Sequence[int],
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.prior = prior
        self.event_shape = tuple(event_shape)
        self.config = config

    # --- the three distributions -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        """q_φ(z|x): the approximate posterior (its ``.mean`` and ``.rsample()`` are both explicit)."""
        device = module_device(self)
        return self.encoder(to_device(x, device), to_device(context, device))

    def decode(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        """p_θ(x|z)."""
        device = module_device(self)
        return self.decoder(to_device(z, device), to_device(context, device))

    def prior_distribution(self, context: torch.Tensor | None = None) -> Distribution:
        """p(z) (or p(z|c) for conditional priors)."""
        return self.prior(to_device(context, module_device(self)))

    @property
    def latent_dim(self) -> int:
        return self.prior.latent_dim

    @property
    def data_dim(self) -> int:
        return math.prod(self.event_shape)

    # --- bounds ----------------------------------------------------------------------------------------------
    def terms(
        self,
        x: torch.Tensor,
        num_samples: int = 1,
        context: torch.Tensor | None = None,
        posterior: Distribution | None = None,
    ) -> Terms:
        """Draw z_s ~ q_φ(z|x), s = 1..S, by reparameterization and return their log densities ``[S, B]``.

        ``posterior``: q_φ(z|x) already computed for this ``x`` (the IS evaluator encodes once and draws many chunks
        of samples from it).
        """
        device = module_device(self)  # once: the parts below get tensors already there (the training step's path)
        x, context = to_device(x, device), to_device(context, device)
        q = self.encoder(x, context) if posterior is None else posterior
        p_z = self.prior_distribution(context)
        if num_samples == 1:  # the usual training step: the same draws, decoded without a leading sample dim
            z = q.rsample()  # z = μ + σ ⊙ ε
            log_px_z = self.decoder(z, context).log_prob(x).unsqueeze(0)
            return Terms.of_samples(log_px_z, z.unsqueeze(0), q, p_z)
        z = q.rsample((num_samples,))
        log_px_z = self.decoder(z, context).log_prob(x)
        return Terms.of_samples(log_px_z, z, q, p_z)

    def elbo(
        self, x: torch.Tensor, num_samples: int = 1, estimator: str = "B", context: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The ELBO per datapoint in nats, ``[B]`` (estimator B by default: analytic KL). ``x``: a tensor or NumPy
        array of any float dtype, ``[B, *event_shape]``."""
        return elbo(self.terms(as_input(self, x), num_samples, context), estimator)

    # --- generation -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor | None = None, mean: bool = True) -> torch.Tensor:
        """n draws z ~ p(z), decoded: the decoder's mean (``mean=True``, what is usually shown) or a sample of x."""
        context = to_device(context, module_device(self))
        p_z = self.prior_distribution(context)
        # A conditional prior already has one batch entry per context row; an unconditional one needs n draws.
        z = p_z.sample((n,)) if context is None else p_z.sample()
        p_x = self.decode(z, context)
        return p_x.mean if mean else p_x.sample()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean at the posterior mean: E_p(x|z=μ_φ(x))[x]."""
        return self.decode(self.encode(x, context).mean, context).mean


def build_vae_parts(config: ModelConfig, event_shape: Sequence[int], context_dim: int = 0) -> tuple[Encoder, Decoder]:
    """Encoder and decoder for ``config``: networks from the arch registry, families from the family registries."""
    arch = ARCHS.get(config.arch)
    posterior = POSTERIORS.get(config.posterior)(config.latent_dim)
    likelihood = LIKELIHOODS.get(config.likelihood).from_config(config, event_shape)
    enc_net = arch.encoder_net(
        event_shape, posterior.n_params(config.latent_dim), config.hidden, config.activation, context_dim
    )
    dec_net = arch.decoder_net(
        config.latent_dim,
        likelihood.n_params * math.prod(event_shape),
        config.hidden,
        config.activation,
        context_dim,
        event_shape=tuple(event_shape),
    )
    return Encoder(enc_net, posterior), Decoder(dec_net, likelihood)


@MODELS.register("vae")
def build_vae(config: ModelConfig, event_shape: Sequence[int]) -> VAE:
    encoder, decoder = build_vae_parts(config, event_shape)
    model = VAE(encoder, decoder, StandardNormalPrior(config.latent_dim), event_shape, config)
    return initialize_(model, config.init, config.init_std)
