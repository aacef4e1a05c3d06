"""Training objectives: each maps (model, x) to a per-datapoint lower bound ``[B]`` that training maximizes.

They only choose which estimator of :mod:`aevb.estimators` to apply to the model's :class:`~aevb.estimators.Terms`;
the bounds themselves are written once, there.
"""

from __future__ import annotations

import torch
from torch import nn

from aevb.config import TrainConfig
from aevb.estimators import elbo, iwae_bound
from aevb.registry import Registry

OBJECTIVES: Registry = Registry("objective")


@OBJECTIVES.register("elbo")
class ELBOObjective:
    """SGVB: the (β-weighted) ELBO with L = ``samples`` draws per datapoint, estimator A or B."""

    def __init__(self, config: TrainConfig) -> None:
        self.num_samples = config.samples
        self.estimator = config.estimator
        self.beta = config.beta

    def __call__(self, model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return elbo(model.terms(x, self.num_samples, context), self.estimator, self.beta)


@OBJECTIVES.register("iwae")
class IWAEObjective:
    """The importance-weighted bound L_k with k = ``samples`` (Burda et al. 2015)."""

    def __init__(self, config: TrainConfig) -> None:
        self.num_samples = config.samples

    def __call__(self, model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return iwae_bound(model.terms(x, self.num_samples, context))
