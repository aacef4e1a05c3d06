"""What the paper's experiments share: options, the paper's hyper-parameters, training one model into a run
directory (reused when it already holds the same finished run), and writing CSV / markdown.

Hyper-parameters (Kingma & Welling 2014, §5): MLPs with one tanh hidden layer, Adagrad (lr 0.02), minibatches of
M = 100, L = 1 posterior sample, the parameter prior N(0, I) as weight decay, parameters initialized from
N(0, 0.01²); Bernoulli decoder for MNIST, Gaussian decoder with a squashed mean for Frey Face.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aevb.atomic import write_text_atomic
from aevb.config import Config, ModelConfig, TrainConfig
from aevb.data import TensorData, load_dataset
from aevb.errors import ConfigError, Interrupted
from aevb.models import build_model
from aevb.training.methods import METHODS
from aevb.training.trainer import Trainer

PAPER_LR = 0.02
PAPER_BATCH = 100


@dataclass
class Options:
    """The flags of ``aevb reproduce`` (see ``aevb reproduce --help``)."""

    out: str | None = None
    budget: int | None = None  # training samples seen per model; None: the experiment's default
    nz: str | list[int] | None = None  # latent sizes to run; None: the paper's
    seed: int = 0
    data_dir: str = ""
    mnist: str = "mnist"
    frey: str = "frey-faces"
    train_limit: int = 0
    test_limit: int = 0
    device: str = "auto"
    quiet: bool = False
    # fig3: the marginal-likelihood estimator, the points it is estimated on, how many times during training
    estimator: str = "hmc"
    eval_points: int = 1000
    probes: int = 5
    # beta-vae-dsprites: the β values, seeds per β, the step budget, metric points, precision, dataset, networks
    betas: str | list[float] | None = None
    seeds: int | None = None  # None: the experiment's default (beta-vae-dsprites 3, one-class-tabular 5)
    steps: int = 0
    metric_points: int = 2000
    precision: str = "fp32"
    dsprites: str = "dsprites"
    arch: str = "mlp"
    # one-class, one-class-tabular: the datasets (tables), the normal classes, aevb's training epochs (0: default)
    datasets: str | list[str] | None = None
    classes: str | list[int] | None = None
    epochs: int = 0
    validation: bool = False  # one-class: score held-out training images (for choosing), not the test set

    def __post_init__(self) -> None:
        if isinstance(self.datasets, str):
            self.datasets = [d.strip() for d in self.datasets.split(",") if d.strip()]
        if isinstance(self.classes, str):
            try:
                self.classes = [int(c) for c in self.classes.split(",") if c.strip()]
            except ValueError:
                raise ConfigError(f"--classes must be comma-separated integers, got {self.classes!r}") from None
        if self.epochs < 0:
            raise ConfigError(f"--epochs must be >= 0 (0: the experiment's default), got {self.epochs}")
        if self.seeds is not None and self.seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, got {self.seeds}")
        if self.budget is not None and self.budget <= 0:
            raise ConfigError(f"--budget must be a positive number of training samples, got {self.budget}")
        for name in ("eval_points", "probes", "metric_points"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.arch not in ("mlp", "conv"):
            raise ConfigError(f"--arch must be mlp or conv, got {self.arch!r}")
        for name in ("train_limit", "test_limit", "steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0 (0: all), got {getattr(self, name)}")

    def latent_sizes(self, paper: list[int]) -> list[int]:
        """``--nz`` restricted to the paper's sizes for this panel (an empty list if none of them applies)."""
        if self.nz is None:
            return list(paper)
        wanted = self.nz if isinstance(self.nz, list) else [int(v) for v in str(self.nz).replace(",", " ").split()]
        if not wanted or any(v <= 0 for v in wanted):
            raise ConfigError(f"--nz must list positive latent sizes, got {self.nz!r}")
        return [v for v in paper if v in wanted]

    def beta_values(self, default: tuple[float, ...]) -> list[float]:
        """``--betas`` as numbers (each >= 0), or ``default``."""
        if self.betas is None:
            return list(default)
        raw = self.betas if isinstance(self.betas, list) else str(self.betas).replace(",", " ").split()
        try:
            values = [float(v) for v in raw]
        except ValueError:
            raise ConfigError(f"--betas must list numbers >= 0, got {self.betas!r}") from None
        if not values or any(not v >= 0 for v in values):
            raise ConfigError(f"--betas must list numbers >= 0, got {self.betas!r}")
        return values

    def log(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)


def load_split(name: str, split: str, opts: Options, limit: int = 0) -> TensorData:
    data = load_dataset(name, split=split, data_dir=opts.data_dir or None)
    return data.subset(min(limit, len(data))) if limit else data


def load_pair(name: str, opts: Options, n_train: int = 0) -> tuple[TensorData, TensorData]:
    """Train and test split of ``name``, cut to ``--train-limit`` / ``--test-limit`` (and ``n_train``)."""
    limits = [v for v in (opts.train_limit, n_train) if v]
    train = load_split(name, "train", opts, min(limits) if limits else 0)
    return train, load_split(name, "test", opts, opts.test_limit)


def paper_model(latent_dim: int, hidden: int, likelihood: str = "bernoulli") -> ModelConfig:
    """The paper's encoder/decoder: one tanh hidden layer of ``hidden`` units, N(0, 0.01²) initialization."""
    return ModelConfig(latent_dim=latent_dim, hidden=[hidden], activation="tanh", likelihood=likelihood, init_std=0.01)


def quiet_train(opts: Options, dataset: str, epochs: int, **fields: Any) -> TrainConfig:
    """A training config for an experiment's run: ``--data-dir``, ``--seed`` and ``--device`` from the options, no
    progress bar, checkpoint and per-epoch pictures (the experiment draws its own); ``fields`` add or override."""
    base: dict[str, Any] = dict(
        dataset=dataset,
        data_dir=opts.data_dir,
        epochs=epochs,
        seed=opts.seed,
        device=opts.device,
        progress=False,
        checkpoint_every=0,
        picture_epochs=[],
    )
    return TrainConfig(**{**base, **fields})


def paper_train(opts: Options, dataset: str, epochs: int, method: str = "aevb", **overrides: Any) -> TrainConfig:
    """Adagrad, M = 100, L = 1, the N(0, I) parameter prior; evaluation on the test split every epoch."""
    fields: dict[str, Any] = dict(
        batch_size=PAPER_BATCH, samples=1, optimizer="adagrad", lr=PAPER_LR, param_prior=True, terms_points=0
    )
    config = quiet_train(opts, dataset, epochs, **{**fields, **overrides})
    if method != "aevb":
        set_method(config, method)
    return config


def set_method(config: TrainConfig, method: str) -> None:
    """Select a training method (``aevb``, ``wake-sleep``, ``mcem``) by name; an unknown name is an error listing
    the registered ones."""
    METHODS.get(method)
    config.method = method


def epochs_for(budget: int, n_train: int) -> int:
    """Whole epochs that see about ``budget`` training samples (at least one)."""
    return max(1, round(budget / max(n_train, 1)))


@dataclass
class RunResult:
    name: str
    run_dir: Path
    history: list[dict[str, Any]]
    seconds: float
    reused: bool = False

    def last(self, key: str) -> float:
        values = [r[key] for r in self.history if r.get(key) is not None]
        return values[-1] if values else math.nan


def train_run(
    name: str,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    train: TensorData,
    test: TensorData,
    root: Path,
    opts: Options,
    callbacks: list[Any] | None = None,
) -> RunResult:
    """Train one model into ``root/runs/name`` (a normal run directory: ``aevb plot`` and ``aevb report`` work on
    it). What is already there is used when it can be:

    - a finished run of the same config and data sizes is reused as it is;
    - an unfinished one (an experiment stopped by Ctrl-C, a kill or the end of a session) is continued from its last
      checkpoint, exactly as ``aevb train --resume`` would;
    - a finished run of the same settings but a smaller budget (``epochs``, ``steps``) is continued to the new one,
      as ``aevb train --resume --epochs/--steps`` would; the same as training with the larger budget from the start
      when the old budget ended on an epoch boundary, else the epoch the old step budget cut short stays short;
    - anything else there is replaced.

    ``seconds`` is the training time over all sittings: the epochs' own times before a resume plus this fit."""
    run_dir = root / "runs" / name
    train_cfg.out = str(run_dir)
    config = Config(model=model_cfg, train=train_cfg)
    stamp, settings = _stamps(config, train, test)
    record_path = run_dir / "reproduce.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    finished = "seconds" in record
    if record.get("stamp") == stamp and finished:
        history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
        opts.log(f"  {name}: reusing the finished run in {run_dir}")
        return RunResult(name, run_dir, history, record["seconds"], reused=True)
    unfinished = record.get("stamp") == stamp and not finished
    shorter = finished and record.get("settings") == settings and _within(record.get("budget"), train_cfg)
    resume = (unfinished or shorter) and (run_dir / "checkpoints" / "last.pt").is_file()
    if run_dir.exists() and not resume:
        shutil.rmtree(run_dir)  # a run of other settings, or one stopped before its first checkpoint
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg, train.event_shape)
    trainer = Trainer(model, train, train_cfg, test=test, run_dir=run_dir, full_config=config, callbacks=callbacks)
    before = 0.0
    if resume:
        trainer.resume()
        before = sum(row.get("epoch_seconds", 0.0) for row in trainer.history)
        what = "unfinished run" if unfinished else "run of a smaller budget"
        opts.log(f"  {name}: continuing the {what} in {run_dir} from step {trainer.step} ...")
    else:
        run_dir.mkdir(parents=True)
        opts.log(f"  {name}: training {train_cfg.epochs} epochs on {len(train)} points ...")
    # Until the fit ends the record says "unfinished" (no seconds): a stopped call is continued by the next one.
    write_text_atomic(record_path, json.dumps({"stamp": stamp}) + "\n")
    start = time.perf_counter()
    result = trainer.fit()
    if result.interrupted:
        raise Interrupted(f"{name} stopped at step {result.step}, checkpoint saved; the same command continues it")
    seconds = before + time.perf_counter() - start
    budget = {"epochs": train_cfg.epochs, "steps": train_cfg.steps}
    record = {"stamp": stamp, "settings": settings, "budget": budget, "seconds": seconds}
    write_text_atomic(record_path, json.dumps(record) + "\n")
    opts.log(f"  {name}: done in {seconds:.0f} s")
    return RunResult(name, run_dir, result.history, seconds)


def _stamps(config: Config, train: TensorData, test: TensorData) -> tuple[str, str]:
    """The run's identity: everything (``stamp``), and everything but the training budget (``settings``)."""
    sizes = {"n_train": len(train), "n_test": len(test)}
    unbudgeted = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=1, steps=0))
    return (
        json.dumps({"config": config.to_toml(), **sizes}),
        json.dumps({"config": unbudgeted.to_toml(), **sizes}),
    )


def _within(old: dict[str, int] | None, new: TrainConfig) -> bool:
    """Whether a finished run's budget is part of the new one: no more epochs, and no more steps (0: no limit)."""
    if not old:
        return False
    steps_within = new.steps == 0 or (old["steps"] != 0 and old["steps"] <= new.steps)
    return old["epochs"] <= new.epochs and steps_within


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Rows of dicts as CSV; the header is the union of the keys in first-seen order."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return path


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"
    return f"{platform.machine()} {device}, torch {torch.__version__}, {torch.get_num_threads()} threads"
