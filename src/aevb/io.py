"""Model files: ``model.safetensors`` (weights) + ``model.json`` (what to build). Nothing here unpickles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model as _load_weights
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


def save_model(model: GenerativeModel, directory: str | Path) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``directory`` (atomically, weights first)."""
    directory = Path(directory)
    config: ModelConfig | None = model.config  # None: a model built by hand, which no config describes
    meta = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "aevb_version": __version__,
        "event_shape": list(model.event_shape),
        "model": None if config is None else config.__dict__,
    }
    write_atomic(directory / WEIGHTS, lambda tmp: _save_weights(model, str(tmp)))
    write_text_atomic(directory / META, json.dumps(meta, indent=2) + "\n")
    return directory


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
    try:
        config = section_from_dict(ModelConfig, meta["model"])
        event_shape = tuple(int(d) for d in meta["event_shape"])
        model = build_model(config, event_shape)
    except (KeyError, TypeError, ValueError, ConfigError) as err:
        raise CheckpointError(f"{directory / META} does not describe a model this aevb can build: {err}") from None
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
