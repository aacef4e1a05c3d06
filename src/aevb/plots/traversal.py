"""Latent traversals (Higgins et al. 2017, Fig. 1–2): what each latent dimension of one datapoint's code controls.

Row d decodes ``z = μ_φ(x) + v e_d`` for offsets v in −span..span: the posterior mean of one datapoint with only
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
    """Decoder means ``[D, steps, *event_shape]`` of the latent traversal of one datapoint ``x``.

    Row d moves ``z_d`` from ``μ_d − span`` to ``μ_d + span`` in ``steps`` evenly spaced offsets, the other coordinates
    staying at the posterior mean μ = ``E_q[z|x]``. Works for every model with ``encode``/``decode`` (for a deep VAE:
    the first stochastic layer h¹; for a CVAE pass its context).

    Parameters
    ----------
    model : torch.nn.Module
        A model with ``encode(x, context)``, ``decode(z, context)`` and ``event_shape``.
    x : torch.Tensor
        One datapoint, ``[1, *event_shape]``.
    context : torch.Tensor or None, default None
        The datapoint's context for a conditional model (e.g. its one-hot label, ``[1, C]``), or None.
    span : float, default 3.0
        The largest offset from the posterior mean, in latent units (> 0).
    steps : int, default 9
        Offsets per row, evenly spaced over [−span, span] (at least 2).
    dims : int, default 0
        > 0: keep the first ``dims`` latent dimensions; 0: all of them. Ignored when ``order`` is given.
    order : list of int or None, default None
        The dimensions to show, in that order (e.g. sorted by KL); None: dimensions 0, 1, … in order.

    Returns
    -------
    torch.Tensor
        The decoder means, ``[D, steps, *event_shape]``, float32, on the CPU: D = ``len(order)``, else
        ``min(dims, Nz)`` when ``dims`` > 0, else Nz.

    Raises
    ------
    ConfigError
        If ``steps`` < 2 or ``span`` is not > 0, ``x`` is not one datapoint, or ``order`` is empty or lists a
        dimension outside 0..Nz − 1.
    """
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
    """Tile the ``[D, steps, ...]`` result of ``latent_traversal`` as a PNG, one row per latent dimension.

    Parameters
    ----------
    images : torch.Tensor
        The traversal's decoder means, ``[D, steps, *event_shape]``.
    event_shape : tuple of int
        The shape of one datapoint, which must show as an image.
    out : str or Path
        The PNG file to write.
    row_labels : list of str or None, default None
        A caption per row, e.g. the dimension and its KL; None: ``z{d}: mu-{span} -> mu+{span}`` (the dimension and
        the range of its offsets), so the picture says what its rows and columns are.
    span : float, default 3.0
        The traversal's span, shown in the default captions.

    Returns
    -------
    Path
        The PNG written, ``out``.
    """
    steps = images.shape[1]
    if row_labels is None:
        row_labels = [f"z{d}: mu-{span:g} -> mu+{span:g}" for d in range(images.shape[0])]
    return save_grid(to_images(images.reshape(-1, *event_shape), event_shape), out, nrow=steps, row_labels=row_labels)
