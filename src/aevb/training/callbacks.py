"""Epoch-end hooks of the :class:`~aevb.training.trainer.Trainer`: extra metrics and pictures of progress.

A callback is any object with ``on_epoch_end(trainer, record)``; it may add keys to ``record`` before the trainer
logs it. Both callbacks here run under a forked RNG with a fixed seed, so they never change a run's random stream
(resume stays exact), and both are cheap: at most ``terms_points`` datapoints and one grid of pictures.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from aevb.config import TrainConfig
from aevb.errors import ConfigError


class Callback(Protocol):
    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None: ...


def is_main_process() -> bool:
    """Pictures and files are written by rank 0 only when torch.distributed is in use."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _fork(device: torch.device) -> Any:
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


class TermsLogger:
    """Logs the two terms of the ELBO (eq. 7), L = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)), per datapoint in nats, on
    the first ``n`` training and test points at the end of each epoch: ``train_recon``, ``train_kl``,
    ``test_recon``, ``test_kl``. The KL is analytic where the model has one, else a one-sample Monte Carlo estimate
    E_q[log q − log p]."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed

    @torch.no_grad()
    def terms(self, trainer: Any, data: Any) -> tuple[float, float]:
        from aevb.training.trainer import labels_to_context

        model = trainer.model
        data = data.spread(self.n)  # evenly spaced: some splits are stored grouped by class
        x = data.x.to(trainer.device)
        context = labels_to_context(model, None if data.y is None else data.y.to(trainer.device))
        was_training = model.training
        model.eval()
        try:
            with _fork(trainer.device):
                torch.manual_seed(self.seed)
                terms = model.terms(x, 1, context)
                try:
                    kl = terms.kl()
                except ConfigError:
                    kl = (terms.log_posterior - terms.log_prior).mean(0)
                recon = terms.log_likelihood.mean(0)
        finally:
            model.train(was_training)
        return float(recon.float().mean()), float(kl.float().mean())

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        if not trainer.has_encoder_bound:
            return  # VQ-VAE (its objective logs its own terms) or MCEM (the encoder is never trained)
        splits = [("train", trainer.train_data)]
        if trainer.test_data is not None:
            splits.append(("test", trainer.test_data))
        for name, data in splits:
            recon, kl = self.terms(trainer, data)
            record[f"{name}_recon"], record[f"{name}_kl"] = recon, kl


class EpochPictures:
    """At the chosen epochs (and the last), writes ``pictures/samples_epochNNNN.png`` (decoded fixed z, drawn once
    per run and kept in ``fixed_z.safetensors``) and ``pictures/recon_epochNNNN.png`` (the same 32 test points
    every time), so the pictures of one run are comparable across epochs. Models whose data are not images, or
    that have no single latent layer, are skipped silently: pictures are a by-product, never a failure."""

    def __init__(self, epochs: list[int], seed: int, n_recon: int = 32) -> None:
        self.epochs, self.seed, self.n_recon = set(epochs), seed, n_recon

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        last = trainer.epoch == trainer.config.epochs
        if trainer.run_dir is None or not is_main_process() or not (record["epoch"] in self.epochs or last):
            return
        if getattr(trainer.model, "make_context", None) is not None:
            return  # conditional models need a context per sample; their pictures come from `aevb plot`
        from aevb.plots.common import fixed_z
        from aevb.plots.grids import recon_grid, sample_grid

        model, folder = trainer.model, trainer.run_dir / "pictures"
        data = trainer.test_data if trainer.test_data is not None else trainer.train_data
        was_training = model.training
        model.eval()
        try:
            with _fork(trainer.device):
                z = fixed_z(model, trainer.run_dir, self.seed)
                sample_grid(model, z, folder / f"samples_epoch{record['epoch']:04d}.png")
                recon_grid(model, data.spread(self.n_recon).x, folder / f"recon_epoch{record['epoch']:04d}.png")
        except (ConfigError, ValueError):  # not images, or not a one-layer latent model
            pass
        finally:
            model.train(was_training)


def default_callbacks(config: TrainConfig) -> list[Callback]:
    """The callbacks every run gets, from its config (``terms_points``, ``picture_epochs``)."""
    callbacks: list[Callback] = []
    if config.terms_points:
        callbacks.append(TermsLogger(config.terms_points, config.seed))
    if config.picture_epochs:
        callbacks.append(EpochPictures(config.picture_epochs, config.seed))
    if config.fid_every:
        from aevb.metrics.fid import FIDCallback

        callbacks.append(
            FIDCallback(config.fid_every, config.fid_features, config.fid_weights, config.fid_samples, config.seed)
        )
    return callbacks
