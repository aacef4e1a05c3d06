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
MODEL_FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
META = "model.json"


def model_meta(model: GenerativeModel) -> dict[str, Any]:
    """What ``model.json`` holds: the format, the event shape and the model's config (None for a hand-built model)."""
    config: ModelConfig | None = model.config  # None: a model built by hand, which no config describes
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "aevb_version": __version__,
        "event_shape": list(model.event_shape),
        "model": None if config is None else config.__dict__,
    }


def save_model(model: GenerativeModel, directory: str | Path) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``directory`` (atomically, weights first)."""
    directory = Path(directory)
    write_atomic(directory / WEIGHTS, lambda tmp: _save_weights(model, str(tmp)))
    write_text_atomic(directory / META, json.dumps(model_meta(model), indent=2) + "\n")
    return directory


def model_to_bytes(model: nn.Module) -> bytes:
    """The model's weights (its state dict) as the bytes of a safetensors file: plain data, safe to store anywhere."""
    return _weights_to_bytes({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})


def model_from_bytes(meta: dict[str, Any], data: bytes, device: str | torch.device = "cpu") -> nn.Module:
    """The model that ``meta`` (:func:`model_meta`) describes, with the weights of :func:`model_to_bytes` loaded
    strictly; in eval mode, on ``device``."""
    model = _build(meta, "the stored model description")
    try:
        weights = _weights_from_bytes(data)
        model.load_state_dict(weights, strict=True)
    except (SafetensorError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"the stored weights do not load into the model they describe: {err}") from None
    return model.to(device).eval()


def _build(meta: dict[str, Any], where: str) -> nn.Module:
    """Rebuild (untrained) the model a ``model.json`` record describes; ``where`` names it in errors."""
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
    """Rebuild the model described by ``model.json`` and load ``model.safetensors`` into it (strictly)."""
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
