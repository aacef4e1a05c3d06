"""Latent traversals (Higgins et al. 2017, Fig. 1–2): what each latent dimension of one datapoint's code controls.

Row d decodes z = μ_φ(x) + v e_d for offsets v in −span..span: the posterior mean of one datapoint with only
coordinate d moved. A disentangled code (β-VAE) changes one factor per row; dimensions the KL has switched off
(posterior ≈ prior, ignored by the decoder) give constant rows.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from aevb.errors import ConfigError
from aevb.images import save_grid, to_images


@torch.no_grad()
def latent_traversal(
    model: nn.Module,
    x: torch.Tensor,
    context: torch.Tensor | None = None,
    span: float = 3.0,
    steps: int = 9,
    dims: int = 0,
) -> torch.Tensor:
    """Decoder means ``[D, steps, *event_shape]`` for one datapoint ``x`` (``[1, *event_shape]``): row d moves z_d from
    μ_d − span to μ_d + span. ``dims`` > 0 keeps the first ``dims`` latent dimensions. Works for every model with
    ``encode``/``decode`` (for a deep VAE: the first stochastic layer h¹; for a CVAE pass its context)."""
    if steps < 2 or not span > 0:
        raise ConfigError(f"a traversal needs steps >= 2 and span > 0, got steps = {steps}, span = {span}")
    if x.shape[0] != 1:
        raise ConfigError(f"a traversal starts from one datapoint, got {x.shape[0]}")
    device = next(model.parameters()).device
    context = None if context is None else context.to(device)
    mu = model.encode(x.to(device), context).mean.float().reshape(-1)  # [Nz]
    n_dims = min(dims, mu.numel()) if dims > 0 else mu.numel()
    offsets = torch.linspace(-span, span, steps, device=device)
    z = mu.repeat(n_dims, steps, 1)  # [D, steps, Nz]
    rows = torch.arange(n_dims, device=device)
    z[rows, :, rows] += offsets  # row d: coordinate d moved
    c = None if context is None else context.expand(n_dims * steps, -1)
    images = model.decode(z.reshape(n_dims * steps, -1), c).mean.float()
    return images.reshape(n_dims, steps, *model.event_shape).cpu()


def save_traversal(images: torch.Tensor, event_shape: tuple[int, ...], out: str | Path) -> Path:
    """Tile the ``[D, steps, ...]`` result of :func:`latent_traversal` as a PNG, one row per latent dimension."""
    steps = images.shape[1]
    return save_grid(to_images(images.reshape(-1, *event_shape), event_shape), out, nrow=steps)


def traverse_run(
    run_dir: str | Path,
    index: int = 0,
    split: str = "test",
    out: str | Path = "traversal.png",
    span: float = 3.0,
    steps: int = 9,
    dims: int = 0,
) -> Path:
    """``aevb traverse RUN``: the traversal of datapoint ``index`` of ``split`` of the run's dataset."""
    from aevb.api import _run_model_and_data
    from aevb.training.trainer import labels_to_context

    model, data = _run_model_and_data(run_dir, split)
    if not 0 <= index < len(data):
        raise ConfigError(f"--index must be in 0..{len(data) - 1} for the {split!r} split, got {index}")
    x = data.x[index : index + 1]
    context = labels_to_context(model, None if data.y is None else data.y[index : index + 1])
    return save_traversal(latent_traversal(model, x, context, span, steps, dims), model.event_shape, out)
