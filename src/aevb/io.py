"""Model files: ``model.safetensors`` (weights) + ``model.json`` (what to build). Nothing here unpickles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _weights_from_bytes
from safetensors.torch import load_model as _load_weights
from safetensors.torch import save as _weights_to_bytes
from safetensors.torch import save_model as _save_weights
from torch import nn

from aevb.atomic import write_atomic, write_text_atomic
from aevb.config import ModelConfig, section_from_dict
from aevb.errors import CheckpointError, ConfigError
from aevb.models import build_model
from aevb.models.protocols import GenerativeModel
from aevb.version import __version__

MODEL_FORMAT = "aevb-model"
"""The ``format`` tag of every ``model.json``."""
MODEL_FORMAT_VERSION = 1
"""The version of the model file format this aevb writes; it reads files of this version and older."""
WEIGHTS = "model.safetensors"
"""The file name of the weights in a model directory."""
META = "model.json"
"""The file name of the model description (what to build) in a model directory."""


def model_meta(model: GenerativeModel) -> dict[str, Any]:
    """What ``model.json`` holds: the format, the event shape and the model's config (None for a hand-built model).

    Parameters
    ----------
    model : GenerativeModel
        The model to describe.

    Returns
    -------
    dict
        ``format``, ``format_version``, ``aevb_version``, ``event_shape`` (a list) and ``model`` (the config's
        fields as a dict, or None).
    """
    config: ModelConfig | None = model.config  # None: a model built by hand, which no config describes
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "aevb_version": __version__,
        "event_shape": list(model.event_shape),
        "model": None if config is None else config.__dict__,
    }


def save_model(model: GenerativeModel, directory: str | Path) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``directory`` (atomically, weights first).

    Parameters
    ----------
    model : GenerativeModel
        The model (an ``nn.Module``) to save. A model built by hand has no config: its weights are saved, but
        ``load_model`` cannot rebuild it.
    directory : str or pathlib.Path
        Where to write the two files (created if missing; files of those names are replaced).

    Returns
    -------
    pathlib.Path
        ``directory``.
    """
    directory = Path(directory)
    write_atomic(directory / WEIGHTS, lambda tmp: _save_weights(model, str(tmp)))
    write_text_atomic(directory / META, json.dumps(model_meta(model), indent=2) + "\n")
    return directory


def model_to_bytes(model: nn.Module) -> bytes:
    """The model's weights (its state dict) as the bytes of a safetensors file: plain data, safe to store anywhere.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose state dict is written (moved to the CPU).

    Returns
    -------
    bytes
        The safetensors file's contents.
    """
    return _weights_to_bytes({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})


def model_from_bytes(meta: dict[str, Any], data: bytes, device: str | torch.device = "cpu") -> nn.Module:
    """The model that ``meta`` (``model_meta``) describes, with the weights of ``model_to_bytes`` loaded strictly.

    A ``meta`` that describes no model this aevb can build is also a ``CheckpointError``.

    Parameters
    ----------
    meta : dict
        A model description, as ``model_meta`` makes it.
    data : bytes
        The weights, as ``model_to_bytes`` makes them.
    device : str or torch.device, default "cpu"
        Where the model goes.

    Returns
    -------
    torch.nn.Module
        The model, in eval mode, on ``device``.

    Raises
    ------
    CheckpointError
        If the stored weights do not load into the model they describe.
    """
    model = _build(meta, "the stored model description")
    try:
        weights = _weights_from_bytes(data)
        model.load_state_dict(weights, strict=True)
    except (SafetensorError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"the stored weights do not load into the model they describe: {err}") from None
    return model.to(device).eval()


def _build(meta: dict[str, Any], where: str) -> nn.Module:
    """Rebuild (untrained) the model a ``model.json`` record describes; ``where`` names it in errors.

    Returns
    -------
    torch.nn.Module
        The untrained model.

    Raises
    ------
    CheckpointError
        If the record has no config (a model built by hand) or describes no model this aevb can build.
    """
    if meta.get("model") is None:
        raise CheckpointError(
            f"{where} describes no config: the model was built by hand in Python, so aevb cannot rebuild it; build "
            "the same model again and load the weights into it with safetensors"
        )
    try:
        config = section_from_dict(ModelConfig, meta["model"])
        event_shape = tuple(int(d) for d in meta["event_shape"])
        return build_model(config, event_shape)
    except (KeyError, TypeError, ValueError, ConfigError) as err:
        raise CheckpointError(f"{where} does not describe a model this aevb can build: {err}") from None


def read_meta(directory: str | Path) -> dict[str, Any]:
    """The model description ``model.json`` of a model directory, checked to be one this aevb reads.

    Parameters
    ----------
    directory : str or pathlib.Path
        The model directory (a run directory, or one ``save_model`` wrote).

    Returns
    -------
    dict
        The description (see ``model_meta``).

    Raises
    ------
    CheckpointError
        If ``model.json`` is missing, is not valid JSON, is not an aevb model file (its ``format`` is not
        ``"aevb-model"``), or has a format version newer than this aevb reads.
    """
    path = Path(directory) / META
    if not path.is_file():
        raise CheckpointError(f"no model at {str(directory)!r}: {META} is missing (is this a run directory?)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is corrupted (not valid JSON: {err})") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{path} is not an aevb model file (format must be {MODEL_FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > MODEL_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has model format version {version!r}, newer than this aevb reads ({MODEL_FORMAT_VERSION}); "
            "upgrade aevb"
        )
    return meta


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model described by ``model.json`` and load ``model.safetensors`` into it (strictly).

    Nothing is unpickled. A ``model.json`` that is missing, corrupted or newer than this aevb (``read_meta``), or
    that describes no model this aevb can build, is also a ``CheckpointError``.

    Parameters
    ----------
    directory : str or pathlib.Path
        The model directory (a run directory, or one ``save_model`` wrote).
    device : str or torch.device, default "cpu"
        Where the weights are loaded and the model goes.

    Returns
    -------
    torch.nn.Module
        The model, in eval mode, on ``device``.

    Raises
    ------
    CheckpointError
        If ``model.json`` describes no config (the model was built by hand in Python: build it again and load the
        weights with ``safetensors.torch.load_model``), the weights file is missing, corrupted or truncated, or its
        tensors do not match the model in ``model.json`` (missing or unexpected keys).
    """
    directory = Path(directory)
    meta = read_meta(directory)
    if meta.get("model") is None:
        raise CheckpointError(
            f"{directory / META} describes no config: the model was built by hand in Python, so aevb cannot "
            "rebuild it; build the same model again and load the weights with safetensors.torch.load_model(model, "
            f"{str(directory / WEIGHTS)!r})"
        )
    model = _build(meta, str(directory / META))
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"no weights at {weights}")
    try:
        missing, unexpected = _load_weights(model, str(weights), strict=False, device=str(device))
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"{weights} is corrupted or truncated: {err}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{weights} does not match the model in {META}: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
    return model.to(device).eval()
