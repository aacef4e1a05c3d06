"""What the pieces around the training loop may see of it, and the hooks it calls.

:class:`TrainingRun` is the view of a :class:`~aevb.training.trainer.Trainer` that update rules, objectives and
callbacks are given (a ``Protocol``, so they depend on this small surface and not on the trainer module).
:class:`Hooks` is the base of everything the trainer calls at the end of an epoch and after the last one; each hook
does nothing unless overridden, so the trainer calls them all without asking which exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch

from aevb.config import TrainConfig
from aevb.data import TensorData
from aevb.models.protocols import GenerativeModel


class TrainingRun(Protocol):
    model: GenerativeModel
    config: TrainConfig
    device: torch.device
    optimizer: torch.optim.Optimizer
    objective: Any  # the configured objective (aevb.training.objectives): (model, x, context) → bound [B]
    train_data: TensorData
    test_data: TensorData | None
    run_dir: Path | None
    x: torch.Tensor  # the training set: on the device when it fits there (resident), else on the CPU
    x_scale: torch.Tensor | None  # its per-value standard deviations when examples are Gaussians (TensorData.x_scale)
    context: torch.Tensor | None  # its contexts (conditional models), else None
    batch_rows: torch.Tensor | None  # training-set rows of the current minibatch
    epoch: int
    step: int
    stop_requested: bool  # set by Ctrl-C; long loops check it between steps
    finished: bool  # set by an epoch-end hook (early stopping): training ends after this epoch, as if it were the last
    callbacks: list[Any]

    @property
    def has_encoder_bound(self) -> bool: ...

    def log(self, record: dict[str, Any], message: str | None = None) -> None: ...


class Hooks:
    """``bind`` runs once when the trainer is built, before any step (an objective that needs the training set's
    size reads it there); ``on_epoch_end`` may add keys to the epoch's record before it is logged; ``after_fit`` runs
    once after the last epoch of an uninterrupted run (a second training stage, such as the VQ-VAE's prior)."""

    def bind(self, run: TrainingRun) -> None:
        pass

    def on_epoch_end(self, run: TrainingRun, record: dict[str, Any]) -> None:
        pass

    def after_fit(self, run: TrainingRun) -> None:
        pass
