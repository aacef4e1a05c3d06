"""Epoch-end hooks of the :class:`~aevb.training.trainer.Trainer`: extra metrics and pictures of progress.

A callback is a :class:`~aevb.training.hooks.Hooks`; its ``on_epoch_end(run, record)`` may add keys to ``record``
before the trainer logs it. The callbacks here run under a forked RNG with a fixed seed, so they never change a
run's random stream (resume stays exact), and they are cheap: at most ``terms_points`` datapoints, one grid of
pictures, ``fid_samples`` samples.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist

from aevb.config import TrainConfig
from aevb.data import TensorData
from aevb.errors import ConfigError
from aevb.metrics.fid import FEATURES, FeatureExtractor, model_fid
from aevb.models.protocols import BoundModel, ConditionalModel, is_variational, labels_to_context
from aevb.plots.common import fixed_z
from aevb.plots.grids import recon_grid, sample_grid
from aevb.runtime import fork_rng
from aevb.training.hooks import Hooks, TrainingRun


def is_main_process() -> bool:
    """Pictures and files are written by rank 0 only when torch.distributed is in use."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class TermsLogger(Hooks):
    """Logs the two terms of the ELBO (eq. 7), L = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)), per datapoint in nats, on
    the first ``n`` training and test points at the end of each epoch: ``train_recon``, ``train_kl``,
    ``test_recon``, ``test_kl``. The KL is analytic where the model has one, else a one-sample Monte Carlo estimate
    E_q[log q − log p]."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed

    @torch.no_grad()
    def terms(self, run: TrainingRun, data: TensorData) -> tuple[float, float]:
        model = run.model
        data = data.spread(self.n)  # evenly spaced: some splits are stored grouped by class
        x = data.x.to(run.device)
        context = labels_to_context(model, None if data.y is None else data.y.to(run.device))
        was_training = model.training
        model.eval()
        try:
            with fork_rng(run.device):
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

    def on_epoch_end(self, run: TrainingRun, record: dict[str, Any]) -> None:
        # The plain autoencoder has a reconstruction term but no KL (its q is a point mass): log the first alone.
        autoencoder = isinstance(run.model, BoundModel) and not is_variational(run.model)
        if not (run.has_encoder_bound or autoencoder):
            return  # VQ-VAE (its objective logs its own terms) or MCEM (the encoder is never trained)
        splits = [("train", run.train_data)]
        if run.test_data is not None:
            splits.append(("test", run.test_data))
        for name, data in splits:
            recon, kl = self.terms(run, data)
            record[f"{name}_recon"] = recon
            if not autoencoder:
                record[f"{name}_kl"] = kl


class EpochPictures(Hooks):
    """At the chosen epochs (and the last), writes ``pictures/samples_epochNNNN.png`` (decoded fixed z, drawn once
    per run and kept in ``fixed_z.safetensors``) and ``pictures/recon_epochNNNN.png`` (the same 32 test points
    every time), so the pictures of one run are comparable across epochs. Models whose data are not images, or
    that have no single latent layer, are skipped silently: pictures are a by-product, never a failure."""

    def __init__(self, epochs: list[int], seed: int, n_recon: int = 32) -> None:
        self.epochs, self.seed, self.n_recon = set(epochs), seed, n_recon

    def on_epoch_end(self, run: TrainingRun, record: dict[str, Any]) -> None:
        last = run.epoch == run.config.epochs
        if run.run_dir is None or not is_main_process() or not (record["epoch"] in self.epochs or last):
            return
        if isinstance(run.model, ConditionalModel):
            return  # conditional models need a context per sample; their pictures come from `aevb plot`
        model, folder = run.model, run.run_dir / "pictures"
        data = run.test_data if run.test_data is not None else run.train_data
        was_training = model.training
        model.eval()
        try:
            with fork_rng(run.device):
                z = fixed_z(model, run.run_dir, self.seed)
                sample_grid(model, z, folder / f"samples_epoch{record['epoch']:04d}.png")
                recon_grid(model, data.spread(self.n_recon).x, folder / f"recon_epoch{record['epoch']:04d}.png")
        except (ConfigError, ValueError):  # not images, or not a one-layer latent model
            pass
        finally:
            model.train(was_training)


class FIDCallback(Hooks):
    """Every ``fid_every`` epochs (and the last) logs ``fid_<extractor>`` between ``fid_samples`` model samples and as
    many test points (training points when there is no test split). Runs under a forked RNG with a fixed seed, so the
    training stream and resume are unaffected."""

    def __init__(self, every: int, features: str, weights: str, n: int, seed: int) -> None:
        FEATURES.get(features)  # fail early on an unknown name
        self.every, self.features, self.weights, self.n, self.seed = every, features, weights, n, seed
        self.extractor: FeatureExtractor | None = None

    def on_epoch_end(self, run: TrainingRun, record: dict[str, Any]) -> None:
        last = run.epoch == run.config.epochs
        if run.epoch % self.every == 0 or last:
            self.measure(run, record)

    def measure(self, run: TrainingRun, record: dict[str, Any]) -> None:
        """Add ``fid_<extractor>`` of the run's model now (also called after a second training stage)."""
        if self.extractor is None:
            self.extractor = FEATURES.get(self.features)(self.weights, run.train_data, run.device)
        data = run.test_data if run.test_data is not None else run.train_data
        record[self.extractor.key] = model_fid(run.model, data, self.extractor, self.n, self.seed)


def default_callbacks(config: TrainConfig) -> list[Hooks]:
    """The callbacks every run gets, from its config (``terms_points``, ``picture_epochs``, ``fid_every``)."""
    callbacks: list[Hooks] = []
    if config.terms_points:
        callbacks.append(TermsLogger(config.terms_points, config.seed))
    if config.picture_epochs:
        callbacks.append(EpochPictures(config.picture_epochs, config.seed))
    if config.fid_every:
        callbacks.append(
            FIDCallback(config.fid_every, config.fid_features, config.fid_weights, config.fid_samples, config.seed)
        )
    return callbacks


class EarlyStopping(Hooks):
    """Early stopping on the held-out ELBO: ends training when ``patience_steps`` optimizer steps have passed without
    a better ``test_elbo`` than the best so far, and records which step that best was.

    The trainer evaluates the held-out ELBO every ``eval_every`` epochs (its ``test`` data); this hook reads that
    record. After training, ``best_step`` is the step count of the best evaluation (0 if none was finite), ``state``
    a copy of its weights (with ``keep_state``; the model itself keeps training's last weights), and ``curve`` every
    evaluation as ``(step, elbo)``, nats per datapoint, higher is better.

    Parameters
    ----------
    patience_steps : int
        Optimizer steps without a better held-out ELBO after which training ends.
    keep_state : bool, default True
        Copy the weights at each new best (to load them afterwards); False when only the step count is wanted.
    """

    def __init__(self, patience_steps: int, keep_state: bool = True) -> None:
        self.patience_steps, self.keep_state = patience_steps, keep_state
        self.best, self.best_step = -math.inf, 0
        self.state: dict[str, torch.Tensor] | None = None
        self.curve: list[tuple[int, float]] = []

    def on_epoch_end(self, run: TrainingRun, record: dict[str, Any]) -> None:
        if "test_elbo" not in record:
            return
        self.curve.append((run.step, record["test_elbo"]))
        if record["test_elbo"] > self.best:
            self.best, self.best_step = record["test_elbo"], run.step
            if self.keep_state:
                self.state = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        elif run.step - self.best_step >= self.patience_steps:
            run.finished = True
