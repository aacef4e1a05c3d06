"""The base of the update rules (``--method``): a method owns the parameter update of one minibatch.

The :class:`~aevb.training.trainer.Trainer` owns everything around it (data order, RNG streams, checkpoints,
evaluation, logging). A method is built as ``METHODS.get(name)(run)`` (:mod:`aevb.training.methods`) and provides

- ``step(xb, cb) -> Tensor``: update the model on minibatch ``xb`` (context ``cb``; ``run.batch_rows`` are its row
  indices into the training set) and return the *sum* over the minibatch of the quantity logged as the training
  metric (for AEVB and Wake-Sleep a lower bound on log p(x), in nats);
- ``state_dict()`` / ``load_state_dict(state)``: extra state for the checkpoint (tensors and plain values, loadable
  with ``torch.load(weights_only=True)``);
- the :class:`~aevb.training.hooks.Hooks`, to rename or add logged keys.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aevb.runtime import autocast
from aevb.training.hooks import Hooks, TrainingRun


def parameter_prior(model: nn.Module, n_train: int) -> torch.Tensor:
    """−log N(θ; 0, I) / N up to a constant: the paper's N(0, I) prior on the parameters (Kingma & Welling 2014, §5),
    spread over the N training datapoints so that it adds to a per-datapoint loss."""
    return 0.5 * sum(p.pow(2).sum() for p in model.parameters()) / n_train


class Method(Hooks):
    """Base class: no extra state, nothing renamed."""

    # Whether the model's encoder is trained, so that the test ELBO and other encoder-based metrics mean something.
    trains_encoder = True
    # Whether every rank can run it on its slice of a minibatch (no per-datapoint state): torchrun needs it.
    data_parallel = True

    def __init__(self, run: TrainingRun) -> None:
        self.run = run

    def step(self, xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    # --- shared by the methods ---------------------------------------------------------------------------------
    def autocast(self) -> Any:
        return autocast(self.run.device, self.run.config.precision)

    def with_parameter_prior(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` plus the paper's parameter prior when ``param_prior`` is set."""
        if self.run.config.param_prior:
            loss = loss + parameter_prior(self.run.model, self.run.x.shape[0])
        return loss

    def apply(self, loss: torch.Tensor) -> None:
        """One optimizer step on ``loss`` (+ the parameter prior when ``param_prior`` is set)."""
        loss = self.with_parameter_prior(loss)
        optimizer = self.run.optimizer
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
