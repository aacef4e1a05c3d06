"""The conditional VAE (Sohn, Lee & Yan 2015; the lecture's CVAE).

Generative model p_θ(x, z | c) = p(z|c) p_θ(x|z, c); recognition model q_φ(z|x, c); the conditional ELBO

    log p(x|c) ≥ E_q(z|x,c)[log p_θ(x|z, c)] − KL(q_φ(z|x, c) ‖ p(z|c)).

The context c is a one-hot label (:meth:`CVAE.make_context`), appended to the inputs of the encoder and decoder
networks. p(z|c) is N(0, I) (``conditional_prior = "standard"``) or a learned N(μ_θ(c), diag σ²_θ(c)) ("learned").
Everything else — the bounds, training, evaluation, saving — is the plain VAE's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from aevb.config import ModelConfig
from aevb.errors import ConfigError, DataError
from aevb.models.protocols import ConditionalModel
from aevb.models.vae import VAE, build_vae_parts
from aevb.nets import initialize_
from aevb.priors import ConditionalGaussianPrior, StandardNormalPrior
from aevb.registry import MODELS, Registry
from aevb.runtime import module_device, to_device

# p(z|c) by ``ModelConfig.conditional_prior``: (config) -> prior module.
CONDITIONAL_PRIORS: Registry = Registry("conditional prior")
CONDITIONAL_PRIORS.register("standard")(lambda config: StandardNormalPrior(config.latent_dim))
CONDITIONAL_PRIORS.register("learned")(
    lambda config: ConditionalGaussianPrior(config.latent_dim, config.num_classes, config.hidden, config.activation)
)


class CVAE(VAE, ConditionalModel):
    """A :class:`VAE` whose encoder, decoder and prior all see the context c (a one-hot label)."""

    def __init__(self, *args, num_classes: int, **kwargs) -> None:  # noqa: ANN002,ANN003 - VAE's signature
        super().__init__(*args, **kwargs)
        self.num_classes = num_classes

    def make_context(self, y: torch.Tensor) -> torch.Tensor:
        """Labels ``[B]`` in 0..num_classes−1 → one-hot contexts ``[B, num_classes]`` (float)."""
        y = torch.as_tensor(y)
        if y.is_floating_point():
            if not torch.equal(y, y.round()):
                raise DataError("labels of a conditional model must be integers")
            y = y.long()
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise DataError(
                f"labels must lie in 0..{self.num_classes - 1} (num_classes = {self.num_classes}); "
                f"got labels from {int(y.min())} to {int(y.max())}"
            )
        return nn.functional.one_hot(y.long(), self.num_classes).float()

    def label_context(self, label: int, n: int, device: torch.device | None = None) -> torch.Tensor:
        """n copies of the one-hot context of ``label``; a label out of range is a :class:`ConfigError`."""
        if not 0 <= label < self.num_classes:
            raise ConfigError(f"--label must be in 0..{self.num_classes - 1} for this model, got {label}")
        return self.make_context(torch.full((n,), label, dtype=torch.long, device=device))

    def prior_distribution(self, context: torch.Tensor | None = None) -> Distribution:
        """p(z|c), one batch entry per context row (N(0, I) is broadcast to the batch, so ``sample`` draws one z per
        row)."""
        if context is None:
            raise ValueError("a conditional VAE needs a context: pass make_context(labels)")
        prior = self.prior(to_device(context, module_device(self)))
        return prior.expand(context.shape[:-1]) if prior.batch_shape == () else prior


@MODELS.register("cvae")
def build_cvae(config: ModelConfig, event_shape: Sequence[int]) -> CVAE:
    encoder, decoder = build_vae_parts(config, event_shape, context_dim=config.num_classes)
    prior = CONDITIONAL_PRIORS.get(config.conditional_prior)(config)
    model = CVAE(encoder, decoder, prior, event_shape, config, num_classes=config.num_classes)
    return initialize_(model, config.init, config.init_std)
