"""Round 2 of ``tables_suite.py``'s validation suite: the training length chosen per table by the held-out ELBO of
the NORMAL rows (early stopping), no anomaly seen.

Round 1 showed training length is the lever and that no fixed length suits every table: at 100 epochs the crabs'
40 training rows get 100 steps and are undertrained (AUROC 0.80-0.88; 0.96-0.997 at 3,000 steps), while 3,000
steps overfit glass "Head" (0.82 → 0.62) and several digits. Early stopping on held-out normal rows is the usual
remedy and needs no anomalies. Candidates (same tasks, splits and seeds as round 1, so comparable with its file):

- ``es``: a seeded 20 % of the normal training rows held out; up to 4,000 steps; the held-out ELBO (10 samples)
  every ~50 steps; the weights of the best evaluation kept; stop after 1,000 steps without improvement;
  scores ``nll``, ``elbo``;
- ``es-refit``: the same search, then a fresh model (same seed) trained on all the normal training rows for the
  best evaluation's number of steps; ``nll``, ``elbo``.

    python benchmarks/one_class_design/tables_suite_es.py OUT.csv [--shard i/n]
    python benchmarks/one_class_design/tables_suite.py --summary round1.csv OUT.csv
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from tables_suite import main

from aevb import ModelConfig, TrainConfig, build_model
from aevb.data import TensorData
from aevb.data.scaling import standardization
from aevb.scoring import score
from aevb.training.callbacks import EarlyStopping
from aevb.training.hooks import Hooks
from aevb.training.trainer import Trainer

MAX_STEPS, EVERY_STEPS, PATIENCE_STEPS, HOLDOUT = 4000, 50, 1000, 0.2


def _config(seed: int, epochs: int, batch: int, every: int) -> TrainConfig:
    return TrainConfig(
        dataset="array", epochs=epochs, batch_size=batch, seed=seed, device="cpu", progress=False,
        eval_every=every, eval_samples=10, checkpoint_every=0, picture_epochs=[], terms_points=0,
    )  # fmt: skip


def _fit(x: torch.Tensor, seed: int, epochs: int, test: torch.Tensor | None = None, hook: Hooks | None = None):
    batch = min(100, x.shape[0])
    per_epoch = math.ceil(x.shape[0] / batch)
    every = max(1, round(EVERY_STEPS / per_epoch)) if test is not None else 0
    config = ModelConfig(latent_dim=20, hidden=[400], likelihood="gaussian")
    model = build_model(config, (x.shape[1],), seed=seed, data=x)
    Trainer(
        model, TensorData(x, None, name="array"), _config(seed, epochs, batch, every),
        test=None if test is None else TensorData(test, None, name="holdout"), callbacks=[hook] if hook else None,
    ).fit()  # fmt: skip
    return model


def search(train: np.ndarray, test: np.ndarray, seed: int) -> tuple[torch.Tensor, torch.Tensor, EarlyStopping, Any]:
    """The search: standardized rows, the held-out split, up to MAX_STEPS with the held-out ELBO watched.

    Returns (training rows, test rows, the hook with the best step and its weights, the searched model)."""
    center, scale = standardization(train)  # the estimator's standardization (again: a no-op after table_split's)
    x, xt = torch.from_numpy((train - center) / scale), torch.from_numpy((test - center) / scale)
    order = np.random.default_rng(seed + 1000).permutation(len(x))
    n_hold = max(2, round(HOLDOUT * len(x)))
    fit_rows, hold_rows = x[order[n_hold:]], x[order[:n_hold]]
    per_epoch = math.ceil(len(fit_rows) / min(100, len(fit_rows)))
    hook = EarlyStopping(PATIENCE_STEPS)  # the library's hook: the best step and its weights
    model = _fit(fit_rows, seed, math.ceil(MAX_STEPS / per_epoch), hold_rows, hook)
    return x, xt, hook, model


def refit_epochs(x: torch.Tensor, hook: EarlyStopping) -> int:
    """Epochs on all the rows that take about the best evaluation's steps."""
    return max(1, round(hook.best_step / math.ceil(len(x) / min(100, len(x)))))


def _detect(train: np.ndarray, test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    x, xt, hook, model = search(train, test, seed)
    model.load_state_dict(hook.state)
    out = {f"aevb es {k}": v.numpy() for k, v in score(model.eval(), xt, ["nll", "elbo"], seed=seed).items()}
    refit = _fit(x, seed, refit_epochs(x, hook))
    out |= {f"aevb es-refit {k}": v.numpy() for k, v in score(refit.eval(), xt, ["nll", "elbo"], seed=seed).items()}
    out["best step"] = np.full(len(test), float(hook.best_step))
    return out


if __name__ == "__main__":
    main(_detect)
