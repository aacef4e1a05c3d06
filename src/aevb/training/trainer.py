"""The training loop: minibatch SGVB (Kingma & Welling 2014, Algorithm 1) with checkpoints and exact resume.

All data lives in memory as one tensor; a minibatch is an index into it, drawn from the trainer's own seeded
generator, so there is no per-sample Python and the random stream is fully captured by the checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aevb.config import Config, TrainConfig
from aevb.data import TensorData, check_data
from aevb.errors import DataError, TrainingError
from aevb.evaluation import evaluate
from aevb.io import save_model
from aevb.training.checkpoint import load_checkpoint, save_checkpoint
from aevb.training.objectives import OBJECTIVES
from aevb.training.optim import make_optimizer


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def labels_to_context(model: nn.Module, y: torch.Tensor | None) -> torch.Tensor | None:
    """Conditional models turn labels into their context (``model.make_context``); others take none."""
    make_context = getattr(model, "make_context", None)
    if make_context is None:
        return None
    if y is None:
        raise DataError("this model is conditional and needs labels, but the dataset has none")
    return make_context(y)


def check_compatible(model: nn.Module, data: TensorData) -> None:
    """Data must match the model's input shape and the likelihood's support (e.g. [0, 1] for Bernoulli)."""
    if tuple(data.event_shape) != tuple(model.event_shape):
        raise DataError(
            f"wrong input dimension: the model expects datapoints of shape {tuple(model.event_shape)}, "
            f"the data {data.name!r} has shape {tuple(data.event_shape)}"
        )
    family = getattr(getattr(model, "decoder", None), "family", None)
    check_data(data.x, support=getattr(family, "support", "real"))


@dataclass
class FitResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    step: int = 0


class Trainer:
    """Fits ``model`` on ``train`` by maximizing the configured bound; evaluates on ``test``; writes ``run_dir``."""

    def __init__(
        self,
        model: nn.Module,
        train: TensorData,
        config: TrainConfig,
        test: TensorData | None = None,
        run_dir: str | Path | None = None,
        full_config: Config | None = None,
    ) -> None:
        config.validate()
        check_compatible(model, train)
        if test is not None:
            check_compatible(model, test)
        self.config = config
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.train_data = train
        self.test_data = test
        self.run_dir = Path(run_dir) if run_dir else None
        self.full_config = full_config
        self.objective = OBJECTIVES.get(config.objective)(config)
        self.optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)
        self.x = train.x.to(self.device)
        self.context = labels_to_context(model, None if train.y is None else train.y.to(self.device))
        # The shuffling generator lives on the CPU; dynamic binarization draws on the data's device.
        self.shuffle_gen = torch.Generator().manual_seed(config.seed)
        self.data_gen = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        # The posterior samples ε come from the global RNG (``rsample``); training runs it in a fork seeded from
        # here, so a run's random stream depends on its seed alone and the checkpoint captures it.
        self._torch_rng = torch.Generator().manual_seed(config.seed + 2).get_state()
        self._cuda_rng: torch.Tensor | None = None
        self.epoch, self.batch_index, self.step = 0, 0, 0
        self.perm: torch.Tensor | None = None
        self.epoch_sum, self.epoch_count = 0.0, 0
        self.history: list[dict[str, Any]] = []
        self.writer = None
        self._stop_requested = False

    # --- checkpoint state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
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
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.batch_index, self.step = state["epoch"], state["batch_index"], state["step"]
        self.perm = state["perm"]
        self.epoch_sum, self.epoch_count = state["epoch_sum"], state["epoch_count"]
        self.shuffle_gen.set_state(state["shuffle_rng"])
        self.data_gen.set_state(state["data_rng"])
        self._torch_rng = state["torch_rng"]
        self._cuda_rng = state.get("cuda_rng")

    def save_checkpoint(self) -> None:
        if self.run_dir is not None:
            save_checkpoint(self.state_dict(), self.run_dir / "checkpoints")

    def resume(self) -> None:
        """Continue from ``run_dir/checkpoints/last.pt``; metrics logged after that checkpoint are dropped."""
        assert self.run_dir is not None
        self.load_state_dict(load_checkpoint(self.run_dir / "checkpoints"))
        metrics = self.run_dir / "metrics.jsonl"
        if metrics.exists():
            kept = [line for line in metrics.read_text().splitlines() if json.loads(line)["step"] <= self.step]
            self.history = [json.loads(line) for line in kept]
            metrics.write_text("".join(line + "\n" for line in kept))

    # --- the loop --------------------------------------------------------------------------------------------
    def _batches_per_epoch(self) -> int:
        return math.ceil(self.x.shape[0] / self.config.batch_size)

    def _param_prior(self) -> torch.Tensor:
        """−log N(θ; 0, I)/N up to a constant: the paper's parameter prior, spread over the N datapoints."""
        return 0.5 * sum(p.pow(2).sum() for p in self.model.parameters()) / self.x.shape[0]

    def train_step(self, xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16"):
            bound = self.objective(self.model, xb, cb)
        loss = -bound.mean()
        if self.config.param_prior:
            loss = loss + self._param_prior()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return bound.detach().sum()

    def fit(self) -> FitResult:
        cfg = self.config
        self.model.train()
        if self.run_dir is not None:
            self._open_run_dir()
        cuda = [self.device] if self.device.type == "cuda" else []
        try:
            with self._defer_sigint(), torch.random.fork_rng(devices=cuda):
                torch.set_rng_state(self._torch_rng)
                if cuda:
                    if self._cuda_rng is None:
                        torch.cuda.manual_seed(cfg.seed + 2)
                    else:
                        torch.cuda.set_rng_state(self._cuda_rng, self.device)
                while self.epoch < cfg.epochs and not self._stop_requested:
                    self._run_epoch()
                if self._stop_requested:
                    self.save_checkpoint()
        finally:
            if self.writer is not None:
                self.writer.close()
        if self._stop_requested:
            where = f" (checkpoint saved in {self.run_dir / 'checkpoints'}; continue with --resume)"
            print(f"\ninterrupted at epoch {self.epoch + 1}, step {self.step}{where if self.run_dir else ''}")
            return FitResult(self.history, interrupted=True, step=self.step)
        if self.run_dir is not None:
            save_model(self.model, self.run_dir)
        return FitResult(self.history, step=self.step)

    @contextlib.contextmanager
    def _defer_sigint(self) -> Iterator[None]:
        """Ctrl-C sets a flag checked between steps, so the checkpoint never holds a half-applied step."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum: int, frame: Any) -> None:
            self._stop_requested = True

        previous = signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _run_epoch(self) -> None:
        from tqdm.auto import tqdm

        cfg = self.config
        n_batches = self._batches_per_epoch()
        if self.perm is None:
            self.perm = torch.randperm(self.x.shape[0], generator=self.shuffle_gen)
        perm = self.perm.to(self.device)
        start = time.perf_counter()
        bar = tqdm(
            total=n_batches,
            initial=self.batch_index,
            desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
            disable=not cfg.progress,
            leave=False,
            dynamic_ncols=True,
        )
        while self.batch_index < n_batches and not self._stop_requested:
            idx = perm[self.batch_index * cfg.batch_size : (self.batch_index + 1) * cfg.batch_size]
            xb = self.train_data.transform_batch(self.x[idx], self.data_gen)
            cb = None if self.context is None else self.context[idx]
            total = self.train_step(xb, cb)
            total = float(total)
            if not math.isfinite(total):
                raise TrainingError(
                    f"the training bound became non-finite ({total}) at epoch {self.epoch + 1}, step {self.step + 1}; "
                    "the last good checkpoint is kept. Try a lower --lr, or a larger min_variance for Gaussian data."
                )
            self.epoch_sum += total
            self.epoch_count += idx.shape[0]
            self.batch_index += 1
            self.step += 1
            bar.update(1)
            if self.step % 10 == 0:
                bar.set_postfix(bound=f"{self.epoch_sum / self.epoch_count:.2f}")
        bar.close()
        if self._stop_requested:
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
        last = self.epoch == cfg.epochs
        if self.test_data is not None and cfg.eval_every and (self.epoch % cfg.eval_every == 0 or last):
            ev = evaluate(
                self.model,
                self.test_data.x,
                context=labels_to_context(self.model, self.test_data.y),
                elbo_samples=cfg.eval_samples,
                seed=cfg.seed,
                precision=cfg.precision,
            )
            record["test_elbo"] = ev.elbo
        self._log(record)
        if self.run_dir is not None and (last or (cfg.checkpoint_every and self.epoch % cfg.checkpoint_every == 0)):
            self.save_checkpoint()

    # --- logging ---------------------------------------------------------------------------------------------
    def _open_run_dir(self) -> None:
        from aevb.atomic import write_text_atomic

        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.full_config is not None:
            write_text_atomic(self.run_dir / "config.toml", self.full_config.to_toml())
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        except ImportError:  # TensorBoard is optional
            self.writer = None

    def _log(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        msg = f"epoch {record['epoch']:4d}  step {record['step']:7d}  train bound {record['train_bound']:9.3f} nats"
        if "test_elbo" in record:
            msg += f"  test ELBO {record['test_elbo']:9.3f} nats"
        if self.config.progress:
            print(msg, flush=True)
        if self.run_dir is not None:
            with open(self.run_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if key not in ("epoch", "step"):
                    self.writer.add_scalar(key, value, record["step"])


def fit(
    model: nn.Module,
    train: TensorData,
    config: TrainConfig | None = None,
    *,
    test: TensorData | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    **overrides: Any,
) -> FitResult:
    """Train ``model`` on ``train``. ``overrides`` are :class:`TrainConfig` fields (``epochs=5, lr=1e-3``)."""
    from aevb.config import section_from_dict

    base = config.__dict__ if config is not None else {}
    config = section_from_dict(TrainConfig, {**base, **overrides})
    trainer = Trainer(model, train, config, test=test, run_dir=run_dir)
    if resume:
        trainer.resume()
    return trainer.fit()
