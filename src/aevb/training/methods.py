"""Training methods, looked up by ``TrainConfig.method`` (``aevb train --method``) in :data:`METHODS`.

A method owns the parameter update of one minibatch; the :class:`~aevb.training.trainer.Trainer` owns everything
around it (data order, RNG streams, checkpoints, evaluation, logging). A method is built as
``METHODS.get(name)(trainer)`` and provides:

- ``step(xb, cb) -> Tensor``: update the model on minibatch ``xb`` (context ``cb``; ``trainer.batch_rows`` are its
  row indices into the training set) and return the *sum* over the minibatch of the quantity logged as the training
  metric (for AEVB and Wake-Sleep a lower bound on log p(x), in nats);
- ``state_dict()`` / ``load_state_dict(state)``: extra state for the trainer's checkpoint (tensors and plain values,
  loadable with ``torch.load(weights_only=True)``);
- ``on_epoch_end(trainer, record)``: a trainer callback that may rename or drop logged keys.

Registered: ``"aevb"`` (SGVB, Kingma & Welling 2014 Algorithm 1), ``"wake-sleep"`` (Hinton et al. 1995,
:mod:`aevb.training.wake_sleep`), ``"mcem"`` (Monte Carlo EM with HMC, App. E, :mod:`aevb.training.mcem`).
"""

from __future__ import annotations

from typing import Any

import torch

from aevb.registry import Registry

METHODS: Registry = Registry("training method")


class Method:
    """Base class: no extra state, nothing renamed."""

    # Whether the model's encoder is trained, so that the test ELBO and other encoder-based metrics mean something.
    trains_encoder = True

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer

    def step(self, xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        pass

    # --- helpers shared by the methods ---------------------------------------------------------------------------
    def autocast(self) -> Any:
        t = self.trainer
        return torch.autocast(t.device.type, dtype=torch.bfloat16, enabled=t.config.precision == "bf16")

    def apply(self, loss: torch.Tensor) -> None:
        """One optimizer step on ``loss`` (+ the paper's parameter prior when ``param_prior`` is set)."""
        t = self.trainer
        if t.config.param_prior:
            loss = loss + t._param_prior()
        t.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t.optimizer.step()


@METHODS.register("aevb")
class AEVB(Method):
    """Auto-Encoding VB: one SGVB gradient step on the configured objective (``--objective``, ``--estimator``) for
    encoder and decoder jointly. The step itself is :meth:`Trainer.sgvb_step`."""

    def step(self, xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        return self.trainer.sgvb_step(xb, cb)


# The baselines register themselves on import.
from aevb.training import mcem, wake_sleep  # noqa: E402,F401
