"""The plain autoencoder (the lecture's contrast to the VAE): a deterministic encoder z = f(x) and the VAE's decoder
families, trained on the reconstruction term alone,

    min_θ,f  −log p_θ(x | z = f(x))          (``--model ae --objective reconstruction``),

with no KL and so no pressure to place the codes anywhere in particular: codes of different classes form clusters
with gaps between them, and decoding from the gaps gives nonsense. It has no prior; to sample, aevb fits a Gaussian
N(μ, Σ) to the training codes after training (:meth:`AutoEncoder.fit_prior`, saved with the weights) and decodes
draws from it. It is not a variational model: its "posterior" is a point mass, so it has no ELBO and no
importance-sampled log p(x); ``aevb score --score recon`` gives its reconstruction error per datapoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from aevb.config import ModelConfig
from aevb.models.vae import VAE, build_vae_parts
from aevb.nets import initialize_
from aevb.priors import FittedGaussianPrior
from aevb.registry import MODELS
from aevb.runtime import module_device


class AutoEncoder(VAE):
    """A :class:`VAE` whose encoder outputs the code itself (``posteriors.PointPosterior``) and whose prior is a
    Gaussian fitted to the training codes."""

    variational = False

    @torch.no_grad()
    def fit_prior(self, x: torch.Tensor, batch_size: int = 1000) -> None:
        """Fit the sampling distribution N(μ, Σ) to the codes f(x) of the training inputs ``x``."""
        device = module_device(self)
        codes = torch.cat([self.encode(x[i : i + batch_size].to(device)).mean for i in range(0, len(x), batch_size)])
        self.prior.fit(codes)


@MODELS.register("ae")
def build_ae(config: ModelConfig, event_shape: Sequence[int]) -> AutoEncoder:
    """The encoder's network and the decoder of ``config`` (any arch and likelihood); the posterior is always the
    point mass (``config.posterior`` is not used)."""
    config = dataclasses.replace(config, posterior="point")
    encoder, decoder = build_vae_parts(config, event_shape)
    model = AutoEncoder(encoder, decoder, FittedGaussianPrior(config.latent_dim), event_shape, config)
    return initialize_(model, config.init, config.init_std)
