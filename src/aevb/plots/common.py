"""Shared helpers for pictures: the headless matplotlib backend and the run's fixed latent draws.

A run draws its fixed z once (from its seed) and keeps it in ``fixed_z.safetensors``, so sample grids drawn at
different epochs — or later from the CLI — decode the very same points and show progress, not resampling noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from aevb.atomic import write_atomic
from aevb.errors import ConfigError
from aevb.models.protocols import BoundModel

FIXED_Z_FILE = "fixed_z.safetensors"
FIXED_Z_COUNT = 128


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend: draws to files, never opens a window, works without a display."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG atomically and close it (figures are not garbage-collected while pyplot holds them)."""
    plt = pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return path


def latent_dim_of(model: nn.Module) -> int:
    dim = model.latent_dim if isinstance(model, BoundModel) else None
    if not isinstance(dim, int):
        raise ConfigError(f"{type(model).__name__} has no single latent_dim; this picture needs a one-layer model")
    return dim


def fixed_z(model: nn.Module, run_dir: str | Path | None, seed: int = 0, n: int = FIXED_Z_COUNT) -> torch.Tensor:
    """The run's fixed prior draws ``[n, Nz]`` ~ N(0, I): read from ``run_dir/fixed_z.safetensors`` or drawn with
    ``seed`` (and saved there when ``run_dir`` is given). Drawn from a private generator, so a training run's random
    stream is untouched."""
    from safetensors.torch import load_file, save_file

    dim = latent_dim_of(model)
    path = None if run_dir is None else Path(run_dir) / FIXED_Z_FILE
    if path is not None and path.is_file():
        z = load_file(str(path))["z"]
        if z.shape[1] == dim and z.shape[0] >= n:
            return z[:n]
    z = torch.randn(max(n, FIXED_Z_COUNT), dim, generator=torch.Generator().manual_seed(seed))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: save_file({"z": z.contiguous()}, str(tmp)))
    return z[:n]
