"""A run directory: ``config.toml``, ``model.safetensors`` + ``model.json``, ``metrics.jsonl``, ``checkpoints/``.

``Run`` opens one and hands out what the commands need — its config, its trained model on the configured
device, the data of a split and evenly spaced datapoints with their contexts. Every other module of the library
works on (model, tensors); only ``aevb.runs`` reads and writes run directories.
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
from aevb.runtime import available_device
from aevb.training.trainer import NO_CONFIG


def require_sklearn(command: str) -> None:
    """Raise a ``ConfigError`` saying how to install scikit-learn (an optional dependency) when it is missing.

    Parameters
    ----------
    command : str
        What needs scikit-learn, named in the message (e.g. ``"aevb probe"``).

    Raises
    ------
    ConfigError
        If scikit-learn is not installed (``pip install 'aevb[plots]'``).
    """
    if importlib.util.find_spec("sklearn") is None:
        raise ConfigError(f"{command} uses scikit-learn's estimators and metrics: pip install 'aevb[plots]'")


def load(run_dir: str | Path, device: str = "cpu") -> nn.Module:
    """The trained model of a run directory (weights from safetensors; nothing is unpickled).

    The model is rebuilt from ``model.json`` and its weights loaded strictly from ``model.safetensors``; a missing,
    corrupted or mismatched file, or a model built by hand (which aevb cannot rebuild), raises ``CheckpointError``.

    Parameters
    ----------
    run_dir : str or Path
        The run directory (or any directory holding ``model.json`` and ``model.safetensors``).
    device : str, default "cpu"
        The device to load the model on, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``.

    Returns
    -------
    torch.nn.Module
        The model, in eval mode, on ``device``.
    """
    return load_model(run_dir, device)


def load_data(train: TrainConfig, split: str) -> TensorData:
    """Split ``split`` of the dataset a run's ``[train]`` section names.

    With ``features`` set (M1+M2), the posterior means of that run's encoder for it, ``[N, latent_dim]``, labels kept,
    and with ``features_sample`` also the posterior standard deviations (as ``x_scale``), from which training draws
    z ~ q(z|x) afresh for every minibatch.

    Parameters
    ----------
    train : TrainConfig
        The run's ``[train]`` section: ``dataset``, ``data_dir``, ``download``, ``test_fraction``, ``features`` and
        ``features_sample`` are read.
    split : str
        The split, e.g. ``"train"`` or ``"test"``.

    Returns
    -------
    TensorData
        The split's data, or its features.

    Raises
    ------
    ConfigError
        If ``features_sample`` is set and the ``features`` run's posterior is not a diagonal Gaussian.
    """
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
    """The config of a run directory, read from its ``config.toml``.

    Parameters
    ----------
    run_dir : str or Path
        The run directory.

    Returns
    -------
    Config
        The run's config.

    Raises
    ------
    ConfigError
        If ``run_dir`` has no ``config.toml``: its model was built by hand (the message then quotes its
        ``NO_CONFIG.txt``), or it is not a run directory.
    """
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        note = Path(run_dir) / NO_CONFIG
        if note.is_file():
            raise ConfigError(f"{run_dir} has no config.toml. {note.read_text().strip()}")
        raise ConfigError(f"{run_dir} is not a run directory: config.toml is missing")
    return load_config(path)


class Run:
    """An opened run directory; the model and each split are loaded on first use and kept.

    Opening reads the run's config (a directory without ``config.toml`` raises ``ConfigError``).

    Parameters
    ----------
    run_dir : str or Path
        The run directory.

    Attributes
    ----------
    dir : Path
        The run directory.
    config : Config
        The run's config.
    device : torch.device
        The device the run's ``train.device`` names (``"auto"``: CUDA when present, else the CPU).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)
        self.config = run_config(self.dir)
        # reading a run (evaluate, plot, score, report) works on any machine: a GPU run on the CPU, with a warning
        self.device = available_device(self.config.train.device)

    @functools.cached_property
    def model(self) -> nn.Module:
        """The run's trained model on ``device``, in eval mode, loaded on first use."""
        return load(self.dir, device=str(self.device))

    @functools.cache  # noqa: B019 - one Run per command; the cache lives as long as it
    def data(self, split: str = "test") -> TensorData:
        """The data of ``split`` (``load_data`` with the run's ``[train]`` section), loaded on first use and kept.

        Parameters
        ----------
        split : str, default "test"
            The split, e.g. ``"train"`` or ``"test"``.

        Returns
        -------
        TensorData
            The split's data (for an M1+M2 run, its features).
        """
        return load_data(self.config.train, split)

    def points(self, split: str, n: int = 0) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``n`` datapoints evenly spaced over ``split`` (all for n = 0): x, the model's context, the labels.

        Evenly spaced because several splits are stored grouped by class, so the first n can be one digit.

        Parameters
        ----------
        split : str
            The split, e.g. ``"train"`` or ``"test"``.
        n : int, default 0
            How many datapoints (all of them when 0 or at least the split's size).

        Returns
        -------
        tuple of (torch.Tensor, torch.Tensor or None, torch.Tensor or None)
            The datapoints ``[n, *event_shape]``, the model's context for them (None for an unconditional model), and
            their labels (None when the split has none).
        """
        data = self.data(split)
        if n:
            data = data.spread(n)
        return data.x, labels_to_context(self.model, data.y), data.y
