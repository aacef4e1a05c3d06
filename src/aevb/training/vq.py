"""Training the VQ-VAE (van den Oord et al. 2017): the ``"vqvae"`` objective and the second stage that fits the
gated PixelCNN prior over code grids.

``aevb train --model vqvae --objective vqvae --prior-epochs N`` trains encoder, codebook and decoder for ``epochs``
by eq. 3, then (stage 2) encodes the training set to code grids and fits the PixelCNN prior for N epochs by maximum
likelihood, with its own Adam at ``lr``. Stage 2 is not checkpointed mid-way: an interrupted or resumed run refits
the prior from the stage-1 checkpoint.

What is logged (per datapoint): the trainer's ``train_bound`` for this objective is −L of eq. 3 — a loss, not a bound
on log p(x). The honest numbers are ``*_recon_nll`` = −log p(x|z_q(x)) in nats (and ``*_recon_bits_per_dim``), the
codebook and commitment terms, ``*_perplexity`` and ``*_codebook_usage``; on the test split ``test_elbo_uniform_prior``
and, after stage 2, ``test_prior_nats_per_code``, ``test_prior_bits_per_dim`` and ``test_elbo_pixelcnn_prior``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from aevb.config import TrainConfig
from aevb.errors import ConfigError, TrainingError
from aevb.models.vqvae import VQVAE
from aevb.runtime import module_device
from aevb.training.callbacks import FIDCallback
from aevb.training.hooks import Hooks, TrainingRun

# Batch statistics averaged over an epoch (weighted by batch size) and logged as ``train_<name>``.
_LOGGED = ("recon_nll", "codebook_loss", "commitment_loss", "loss", "perplexity", "codebook_usage")


class VQVAEObjective(Hooks):
    """−L per datapoint, L = −log p(x|z_q) + ‖sg[z_e] − e‖² + β‖z_e − sg[e]‖² (van den Oord et al. 2017, eq. 3)."""

    is_bound = False  # −L of eq. 3 is a loss, not a bound on log p(x)

    def __init__(self, config: TrainConfig) -> None:
        if config.samples != 1 or config.beta != 1.0 or config.warmup_steps or config.free_bits:
            raise ConfigError(
                "objective vqvae has no posterior samples or KL weight: leave samples = 1, beta = 1, "
                "warmup_steps = 0 and free_bits = 0"
            )
        self.config = config
        self._sums: dict[str, float] = {}
        self._n = 0
        self._restarted = 0

    def __call__(self, model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(model, VQVAE):
            raise ConfigError(f"objective vqvae trains --model vqvae only, got a {type(model).__name__}")
        out = model.losses(x)
        b = x.shape[0]
        for name in _LOGGED:
            v = out[name].detach()
            self._sums[name] = self._sums.get(name, 0.0) + float(v.sum() if v.dim() else v * b)
        self._n += b
        self._restarted += int(out["restarted_codes"])
        return -out["loss"]

    def on_epoch_end(self, run: TrainingRun, record: dict[str, Any]) -> None:
        model = run.model
        if self._n:
            for name in _LOGGED:
                record[f"train_{name}"] = self._sums.get(name, 0.0) / self._n
            record["train_recon_bits_per_dim"] = record["train_recon_nll"] / (model.data_dim * math.log(2))
            record["restarted_codes"] = self._restarted
        self._sums, self._n, self._restarted = {}, 0, 0
        cfg = run.config
        due = cfg.eval_every and (run.epoch % cfg.eval_every == 0 or run.epoch == cfg.epochs)
        if run.test_data is not None and due:
            metrics = model.evaluate_metrics(run.test_data.x, prior=False)
            record.update({f"test_{k}": v for k, v in metrics.items()})

    def after_fit(self, run: TrainingRun) -> None:
        if self.config.prior_epochs:
            fit_code_prior(run)


@torch.no_grad()
def encode_codes(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Code grids k(x) ``[N, h, w]`` of all of ``x``, on the model's device."""
    was_training = model.training
    model.eval()
    device = module_device(model)
    out = torch.cat([model.codes(x[i : i + batch_size].to(device)) for i in range(0, x.shape[0], batch_size)])
    model.train(was_training)
    return out


def fit_code_prior(run: TrainingRun) -> None:
    """Stage 2: maximum-likelihood fit of ``model.prior`` to the code grids of the training set; one record per
    epoch (``prior_epoch``) with train and test nats per code, bits per dim, and the test ELBO under this prior."""
    model, cfg = run.model, run.config
    prior = model.prior
    codes = encode_codes(model, run.x)
    optimizer = torch.optim.Adam(prior.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed + 3)
    positions = codes[0].numel()
    for epoch in range(1, cfg.prior_epochs + 1):
        start = time.perf_counter()
        prior.train()
        perm = torch.randperm(codes.shape[0], generator=gen).to(codes.device)
        total = 0.0
        for i in range(0, codes.shape[0], cfg.batch_size):
            kb = codes[perm[i : i + cfg.batch_size]]
            nll = -prior.log_prob(kb)
            optimizer.zero_grad(set_to_none=True)
            nll.mean().backward()
            optimizer.step()
            total += float(nll.detach().sum())
            if run.stop_requested:
                return
        if not math.isfinite(total):
            raise TrainingError(f"the PixelCNN prior's loss became non-finite at prior epoch {epoch}; try a lower --lr")
        record: dict[str, Any] = {
            "epoch": run.epoch,
            "step": run.step,
            "prior_epoch": epoch,
            "prior_train_nats_per_code": total / codes.shape[0] / positions,
            "prior_epoch_seconds": time.perf_counter() - start,
        }
        if run.test_data is not None:
            metrics = model.evaluate_metrics(run.test_data.x, prior=True)
            record.update({f"test_{k}": v for k, v in metrics.items() if "prior" in k})
        if epoch == cfg.prior_epochs and cfg.fid_every:  # samples from the fitted prior are only now meaningful
            for callback in run.callbacks:
                if isinstance(callback, FIDCallback):
                    callback.measure(run, record)
        run.log(record, _prior_message(record))
    prior.eval()
    model.train()


def _prior_message(record: dict[str, Any]) -> str:
    msg = f"prior epoch {record['prior_epoch']:4d}  train {record['prior_train_nats_per_code']:.4f} nats/code"
    if "test_prior_nats_per_code" in record:
        msg += (
            f"  test {record['test_prior_nats_per_code']:.4f} nats/code"
            f" = {record['test_prior_bits_per_dim']:.4f} bits/dim"
            f"  test ELBO {record['test_elbo_pixelcnn_prior']:.2f} nats"
        )
    return msg
