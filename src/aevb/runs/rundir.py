"""A run directory: ``config.toml``, ``model.safetensors`` + ``model.json``, ``metrics.jsonl``, ``checkpoints/``.

:class:`Run` opens one and hands out what the commands need — its config, its trained model on the configured
device, the data of a split and evenly spaced datapoints with their contexts. Every other module of the library
works on (model, tensors); only :mod:`aevb.runs` reads and writes run directories.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import torch
from torch import nn
from torch.distributions import Independent, Normal

from aevb.config import Config, TrainConfig, load_config
from aevb.data import TensorData, load_dataset
from aevb.errors import ConfigError
from aevb.io import load_model
from aevb.models.protocols import labels_to_context
from aevb.runtime import resolve_device
from aevb.training.trainer import NO_CONFIG


def require_sklearn(command: str) -> None:
    """A :class:`ConfigError` saying how to install scikit-learn (an optional dependency) when it is missing."""
    if importlib.util.find_spec("sklearn") is None:
        raise ConfigError(f"{command} uses scikit-learn's estimators and metrics: pip install 'aevb[plots]'")


def load(run_dir: str | Path, device: str = "cpu") -> nn.Module:
    """The trained model of a run directory (weights from safetensors; nothing is unpickled)."""
    return load_model(run_dir, device)


def load_data(train: TrainConfig, split: str) -> TensorData:
    """Split ``split`` of the dataset a run's ``[train]`` section names; with ``features`` set (M1+M2), the posterior
    means of that run's encoder for it, ``[N, latent_dim]``, labels kept, and with ``features_sample`` also the
    posterior standard deviations, from which training draws z ~ q(z|x) afresh for every minibatch."""
    data = load_dataset(
        train.dataset,
        split=split,
        data_dir=train.data_dir or None,
        download=train.download,
        test_fraction=train.test_fraction,
    )
    if not train.features:
        return data
    with torch.no_grad():
        q = load(train.features).encode(data.x)  # the M1 run, on the CPU
    name = f"{data.name} as features of {train.features}"
    if not train.features_sample:
        return TensorData(q.mean.float(), data.y, name)
    if not (isinstance(q, Independent) and isinstance(q.base_dist, Normal)):
        raise ConfigError(
            f"features_sample draws each latent independently: the --features run needs a diagonal-Gaussian "
            f"posterior, not {type(q).__name__}; use the means (features_sample = false)"
        )
    return TensorData(q.mean.float(), data.y, name, x_scale=q.stddev.float())


def run_config(run_dir: str | Path) -> Config:
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        note = Path(run_dir) / NO_CONFIG
        if note.is_file():
            raise ConfigError(f"{run_dir} has no config.toml. {note.read_text().strip()}")
        raise ConfigError(f"{run_dir} is not a run directory: config.toml is missing")
    return load_config(path)


class Run:
    """An opened run directory; the model and each split are loaded on first use and kept."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)
        self.config = run_config(self.dir)
        self.device = resolve_device(self.config.train.device)

    @functools.cached_property
    def model(self) -> nn.Module:
        return load(self.dir, device=str(self.device))

    @functools.cache  # noqa: B019 - one Run per command; the cache lives as long as it
    def data(self, split: str = "test") -> TensorData:
        return load_data(self.config.train, split)

    def points(self, split: str, n: int = 0) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``n`` datapoints evenly spaced over ``split`` (all for n = 0): x, the model's context, the labels. Evenly
        spaced because several splits are stored grouped by class, so the first n can be one digit."""
        data = self.data(split)
        if n:
            data = data.spread(n)
        return data.x, labels_to_context(self.model, data.y), data.y
