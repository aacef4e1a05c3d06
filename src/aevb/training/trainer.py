"""The training loop: minibatch SGVB (Kingma & Welling 2014, Algorithm 1) with checkpoints and exact resume.

All data lives in memory as one tensor; a minibatch is an index into it, drawn from the trainer's own seeded
generator, so there is no per-sample Python and the random stream is fully captured by the checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from aevb.atomic import write_text_atomic
from aevb.config import Config, TrainConfig, section_from_dict
from aevb.data import TensorData, check_data
from aevb.data.labels import hide_labels
from aevb.errors import ConfigError, DataError, TrainingError
from aevb.evaluation import evaluate
from aevb.io import save_model
from aevb.models.protocols import GenerativeModel, is_variational, labels_to_context
from aevb.runtime import fork_rng, fp32_arithmetic, module_device, resolve_device, tune_cpu_allocator
from aevb.training.callbacks import default_callbacks
from aevb.training.checkpoint import claim_run_dir, load_checkpoint, save_checkpoint
from aevb.training.distributed import RANK_SEED_STRIDE, Distributed
from aevb.training.hooks import Hooks
from aevb.training.methods import METHODS
from aevb.training.objectives import OBJECTIVES
from aevb.training.optim import make_optimizer
from aevb.training.placement import data_placement
from aevb.training.schedules import SCHEDULES

NO_CONFIG = "NO_CONFIG.txt"
"""The file a run directory holds instead of ``config.toml`` when its model was built by hand (no config describes
it)."""
HAND_BUILT_NOTE = (
    "This run's model was built by hand in Python, so no config.toml describes it: aevb commands that rebuild the\n"
    "model from the run directory (evaluate, sample, plot, report, train --resume) cannot use it. The weights are in\n"
    "model.safetensors; build the same model again and load them with safetensors.torch.load_model, or build the\n"
    "model with aevb.build_model(aevb.ModelConfig(...), ...) so that the run records its config.\n"
)
"""The text of ``NO_CONFIG.txt``: which aevb commands cannot use such a run, and how to use its weights."""


def check_compatible(model: GenerativeModel, data: TensorData) -> None:
    """Check that data match the model's input shape and the likelihood's support (e.g. [0, 1] for Bernoulli).

    Parameters
    ----------
    model : GenerativeModel
        The model to be trained or evaluated on ``data``.
    data : TensorData
        The data.

    Raises
    ------
    DataError
        If the datapoints' shape is not the model's ``event_shape`` (a wrong input dimension), or the data are empty,
        not finite or outside the likelihood's support.
    """
    if tuple(data.event_shape) != tuple(model.event_shape):
        raise DataError(
            f"wrong input dimension: the model expects datapoints of shape {tuple(model.event_shape)}, "
            f"the data {data.name!r} has shape {tuple(data.event_shape)}"
        )
    check_data(data.x, support=model.decoder.family.support)


@dataclass
class FitResult:
    """What training returns: the logged records, whether it was interrupted, and the optimizer steps taken.

    Parameters
    ----------
    history : list of dict, default []
        The run's records, one per epoch (and a second stage's), as written to ``metrics.jsonl``: ``epoch``,
        ``step``, ``train_bound`` (nats per datapoint), ``test_elbo`` …
    interrupted : bool, default False
        Whether training stopped on Ctrl-C before the end (a checkpoint was saved; continue with ``resume``).
    step : int, default 0
        The optimizer steps taken so far.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    step: int = 0


class Trainer:
    """Fits ``model`` on ``train`` by maximizing the configured bound; evaluates on ``test``; writes ``run_dir``.

    Minibatch SGVB (Kingma & Welling 2014, Algorithm 1) or the update rule ``config.method`` names, on the training
    data held in memory, minibatches drawn from the trainer's own seeded generator. Under torchrun each process joins
    the process group and trains on its slice of every minibatch.

    Parameters
    ----------
    model : GenerativeModel
        The model to train; it is moved to the configured device.
    train : TensorData
        The training data; its datapoints must match the model's ``event_shape`` and the likelihood's support.
    config : TrainConfig
        How the model is fitted: objective, method, optimizer, epochs or steps, seed, device, evaluation and
        checkpoints.
    test : TensorData or None, default None
        Held-out data whose ELBO is evaluated every ``config.eval_every`` epochs and at the end (when
        ``eval_every`` > 0 and the model has an ELBO); None: no test evaluation.
    run_dir : str or Path or None, default None
        The run directory to write: ``config.toml``, ``metrics.jsonl``, ``checkpoints/``, TensorBoard logs (when
        installed) and the trained model; None: nothing is written.
    full_config : Config or None, default None
        The whole config written as ``config.toml``; None: built from ``model.config`` and ``config`` when the model
        has a config, else ``NO_CONFIG.txt`` is written instead.
    callbacks : list of Hooks or None, default None
        Epoch-end hooks run after the default ones (``aevb.training.callbacks.default_callbacks``); they may add keys
        to the epoch's record.

    Attributes
    ----------
    model : GenerativeModel
        The model being trained, on ``device``.
    device : torch.device
        The device training runs on.
    history : list of dict
        The records logged so far.
    epoch : int
        The epochs finished.
    step : int
        The optimizer steps taken.

    Raises
    ------
    ConfigError
        If ``config.method`` cannot run data-parallel and the trainer runs under torchrun with several processes, or
        ``config.method`` or ``config.objective`` is not a known name.
    """

    def __init__(
        self,
        model: GenerativeModel,
        train: TensorData,
        config: TrainConfig,
        test: TensorData | None = None,
        run_dir: str | Path | None = None,
        full_config: Config | None = None,
        callbacks: list[Hooks] | None = None,
    ) -> None:
        check_compatible(model, train)
        if test is not None:
            check_compatible(model, test)
        self.config = config
        self.device = resolve_device(config.device)
        if self.device.type == "cpu":
            tune_cpu_allocator()  # reuse freed activation buffers instead of page-faulting new ones every step
        # Under torchrun: join the process group; each rank trains on its slice of every minibatch (distributed.py).
        self.dist = Distributed.from_env(self.device)
        self.device = self.dist.device
        self.model = model.to(self.device)
        self.train_data = train
        self.test_data = test
        self.run_dir = Path(run_dir) if run_dir else None
        self.full_config = full_config
        self.objective = OBJECTIVES.get(config.objective)(config)
        # The console line calls the logged train_bound what it is: a bound, or another objective (a loss).
        self._train_label = "train bound" if self.objective.is_bound else "train objective"
        self.optimizer = make_optimizer(
            config.optimizer, model.parameters(), config.lr, config.weight_decay, betas=config.betas, eps=config.eps
        )
        self.dist.attach(self.model, self.optimizer)
        nbytes = train.x.nbytes + (0 if train.x_scale is None else train.x_scale.nbytes)
        # Already there (a user's tensors on the GPU): nothing to decide or copy. The model's device has an index
        # ("cuda:0") where self.device may not ("cuda"), and a tensor's always has one.
        if train.x.device == module_device(self.model):
            self.resident, placement = True, ""
        else:
            self.resident, placement = data_placement(nbytes, self.device)
        if placement and config.progress and self.dist.is_main:
            print(placement, flush=True)
        self.x = self._place(train.x)
        self.x_scale = None if train.x_scale is None else self._place(train.x_scale)
        labels = train.y
        if config.labels_per_class or config.labeled:  # semi-supervised: the other labels never reach the model
            labels = hide_labels(train.y, config.labels_per_class, config.labeled, config.seed, train.name)
        self.context = labels_to_context(model, None if labels is None else labels.to(self.device))
        # The shuffling generator lives on the CPU; dynamic binarization draws on the data's device.
        self.shuffle_gen = torch.Generator().manual_seed(config.seed)
        self.data_gen = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        # The posterior samples ε come from the global RNG (``rsample``); training runs it in a fork seeded from
        # here, so a run's random stream depends on its seed alone and the checkpoint captures it.
        self._torch_rng = torch.Generator().manual_seed(self._rng_seed()).get_state()
        self._cuda_rng: torch.Tensor | None = None
        self.epoch, self.batch_index, self.step = 0, 0, 0
        self.perm: torch.Tensor | None = None
        self.epoch_sum, self.epoch_count = 0.0, 0
        # On an accelerator the steps' bound sums are added up on the device and read once in a while (a read waits
        # for the device: once per step it would serialize host and device); on the CPU, and under torchrun (whose
        # per-step all-reduce carries the stop flag), each step's sum is read at once.
        self.defer_sync = self.device.type != "cpu" and not self.dist.active
        self._pending: torch.Tensor | None = None
        self._pending_from = 0
        self.history: list[dict[str, Any]] = []
        self.writer = None
        self.stop_requested = False
        # Set by an epoch-end hook (early stopping): no epoch follows, and this one is checkpointed as the last. One
        # process only (it is not reduced across torchrun's ranks, nor saved in checkpoints).
        self.finished = False
        # Epoch-end hooks (aevb.training.callbacks): extra metrics and pictures; they may add keys to the record.
        self.callbacks = [*default_callbacks(config), *(callbacks or [])]
        # The update rule (--method): AEVB's SGVB step, Wake-Sleep or MCEM; it may add state and rename logged keys.
        self.batch_rows: torch.Tensor | None = None  # training-set rows of the current minibatch
        method = METHODS.get(config.method)
        if self.dist.active and not method.data_parallel:
            raise ConfigError(
                f"--method {config.method} cannot run data-parallel (torchrun with {self.dist.world} processes); "
                f"use one process, or one of: {', '.join(n for n in METHODS if METHODS.get(n).data_parallel)}"
            )
        self.method = method(self)
        self.objective.bind(self)
        # The method and the objective log metrics of their own (MCEM's step size, the VQ-VAE's codebook usage).
        self.callbacks += [self.method, self.objective]

    @property
    def has_encoder_bound(self) -> bool:
        """Whether the ELBO and its terms mean something for this run.

        They do when the model has variational-bound terms (the VQ-VAE evaluates itself in its objective's callback)
        and the method trains the encoder (MCEM does not).
        """
        return is_variational(self.model) and self.method.trains_encoder

    def _rng_seed(self) -> int:
        """Seed of this rank's posterior-noise stream (rank 0, and a one-process run: seed + 2).

        Returns
        -------
        int
            ``seed + 2 + RANK_SEED_STRIDE · rank``.
        """
        return self.config.seed + 2 + RANK_SEED_STRIDE * self.dist.rank

    # --- checkpoint state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds, so that training resumes exactly where it stopped.

        Under torchrun it gathers every rank's RNG state (a collective): call it on every rank.

        Returns
        -------
        dict
            The model's and the optimizer's state, the position (``epoch``, ``batch_index``, ``step``, the epoch's
            permutation ``perm``, the running ``epoch_sum`` and ``epoch_count``), the shuffling, data and global RNG
            states (per rank under torchrun; CUDA's too on a CUDA device) and the method's state.
        """
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "batch_index": self.batch_index,
            "step": self.step,
            "perm": self.perm,
            "epoch_sum": self.epoch_sum,
            "epoch_count": self.epoch_count,
            "shuffle_rng": self.shuffle_gen.get_state(),
            "data_rng": self.data_gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "torch_rng_ranks": self.dist.gather_rng(torch.get_rng_state()),  # None in one process
            "method": self.method.state_dict(),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
            state["cuda_rng_ranks"] = self.dist.gather_rng(state["cuda_rng"])
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from ``state_dict`` (e.g. read by ``load_checkpoint``).

        The global RNG states are applied when ``fit`` starts; under torchrun each rank takes its own.

        Parameters
        ----------
        state : dict
            A state as ``state_dict`` returns it.
        """
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.batch_index, self.step = state["epoch"], state["batch_index"], state["step"]
        self.perm = state["perm"]
        self.epoch_sum, self.epoch_count = state["epoch_sum"], state["epoch_count"]
        self.shuffle_gen.set_state(state["shuffle_rng"])
        self.data_gen.set_state(state["data_rng"])
        self._torch_rng = self.dist.pick_rng(state)
        self._cuda_rng = state.get("cuda_rng")
        if state.get("cuda_rng_ranks") is not None:
            self._cuda_rng = state["cuda_rng_ranks"][self.dist.rank].clone()
        self.method.load_state_dict(state.get("method", {}))

    def save_checkpoint(self) -> None:
        """Write ``run_dir/checkpoints/last.pt`` (on rank 0), atomically; without ``run_dir`` nothing is written.

        The epoch's bound sum so far is read from the device first and goes into the checkpoint (a non-finite one
        raises ``TrainingError`` and is never saved). Under torchrun it is a collective: call it on every rank.
        """
        self._read_epoch_sum()  # the epoch's sum so far goes into the checkpoint, and a non-finite one never does
        if self.run_dir is not None:
            state = self.state_dict()  # on every rank: gathering the ranks' RNG states is a collective
            if self.dist.is_main:
                save_checkpoint(state, self.run_dir / "checkpoints")
            self.dist.barrier()

    def resume(self) -> None:
        """Continue from ``run_dir/checkpoints/last.pt``; metrics logged after that checkpoint are dropped.

        The records after the checkpoint's step are dropped from ``history`` and from ``metrics.jsonl``. Needs
        ``run_dir``; a missing or defective checkpoint raises ``CheckpointError``.
        """
        assert self.run_dir is not None
        self.load_state_dict(load_checkpoint(self.run_dir / "checkpoints"))
        metrics = self.run_dir / "metrics.jsonl"
        if metrics.exists():
            kept = [line for line in metrics.read_text().splitlines() if json.loads(line)["step"] <= self.step]
            self.history = [json.loads(line) for line in kept]
            if self.dist.is_main:
                metrics.write_text("".join(line + "\n" for line in kept))

    # --- the loop --------------------------------------------------------------------------------------------
    def _place(self, data: torch.Tensor) -> torch.Tensor:
        """Training data on the device (resident), or on the CPU, each minibatch copied by ``_batch``.

        The whole set is not pinned: it is too large for the device by then, and page-locking that much host memory
        can fail or starve the machine; a minibatch gathered from it would not be pinned anyway.

        Returns
        -------
        torch.Tensor
            ``data`` on the device, or on the CPU.
        """
        return data.to(self.device) if self.resident else data.cpu()

    def _batch(self, data: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` of ``data`` on the device.

        Gathered there (resident), or gathered on the CPU into pinned memory (torch's host allocator reuses those
        blocks and keeps each until its copy is done) and copied without waiting.

        Returns
        -------
        torch.Tensor
            The minibatch, on the device.
        """
        batch = data[idx]
        if self.resident:
            return batch
        if self.device.type == "cuda":
            batch = batch.pin_memory()
        return batch.to(self.device, non_blocking=True)

    def _add_to_epoch(self, total: torch.Tensor) -> None:
        """Add one step's bound sum to the epoch's, on the device (read later by ``_read_epoch_sum``)."""
        # A copy, never the step's own output: a CUDA-graph replay (compile_mode = "reduce-overhead") overwrites that.
        total = torch.as_tensor(total, device=self.device).detach().to(torch.float64, copy=True)
        if self._pending is None:
            self._pending, self._pending_from = total, self.step
        else:
            self._pending += total

    def _read_epoch_sum(self) -> None:
        """Bring the steps' sums added on the device to ``epoch_sum`` (one host sync) and check that they are finite.

        Called before a checkpoint is written, when the progress bar shows the bound, and at the end of the epoch.

        Raises
        ------
        TrainingError
            If the training bound became non-finite (the last good checkpoint is kept).
        """
        if self._pending is None:
            return
        value, first = float(self._pending), self._pending_from + 1
        self._pending = None
        if not math.isfinite(value):
            raise TrainingError(
                f"the training bound became non-finite ({value}) at epoch {self.epoch + 1}, in steps "
                f"{first}–{self.step}; the last good checkpoint is kept. Try a lower --lr, or a larger min_variance "
                "for Gaussian data."
            )
        self.epoch_sum += value

    def _batches_per_epoch(self) -> int:
        return math.ceil(self.x.shape[0] / self.config.batch_size)

    def _budget_spent(self) -> bool:
        """Whether the optimizer-step budget (``steps``; 0: none) is used up.

        Returns
        -------
        bool
            True when ``config.steps`` > 0 and that many steps were taken.
        """
        return bool(self.config.steps) and self.step >= self.config.steps

    def train_step(self, xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        """One update by the configured method; returns the minibatch sum of its training metric.

        Parameters
        ----------
        xb : torch.Tensor
            This process's minibatch, ``[b, *event_shape]``, on the device, after the data's batch transform (e.g.
            dynamic binarization).
        cb : torch.Tensor or None
            The minibatch's context rows (a conditional model's labels), or None.

        Returns
        -------
        torch.Tensor
            The sum over the minibatch of the method's training metric (e.g. the bound, in nats).
        """
        return self.method.step(xb, cb)

    def fit(self) -> FitResult:
        """Train until ``config.epochs`` epochs or ``config.steps`` optimizer steps are done, or Ctrl-C.

        The posterior noise comes from a fork of the global RNG seeded from the trainer (restored from a checkpoint on
        resume). Ctrl-C stops between steps and saves a checkpoint; otherwise the method's and the objective's second
        stage runs (e.g. the VQ-VAE's PixelCNN prior) and, with ``run_dir``, rank 0 writes the trained model there. A
        non-finite training bound raises ``TrainingError`` (the last good checkpoint is kept).

        Returns
        -------
        FitResult
            The logged records, whether training was interrupted, and the optimizer steps taken.
        """
        cfg = self.config
        self.model.train()
        if self.run_dir is not None:
            self._open_run_dir()
        try:
            # fp32_arithmetic: process-wide flags, so set here, outside the compiled step, for forward and backward.
            with self._defer_sigint(), fork_rng(self.device), fp32_arithmetic(self.device, cfg.precision):
                torch.set_rng_state(self._torch_rng)
                if self.device.type == "cuda":
                    if self._cuda_rng is None:
                        with torch.cuda.device(self.device):  # the run's GPU, not whichever is current
                            torch.cuda.manual_seed(self._rng_seed())
                    else:
                        torch.cuda.set_rng_state(self._cuda_rng, self.device)
                while self.epoch < cfg.epochs and not (self.stop_requested or self.finished or self._budget_spent()):
                    self._run_epoch()
                if self.stop_requested:
                    self.save_checkpoint()
                else:  # a second stage, e.g. the VQ-VAE's PixelCNN prior
                    self.method.after_fit(self)
                    self.objective.after_fit(self)
        finally:
            if self.writer is not None:
                self.writer.close()
        if self.stop_requested:
            where = (
                f" (checkpoint saved in {self.run_dir / 'checkpoints'}; continue with --resume)" if self.run_dir else ""
            )
            if self.dist.is_main:
                print(f"\ninterrupted at epoch {self.epoch + 1}, step {self.step}{where}")
            return FitResult(self.history, interrupted=True, step=self.step)
        if self.run_dir is not None and self.dist.is_main:
            save_model(self.model, self.run_dir)
        return FitResult(self.history, step=self.step)

    @contextlib.contextmanager
    def _defer_sigint(self) -> Iterator[None]:
        """Ctrl-C sets a flag checked between steps, so the checkpoint never holds a half-applied step."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum: int, frame: Any) -> None:
            self.stop_requested = True

        previous = signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _run_epoch(self) -> None:
        cfg = self.config
        n_batches = self._batches_per_epoch()
        if self.perm is None:
            self.perm = torch.randperm(self.x.shape[0], generator=self.shuffle_gen)
        perm = self.perm.to(self.device)
        host_perm = perm if self.resident else self.perm  # where the data are indexed
        for group in self.optimizer.param_groups:  # a function of the epoch alone: exact on resume
            group["lr"] = SCHEDULES.get(cfg.lr_schedule)(cfg.lr, self.epoch)
        start = time.perf_counter()
        bar = tqdm(
            total=n_batches,
            initial=self.batch_index,
            desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
            # per-epoch lines only in logs, and only rank 0 draws a bar
            disable=not cfg.progress or not sys.stderr.isatty() or not self.dist.is_main,
            leave=False,
            dynamic_ncols=True,
        )
        while self.batch_index < n_batches and not self.stop_requested and not self._budget_spent():
            window = slice(self.batch_index * cfg.batch_size, (self.batch_index + 1) * cfg.batch_size)
            idx, data_idx = perm[window], host_perm[window]
            scale = None if self.x_scale is None else self._batch(self.x_scale, data_idx)
            xb = self.train_data.transform_batch(self._batch(self.x, data_idx), self.data_gen, scale)
            cb = None if self.context is None else self.context[idx]
            rows, xb, cb = self.dist.shard(idx, xb, cb)  # this rank's slice (all of it in one process)
            self.batch_rows = rows
            # A rank whose slice of a short last batch is empty still joins the gradient all-reduce.
            total = self.train_step(xb, cb) if rows.numel() else self.dist.empty_step(self.optimizer)
            if self.defer_sync:
                self._add_to_epoch(total)
            else:
                total, self.stop_requested = self.dist.reduce_step(float(total), self.stop_requested)
                if not math.isfinite(total):
                    raise TrainingError(
                        f"the training bound became non-finite ({total}) at epoch {self.epoch + 1}, step "
                        f"{self.step + 1}; the last good checkpoint is kept. Try a lower --lr, or a larger "
                        "min_variance for Gaussian data."
                    )
                self.epoch_sum += total
            self.epoch_count += idx.shape[0]
            self.batch_index += 1
            self.step += 1
            if cfg.checkpoint_steps and self.step % cfg.checkpoint_steps == 0 and self.batch_index < n_batches:
                self.save_checkpoint()  # mid-epoch: the position in the epoch and its permutation are saved too
            bar.update(1)
            if self.step % 10 == 0 and not bar.disable:
                self._read_epoch_sum()
                bar.set_postfix(bound=f"{self.epoch_sum / self.epoch_count:.2f}")
        bar.close()
        self._read_epoch_sum()
        if self.stop_requested:
            return
        record = {
            "epoch": self.epoch + 1,
            "step": self.step,
            "samples_seen": self.step * cfg.batch_size,
            "train_bound": self.epoch_sum / max(self.epoch_count, 1),
            "epoch_seconds": time.perf_counter() - start,
        }
        self.epoch += 1
        self.batch_index, self.perm, self.epoch_sum, self.epoch_count = 0, None, 0.0, 0
        last = self.epoch == cfg.epochs or self._budget_spent()  # a step budget ends training mid-epoch
        if (
            self.test_data is not None
            and cfg.eval_every
            and self.has_encoder_bound
            and (self.epoch % cfg.eval_every == 0 or last)
        ):
            ev = evaluate(
                self.model,
                self.test_data.x,
                context=labels_to_context(self.model, self.test_data.y),
                elbo_samples=cfg.eval_samples,
                seed=cfg.seed,
                precision=cfg.precision,
            )
            record["test_elbo"] = ev.elbo
            if ev.classification_error is not None:  # M2: its classifier's test error
                record["test_error"] = ev.classification_error
        for callback in self.callbacks:
            callback.on_epoch_end(self, record)
        self.log(record)
        last = last or self.finished  # a hook ended training (early stopping)
        if self.run_dir is not None and (last or (cfg.checkpoint_every and self.epoch % cfg.checkpoint_every == 0)):
            self.save_checkpoint()

    # --- logging ---------------------------------------------------------------------------------------------
    def _open_run_dir(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.dist.is_main:
            return
        config = self.full_config
        if config is None and self.model.config is not None:  # a model built from a config (aevb.fit from Python)
            config = Config(model=self.model.config, train=dataclasses.replace(self.config, out=str(self.run_dir)))
        if config is not None:
            write_text_atomic(self.run_dir / "config.toml", config.to_toml())
        else:
            write_text_atomic(self.run_dir / NO_CONFIG, HAND_BUILT_NOTE)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        except ImportError:  # TensorBoard is optional
            self.writer = None

    def log(self, record: dict[str, Any], message: str | None = None) -> None:
        """The one sink of every record of the run (each epoch's, and a second stage's).

        The record goes to the history, the console line, ``metrics.jsonl`` and TensorBoard, written by rank 0 only.

        Parameters
        ----------
        record : dict
            The record: ``epoch``, ``step`` and the logged values (TensorBoard plots each value but ``epoch`` and
            ``step`` against ``step``).
        message : str or None, default None
            The console line; None: the epoch line (train bound and test ELBO in nats).
        """
        self.history.append(record)
        msg = message or _epoch_message(record, self._train_label)
        if self.config.progress and self.dist.is_main:
            print(msg, flush=True)
        if self.run_dir is not None and self.dist.is_main:
            with open(self.run_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
        if self.writer is not None and self.dist.is_main:
            for key, value in record.items():
                if key not in ("epoch", "step"):
                    self.writer.add_scalar(key, value, record["step"])


def _epoch_message(record: dict[str, Any], label: str = "train bound") -> str:
    # MCEM logs train_log_joint instead of a bound (aevb.training.mcem).
    what = label if "train_bound" in record else "train log p(x,z)"
    train = record.get("train_bound", record.get("train_log_joint", math.nan))
    msg = f"epoch {record['epoch']:4d}  step {record['step']:7d}  {what} {train:9.3f} nats"
    if "test_elbo" in record:
        msg += f"  test ELBO {record['test_elbo']:9.3f} nats"
    return msg


def as_data(rows: TensorData | np.ndarray | torch.Tensor, name: str) -> TensorData:
    """``rows`` as ``TensorData``: itself, or an array/tensor of rows (float32, no labels) named ``name``.

    Parameters
    ----------
    rows : TensorData or numpy.ndarray or torch.Tensor
        ``TensorData``, or the rows themselves, ``[N, *event_shape]`` (numbers).
    name : str
        The name of the data (e.g. ``"train"``), used in error messages.

    Returns
    -------
    TensorData
        ``rows`` itself, or new ``TensorData`` of the rows as float32 without labels.

    Raises
    ------
    DataError
        If ``rows`` is not ``TensorData``, a NumPy array or a tensor, an array does not hold numbers, or it has fewer
        than 2 dimensions (it must hold rows, ``[N, *event_shape]``).
    """
    if isinstance(rows, TensorData):
        return rows
    if isinstance(rows, np.ndarray):
        if not (np.issubdtype(rows.dtype, np.number) or rows.dtype == np.bool_):
            raise DataError(f"{name} must hold numbers; got a NumPy array of dtype {rows.dtype}")
        rows = torch.from_numpy(np.ascontiguousarray(rows))
    if not isinstance(rows, torch.Tensor):
        raise DataError(f"{name} must be TensorData, a NumPy array or a tensor of rows; got {type(rows).__name__}")
    if rows.dim() < 2:
        raise DataError(f"{name} must hold rows, [N, *event_shape]; got shape {list(rows.shape)}")
    return TensorData(rows.float(), None, name=name)


def fit(
    model: GenerativeModel,
    train: TensorData | np.ndarray | torch.Tensor,
    config: TrainConfig | None = None,
    *,
    test: TensorData | np.ndarray | torch.Tensor | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    **overrides: Any,
) -> FitResult:
    """Train ``model`` on ``train``. ``overrides`` are ``TrainConfig`` fields (``epochs=5, lr=1e-3``).

    With ``run_dir`` the run directory is the CLI's: ``config.toml`` (the model's config and this training config,
    whose ``dataset`` defaults to ``train.name``), the model files, ``metrics.jsonl`` and checkpoints, so ``aevb
    evaluate`` and ``aevb train --resume`` work on it. A model built by hand (without a config) gets
    ``NO_CONFIG.txt`` instead of ``config.toml``. A directory that already holds a run is refused (``ConfigError``)
    unless ``resume`` or ``overwrite``.

    Parameters
    ----------
    model : GenerativeModel
        The model to train (e.g. from ``aevb.build_model``).
    train : TensorData or numpy.ndarray or torch.Tensor
        The training data: ``TensorData``, or an array or tensor ``[N, *event_shape]`` of the rows themselves.
    config : TrainConfig or None, default None
        The training config; None: ``TrainConfig``'s defaults. Its ``dataset``, when left at the default, becomes
        ``train.name``: the run directory records the data the model was trained on.
    test : TensorData or numpy.ndarray or torch.Tensor or None, default None
        Held-out data (as ``train``) whose ELBO is evaluated during training; None: no test evaluation.
    run_dir : str or Path or None, default None
        The run directory to write; None: nothing is written.
    resume : bool, default False
        Continue the run in ``run_dir`` from its last checkpoint (needs ``run_dir``).
    overwrite : bool, default False
        Remove the files of an earlier run in ``run_dir`` before training.
    **overrides : Any
        ``TrainConfig`` fields that replace those of ``config`` (``epochs=5, lr=1e-3``).

    Returns
    -------
    FitResult
        The logged records (``history``), whether training was interrupted, and the optimizer steps taken.

    Raises
    ------
    ConfigError
        If ``resume`` is asked for without a ``run_dir``.
    """
    if resume and run_dir is None:
        raise ConfigError("resume=True continues a run directory: pass run_dir= (the folder of the run to continue)")
    train, test = as_data(train, "train"), None if test is None else as_data(test, "test")
    base = dict(config.__dict__) if config is not None else {}
    if base.get("dataset", TrainConfig.dataset) == TrainConfig.dataset:  # not chosen: name the data trained on, so
        base["dataset"] = train.name  # the run's config.toml does not send `aevb evaluate RUN` to the default dataset
    config = section_from_dict(TrainConfig, {**base, **overrides})
    if run_dir is not None:
        claim_run_dir(run_dir, resume=resume, overwrite=overwrite)
    trainer = Trainer(model, train, config, test=test, run_dir=run_dir)
    if resume:
        trainer.resume()
    return trainer.fit()
