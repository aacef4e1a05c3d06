"""Models, registered by name in ``aevb.registry.MODELS`` (each model module registers its builder)."""

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn

from aevb.config import ModelConfig
from aevb.errors import ConfigError
from aevb.models import conv  # noqa: E402,F401  (registers arch "conv")
from aevb.models.ae import AutoEncoder  # noqa: E402  (registers "ae")
from aevb.models.archs import ARCHS
from aevb.models.cvae import CVAE  # noqa: E402  (registers "cvae")
from aevb.models.deep import DeepVAE  # noqa: E402  (registers "deep-vae")
from aevb.models.m2 import M2  # noqa: E402  (registers "m2")
from aevb.models.vae import VAE, build_vae, build_vae_parts
from aevb.models.vqvae import VQVAE  # noqa: E402  (registers "vqvae")
from aevb.nets import Standardization, standardization_of
from aevb.registry import MODELS

__all__ = [
    "ARCHS",
    "AutoEncoder",
    "CVAE",
    "VAE",
    "VQVAE",
    "DeepVAE",
    "M2",
    "build_model",
    "build_vae",
    "build_vae_parts",
    "data_defaults",
    "fit_standardization_",
]


def data_defaults(config: ModelConfig, x: torch.Tensor | None) -> tuple[ModelConfig, list[str]]:
    """Settings left to follow the training data (``"auto"``), decided from ``x``.

    ``squash_mean`` (Gaussian likelihood): the mean is squashed into [0, 1] by a sigmoid when the training data lie
    there (the paper's Frey Face), and left free otherwise (standardized tables, real-valued signals). Without data
    it stays on, as it was before it followed the data.

    Parameters
    ----------
    config : ModelConfig
        The model's config; its ``"auto"`` settings (``None`` values) are the ones decided. Not modified.
    x : torch.Tensor or None
        The training inputs, or None when there are none to decide from.

    Returns
    -------
    config : ModelConfig
        The decided config: a copy of ``config`` with the ``"auto"`` settings replaced (``config`` itself when
        nothing was left to decide).
    notes : list of str
        One line per decision, saying what was chosen and why.
    """
    notes: list[str] = []
    if config.squash_mean is None and config.likelihood == "gaussian" and config.standardize:
        notes.append("squash_mean = auto → false: the model standardizes the features (standardize = true)")
        config = dataclasses.replace(config, squash_mean=False)
    if config.likelihood == "gaussian" and not config.standardize and x is not None and len(x) > 1:
        notes += _scale_hint(x)
    if config.squash_mean is None and config.likelihood == "gaussian":
        if x is None:
            squash, why = True, "no training data to decide from"
        else:
            lo, hi = float(x.min()), float(x.max())
            squash = lo >= 0.0 and hi <= 1.0
            where = "inside" if squash else "outside"
            why = f"the training data lie {where} [0, 1] (min {lo:.3g}, max {hi:.3g})"
        notes.append(f"squash_mean = auto → {str(squash).lower()}: {why}")
        config = dataclasses.replace(config, squash_mean=squash)
    return config, notes


UNIT_SCALE_LIMIT = 10.0
"""A feature whose mean or standard deviation exceeds this (in absolute value) is far from the unit scale that a
network's initialization and Adam's steps of ~lr assume: ``data_defaults`` then suggests ``standardize``."""


def _scale_hint(x: torch.Tensor) -> list[str]:
    """A line suggesting ``standardize`` when a feature of ``x`` is far from unit scale, else none.

    Returns
    -------
    list of str
        At most one line, naming the feature farthest from unit scale.
    """
    flat = x.detach().reshape(len(x), -1).float()  # no float64 copy of a large training set: a hint needs no more
    mean, std = flat.mean(0), flat.std(0)
    size = torch.maximum(mean.abs(), std)
    worst = int(size.argmax())
    if float(size[worst]) <= UNIT_SCALE_LIMIT:
        return []
    return [
        f"note: feature {worst} of the training data has mean {float(mean[worst]):.4g} and standard deviation "
        f"{float(std[worst]):.4g}; a Gaussian VAE of unscaled features trains poorly (on breast cancer's raw "
        "columns its bound reached -7e27 nats): add --standardize true (the model standardizes each feature; "
        "densities stay those of the data)"
    ]


def fit_standardization_(model: nn.Module, x: torch.Tensor) -> None:
    """Set every ``aevb.nets.Standardization`` of ``model`` (encoder input, Gaussian likelihood) from rows ``x``.

    Raises
    ------
    ConfigError
        If the model has no part that standardizes (one built with ``standardize`` off, or by hand).
    """
    parts = [m for m in model.modules() if isinstance(m, Standardization)]
    if not parts:
        raise ConfigError(
            f"{type(model).__name__} has no part that standardizes: build it with standardize = true (models vae, "
            "cvae, m2, ae, deep-vae with a Gaussian likelihood)"
        )
    center, scale = standardization_of(x)  # once, for the encoder's input, the likelihood and any classifier
    for part in parts:
        part.set_(center, scale)


def build_model(
    config: ModelConfig, event_shape: Sequence[int], *, seed: int | None = None, data: torch.Tensor | None = None
) -> nn.Module:
    """Build the model named by ``config.model`` for data of ``event_shape``.

    An unknown model name is a ``ConfigError`` that lists the registered models (``aevb.registry.MODELS``).

    Parameters
    ----------
    config : ModelConfig
        What to build.
    event_shape : Sequence of int
        The shape of one datapoint (``TensorData.event_shape``; ``(C, H, W)`` for images).
    seed : int or None, default None
        Draw the initial weights from the CPU's generator seeded with ``seed`` (the global random state is restored
        after; the GPUs' are not touched), so the same config and seed give the same model; None draws them from the
        global random state.
    data : torch.Tensor or None, default None
        The training inputs that ``"auto"`` settings follow (``data_defaults``) and, with ``config.standardize``,
        whose means and standard deviations the model standardizes by (``fit_standardization_``; without data
        the standardization is the identity until loaded weights or ``fit_standardization_`` set it); the model's
        ``config`` records what was decided.

    Returns
    -------
    torch.nn.Module
        The new, untrained model.
    """
    config, _ = data_defaults(config, data)
    builder = MODELS.get(config.model)
    if seed is None:
        model = builder(config, tuple(event_shape))
    else:
        with torch.random.fork_rng(devices=[]):
            # The weights are drawn on the CPU: seed its generator alone (torch.manual_seed would also reseed every
            # CUDA device's, which this fork does not restore, and a user's GPU random stream would be reset).
            torch.default_generator.manual_seed(int(seed))  # as torch.manual_seed does (NumPy integers too)
            model = builder(config, tuple(event_shape))
    if config.standardize and data is not None:
        fit_standardization_(model, data)
    return model
