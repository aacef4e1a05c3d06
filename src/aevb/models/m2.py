"""M2, the semi-supervised VAE of Kingma, Rezende, Mohamed & Welling (2014), "Semi-supervised learning with deep
generative models": the label y is a latent variable that is observed for some datapoints.

Generative model p(y) p(z) p_θ(x|y, z) with p(y) uniform over C classes and p(z) = N(0, I); recognition model
q_φ(y|x) (a classifier) and q_φ(z|x, y). For a labelled datapoint (eq. 6)

    −L(x, y) = E_q(z|x,y)[log p_θ(x|y, z) + log p(y) + log p(z) − log q_φ(z|x, y)] ≤ log p(x, y),

and for an unlabelled one, y is summed out exactly (eq. 7)

    −U(x) = Σ_y q_φ(y|x) (−L(x, y)) + H(q_φ(y|x)) ≤ log p(x),

computed in one batched pass over the C labels of each datapoint (x broadcast against them, not copied). The
model is the CVAE's encoder and decoder (the one-hot label appended to their inputs) with p(z) = N(0, I), plus the
classifier; a label of −1 marks an unlabelled datapoint (its context row is all zeros). The training objective that
adds α·log q_φ(y|x) for the labelled data is :class:`aevb.training.objectives.M2Objective`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Categorical

from aevb.config import ModelConfig
from aevb.data.labels import UNLABELLED
from aevb.errors import ConfigError, DataError
from aevb.estimators import elbo
from aevb.models.cvae import CVAE
from aevb.models.protocols import ClassifyingModel
from aevb.models.vae import build_vae_parts
from aevb.nets import Standardization, initialize_, mlp
from aevb.priors import StandardNormalPrior
from aevb.registry import MODELS
from aevb.runtime import module_device, to_device


class M2(CVAE, ClassifyingModel):
    """The CVAE's q_φ(z|x, y) and p_θ(x|y, z) with p(z) = N(0, I), and a classifier q_φ(y|x)."""

    def __init__(self, *args, classifier: nn.Module, **kwargs) -> None:  # noqa: ANN002,ANN003 - CVAE's signature
        super().__init__(*args, **kwargs)
        self.classifier = classifier

    def make_context(self, y: torch.Tensor) -> torch.Tensor:
        """Labels ``[B]`` in 0..C−1, or −1 for unlabelled → ``[B, C]``: one-hot rows, all-zero rows for −1."""
        y = torch.as_tensor(y).long()
        hidden = y == UNLABELLED
        if y.numel() and (int(y.min()) < UNLABELLED or int(y.max()) >= self.num_classes):
            raise DataError(
                f"M2 labels must lie in 0..{self.num_classes - 1}, or be {UNLABELLED} for an unlabelled datapoint; "
                f"got labels from {int(y.min())} to {int(y.max())}"
            )
        one_hot = nn.functional.one_hot(y.clamp(min=0), self.num_classes).float()
        return one_hot.masked_fill(hidden.unsqueeze(-1), 0.0)

    def classify(self, x: torch.Tensor) -> Categorical:
        """q_φ(y|x)."""
        x = to_device(x, module_device(self))
        return Categorical(logits=self.classifier(x.reshape(x.shape[0], -1)).float())

    def labelled_bound(self, x: torch.Tensor, context: torch.Tensor, num_samples: int = 1) -> torch.Tensor:
        """−L(x, y) per datapoint ``[B]`` (nats): the conditional ELBO (analytic KL) plus log p(y) = −log C."""
        return elbo(self.terms(x, num_samples, context), "B") - math.log(self.num_classes)

    def unlabelled_bound(self, x: torch.Tensor, num_samples: int = 1) -> torch.Tensor:
        """−U(x) per datapoint ``[B]`` (nats): Σ_y q(y|x)(−L(x, y)) + H(q(y|x)), all C labels in one pass."""
        x = to_device(x, module_device(self))
        b, c = x.shape[0], self.num_classes
        # x [1, B, ...] against labels [C, B, C] (row k: label k for every datapoint): the networks broadcast one
        # against the other, so x's share of the encoder runs once, not once per label (nets.conditional_linear).
        labels = torch.eye(c, device=x.device).unsqueeze(1).expand(c, b, c)
        bound = self.labelled_bound(x.unsqueeze(0), labels, num_samples).T  # [B, C]
        q = self.classify(x)
        return (q.probs * bound).sum(-1) + q.entropy()


@MODELS.register("m2")
def build_m2(config: ModelConfig, event_shape: Sequence[int]) -> M2:
    if config.conditional_prior != "standard":
        raise ConfigError("M2's p(z) is N(0, I): leave conditional_prior at 'standard'")
    encoder, decoder = build_vae_parts(config, event_shape, context_dim=config.num_classes)
    classifier: nn.Module = mlp(math.prod(event_shape), config.hidden, config.num_classes, config.activation)
    if config.standardize:  # q(y|x) reads the features as the encoder does
        classifier = nn.Sequential(Standardization((math.prod(event_shape),)), classifier)
    model = M2(
        encoder,
        decoder,
        StandardNormalPrior(config.latent_dim),
        event_shape,
        config,
        num_classes=config.num_classes,
        classifier=classifier,
    )
    return initialize_(model, config.init, config.init_std)
