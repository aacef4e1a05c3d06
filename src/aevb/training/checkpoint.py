"""Training checkpoints: model, optimizer, RNG states and position, in one file written atomically.

Saved with ``torch.save`` of tensors and plain Python values only, and loaded with ``weights_only=True``, which
refuses any pickled object beyond tensors and primitives — a checkpoint carrying a malicious payload is rejected.
"""

from __future__ import annotations

import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from aevb.atomic import write_atomic
from aevb.errors import CheckpointError, ConfigError

CHECKPOINT_FORMAT_VERSION = 1
LAST = "last.pt"


def save_checkpoint(state: dict[str, Any], directory: str | Path) -> Path:
    """Write ``state`` to ``directory/last.pt`` atomically: a crash mid-write leaves the previous one intact."""
    path = Path(directory) / LAST
    state = {"format_version": CHECKPOINT_FORMAT_VERSION, **state}
    write_atomic(path, lambda tmp: torch.save(state, tmp))
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely (no arbitrary unpickling); clear :class:`CheckpointError` on any defect."""
    path = Path(path)
    if path.is_dir():
        path = path / LAST
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about odd pickle protocols in garbage files
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} was refused: it holds objects other than tensors and plain values, which aevb never "
            f"unpickles ({str(err).splitlines()[0]})"
        ) from None
    except Exception as err:  # an untrusted file can fail to parse in many ways; each means "corrupted"
        raise CheckpointError(f"{path} is corrupted or truncated: {err}") from None
    if not isinstance(state, dict) or "format_version" not in state:
        raise CheckpointError(f"{path} is not an aevb checkpoint")
    if state["format_version"] > CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {state['format_version']}, newer than this aevb reads "
            f"({CHECKPOINT_FORMAT_VERSION}); upgrade aevb"
        )
    return state


# What a run directory holds that training writes (and --overwrite removes); anything else in it is left alone.
RUN_FILES = (
    "config.toml",
    "NO_CONFIG.txt",
    "model.safetensors",
    "model.json",
    "metrics.jsonl",
    "fixed_z.safetensors",
    "report.html",
    "checkpoints",
    "pictures",
    "plots",
    "tensorboard",
)


def claim_run_dir(run_dir: str | Path, *, resume: bool, overwrite: bool) -> None:
    """Make sure a new run may write ``run_dir``: a directory that already holds a run is refused, unless
    ``overwrite`` (then the files of the old run are removed) or ``resume`` (then it is continued)."""
    run_dir = Path(run_dir)
    if resume:
        return
    old = [name for name in ("checkpoints", "model.safetensors", "metrics.jsonl") if (run_dir / name).exists()]
    if not old:
        return
    if not overwrite:
        raise ConfigError(
            f"{run_dir} already holds a run ({', '.join(old)}); continue it with --resume (Python: resume=True), "
            "replace it with --overwrite (Python: overwrite=True), or choose another --out (nothing was changed)"
        )
    for name in RUN_FILES:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
