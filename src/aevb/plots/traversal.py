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
from aevb.plots.png import save_grid, to_images
from aevb.runtime import module_device


@torch.no_grad()
def latent_traversal(
    model: nn.Module,
    x: torch.Tensor,
    context: torch.Tensor | None = None,
    span: float = 3.0,
    steps: int = 9,
    dims: int = 0,
    order: list[int] | None = None,
) -> torch.Tensor:
    """Decoder means ``[D, steps, *event_shape]`` for one datapoint ``x`` (``[1, *event_shape]``): row d moves z_d from
    μ_d − span to μ_d + span. ``dims`` > 0 keeps the first ``dims`` latent dimensions; ``order`` lists the dimensions
    to show, in that order (e.g. sorted by KL). Works for every model with ``encode``/``decode`` (for a deep VAE: the
    first stochastic layer h¹; for a CVAE pass its context)."""
    if steps < 2 or not span > 0:
        raise ConfigError(f"a traversal needs steps >= 2 and span > 0, got steps = {steps}, span = {span}")
    if x.shape[0] != 1:
        raise ConfigError(f"a traversal starts from one datapoint, got {x.shape[0]}")
    device = module_device(model)
    context = None if context is None else context.to(device)
    mu = model.encode(x.to(device), context).mean.float().reshape(-1)  # [Nz]
    if order is not None and (not order or not all(0 <= d < mu.numel() for d in order)):
        raise ConfigError(f"a traversal's order must list dimensions in 0..{mu.numel() - 1}, got {order}")
    n_dims = len(order) if order is not None else min(dims, mu.numel()) if dims > 0 else mu.numel()
    offsets = torch.linspace(-span, span, steps, device=device)
    z = mu.repeat(n_dims, steps, 1)  # [D, steps, Nz]
    moved = torch.tensor(order, device=device) if order is not None else torch.arange(n_dims, device=device)
    z[torch.arange(n_dims, device=device), :, moved] += offsets  # row r: coordinate moved[r] moved
    c = None if context is None else context.expand(n_dims * steps, -1)
    images = model.decode(z.reshape(n_dims * steps, -1), c).mean.float()
    return images.reshape(n_dims, steps, *model.event_shape).cpu()


def save_traversal(
    images: torch.Tensor,
    event_shape: tuple[int, ...],
    out: str | Path,
    row_labels: list[str] | None = None,
    span: float = 3.0,
) -> Path:
    """Tile the ``[D, steps, ...]`` result of :func:`latent_traversal` as a PNG, one row per latent dimension
    (``row_labels``: a caption per row, e.g. the dimension and its KL; by default "z_d: μ−span → μ+span", so the
    picture says what its rows and columns are)."""
    steps = images.shape[1]
    if row_labels is None:
        row_labels = [f"z{d}: mu-{span:g} -> mu+{span:g}" for d in range(images.shape[0])]
    return save_grid(to_images(images.reshape(-1, *event_shape), event_shape), out, nrow=steps, row_labels=row_labels)
