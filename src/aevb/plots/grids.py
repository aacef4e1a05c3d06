"""Image grids of a model: samples from a fixed z, reconstructions, interpolations, 2-D manifolds.

Latent traversals are in ``aevb.plots.traversal``. All grids show decoder means ``E_p(x|z)[x]`` (what is usually
shown), tiled with ``aevb.plots.png.save_grid``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from aevb.errors import ConfigError
from aevb.plots.common import latent_dim_of
from aevb.plots.png import save_grid, to_images
from aevb.runtime import module_device


@torch.no_grad()
def decode_mean(model: nn.Module, z: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """The decoder means ``E_p(x|z)[x]`` for each row of ``z``, on the CPU.

    Parameters
    ----------
    model : torch.nn.Module
        A model with ``decode(z)``, which returns the distribution ``p(x|z)`` (no context is passed).
    z : torch.Tensor
        Latent codes, ``[N, Nz]``.
    batch : int, default 500
        Rows of ``z`` decoded per call of ``model.decode``, on the model's device.

    Returns
    -------
    torch.Tensor
        The decoder means, ``[N, *event_shape]``, float32, on the CPU.
    """
    device = module_device(model)
    parts = [model.decode(z[i : i + batch].to(device)).mean.float().cpu() for i in range(0, z.shape[0], batch)]
    return torch.cat(parts)


@torch.no_grad()
def encode_mean(model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
    """The posterior means ``E_q[z|x]``, ``[N, Nz]``, on the CPU.

    Parameters
    ----------
    model : torch.nn.Module
        A model with ``encode(x, context)``, which returns the distribution ``q(z|x)``.
    x : torch.Tensor
        Data, ``[N, *event_shape]``.
    context : torch.Tensor or None, default None
        The context of each datapoint for a conditional model (e.g. one-hot labels), or None.

    Returns
    -------
    torch.Tensor
        The posterior means, ``[N, Nz]``, float32, on the CPU.
    """
    device = module_device(model)
    c = None if context is None else context.to(device)
    return model.encode(x.to(device), c).mean.float().cpu()


def sample_grid(model: nn.Module, z: torch.Tensor, out: str | Path, nrow: int = 16) -> Path:
    """Decoded fixed draws z ~ p(z): the same z at every epoch, so grids are comparable across training.

    Each image is the decoder mean ``E_p(x|z)[x]`` of one row of ``z``.

    Parameters
    ----------
    model : torch.nn.Module
        A model with ``decode`` and an ``event_shape`` that shows as images.
    z : torch.Tensor
        The fixed prior draws, ``[N, Nz]`` (e.g. the run's ``aevb.plots.common.fixed_z``).
    out : str or Path
        The PNG file to write.
    nrow : int, default 16
        Images per row of the grid.

    Returns
    -------
    Path
        The PNG written, ``out``.
    """
    return save_grid(to_images(decode_mean(model, z), model.event_shape), out, nrow=nrow)


@torch.no_grad()
def recon_grid(
    model: nn.Module, x: torch.Tensor, out: str | Path, context: torch.Tensor | None = None, nrow: int = 16
) -> Path:
    """Rows of data, each followed by a row of their reconstructions; the rows are labelled "data" and "model".

    The reconstructions are ``model.reconstruct``: for a VAE the decoder mean at the posterior mean,
    ``E_p(x|z=μ_φ(x))[x]``.

    Parameters
    ----------
    model : torch.nn.Module
        A model with ``reconstruct(x, context)`` and an ``event_shape`` that shows as images.
    x : torch.Tensor
        Data, ``[N, *event_shape]``.
    out : str or Path
        The PNG file to write.
    context : torch.Tensor or None, default None
        The context of each datapoint for a conditional model (e.g. one-hot labels), or None.
    nrow : int, default 16
        Datapoints per row: the grid is ``min(nrow, N)`` images wide, and each row of data is followed by the row of
        its reconstructions.

    Returns
    -------
    Path
        The PNG written, ``out``.
    """
    device = module_device(model)
    c = None if context is None else context.to(device)
    recon = model.reconstruct(x.to(device), c).float().cpu()
    rows = []
    for start in range(0, x.shape[0], nrow):
        rows += [to_images(x[start : start + nrow], model.event_shape)]
        rows += [to_images(recon[start : start + nrow], model.event_shape)]
    return save_grid(torch.cat(rows), out, nrow=min(nrow, x.shape[0]), row_labels=["data", "model"])


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from ``a`` to ``b`` (Shoemake 1985; White 2016 for latent spaces).

    slerp(a, b; t) = sin((1−t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, cos Ω = ⟨a, b⟩/(‖a‖‖b‖); linear, (1−t)a + tb, when
    Ω ≈ 0 (|sin Ω| < 10⁻⁶). Computed in float64.

    Parameters
    ----------
    a : torch.Tensor
        The start point, ``[Nz]``.
    b : torch.Tensor
        The end point, ``[Nz]``.
    t : torch.Tensor
        The fractions of the way from ``a`` to ``b``, ``[T]`` (0 gives ``a``, 1 gives ``b``).

    Returns
    -------
    torch.Tensor
        The interpolated points, ``[T, Nz]``, float32.
    """
    a, b, t = a.double(), b.double(), t.double()[:, None]
    cos = (a @ b / (a.norm() * b.norm()).clamp_min(1e-12)).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    if float(omega.sin().abs()) < 1e-6:
        return ((1 - t) * a + t * b).float()
    return ((torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / omega.sin()).float()


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int, mode: str = "linear") -> torch.Tensor:
    """``steps`` points from ``a`` to ``b`` (both ``[Nz]``), endpoints included: linear (1−t)a + tb or slerp.

    Parameters
    ----------
    a : torch.Tensor
        The start point, ``[Nz]``.
    b : torch.Tensor
        The end point, ``[Nz]``.
    steps : int
        The number of points, at least 2; t runs evenly over [0, 1].
    mode : str, default "linear"
        ``"linear"``: (1−t)a + tb; ``"spherical"``: ``slerp(a, b; t)``.

    Returns
    -------
    torch.Tensor
        The points, ``[steps, Nz]``.

    Raises
    ------
    ConfigError
        If ``steps`` < 2 (an interpolation needs at least 2 steps), or ``mode`` is neither ``"linear"`` nor
        ``"spherical"``.
    """
    if steps < 2:
        raise ConfigError(f"an interpolation needs at least 2 steps, got {steps}")
    t = torch.linspace(0, 1, steps)
    if mode == "linear":
        return (1 - t)[:, None] * a[None] + t[:, None] * b[None]
    if mode == "spherical":
        return slerp(a, b, t)
    raise ConfigError(f"interpolation mode {mode!r} is not allowed; choose linear or spherical")


def interpolation_grid(
    model: nn.Module, pairs: torch.Tensor, out: str | Path, steps: int = 10, modes: tuple[str, ...] = ("linear",)
) -> Path:
    """Interpolations between the posterior means of pairs of datapoints, with the two data at the ends of each row.

    For each pair of datapoints ``pairs[2i], pairs[2i+1]``, one row per mode decoding the interpolation between their
    posterior means ``E_q[z|x]`` (decoder means ``E_p(x|z)[x]``). Each row is labelled
    ``pair i, mode: x_a | decoded | x_b``.

    Parameters
    ----------
    model : torch.nn.Module
        A model with ``encode`` and ``decode`` and an ``event_shape`` that shows as images.
    pairs : torch.Tensor
        Datapoints taken two by two, ``[2P, *event_shape]`` (an odd last datapoint is left out).
    out : str or Path
        The PNG file to write.
    steps : int, default 10
        Decoded points per interpolation, endpoints included (at least 2); a row holds ``steps + 2`` images.
    modes : tuple of str, default ("linear",)
        The interpolations drawn for each pair, one row each: ``"linear"`` or ``"spherical"`` (slerp).

    Returns
    -------
    Path
        The PNG written, ``out``.

    Raises
    ------
    ConfigError
        If ``pairs`` holds fewer than two datapoints, ``steps`` < 2, or a mode is neither ``"linear"`` nor
        ``"spherical"``.
    """
    if pairs.shape[0] < 2:
        raise ConfigError("an interpolation needs at least two datapoints")
    mu = encode_mean(model, pairs)
    rows, labels = [], []
    for i in range(0, pairs.shape[0] - 1, 2):
        for mode in modes:
            path = decode_mean(model, interpolate(mu[i], mu[i + 1], steps, mode))
            ends = [to_images(pairs[i : i + 1], model.event_shape), to_images(pairs[i + 1 : i + 2], model.event_shape)]
            rows.append(torch.cat([ends[0], to_images(path, model.event_shape), ends[1]]))
            labels.append(f"pair {i // 2 + 1}, {mode}: x_a | decoded | x_b")
    return save_grid(torch.cat(rows), out, nrow=steps + 2, row_labels=labels)


def manifold_grid(model: nn.Module, out: str | Path, n: int = 20, nrow_scale: int = 2) -> Path:
    """The learned 2-D manifold (Kingma & Welling 2014, Fig. 4) of a model with Nz = 2.

    Decoder means at z = Φ⁻¹(u) for u on an n × n grid of the unit square ((i + ½)/n), so equal areas of the grid
    carry equal prior mass; laid out as on a plot (``manifold_z``).

    Parameters
    ----------
    model : torch.nn.Module
        A one-layer model with ``latent_dim`` 2, ``decode`` and an ``event_shape`` that shows as images.
    out : str or Path
        The PNG file to write.
    n : int, default 20
        Images per side of the grid (n² in all), at least 1.
    nrow_scale : int, default 2
        The upscaling factor of the PNG for viewing (each pixel becomes ``nrow_scale`` × ``nrow_scale``).

    Returns
    -------
    Path
        The PNG written, ``out``.

    Raises
    ------
    ConfigError
        If the model has no single ``latent_dim`` or its Nz is not 2 (a 2-D manifold needs Nz = 2), or ``n`` < 1.
    """
    if latent_dim_of(model) != 2:
        raise ConfigError(f"a 2-D manifold needs a model with Nz = 2, this one has Nz = {latent_dim_of(model)}")
    z = manifold_z(n)
    return save_grid(to_images(decode_mean(model, z), model.event_shape), out, nrow=n, scale=nrow_scale)


def manifold_z(n: int) -> torch.Tensor:
    """The n² points z = (Φ⁻¹(u₁), Φ⁻¹(u₂)), u = (i + ½)/n, of a 2-D manifold grid, in reading order.

    Rows run top to bottom with decreasing z₂, columns left to right with increasing z₁, as on a plot.

    Parameters
    ----------
    n : int
        Points per side of the grid, at least 1.

    Returns
    -------
    torch.Tensor
        The points, ``[n², 2]``, float32.

    Raises
    ------
    ConfigError
        If ``n`` < 1 (a manifold grid needs n >= 1).
    """
    if n < 1:
        raise ConfigError(f"a manifold grid needs n >= 1, got {n}")
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    coords = torch.distributions.Normal(0.0, 1.0).icdf(u).float()
    z2, z1 = torch.meshgrid(coords.flip(0), coords, indexing="ij")
    return torch.stack([z1, z2], dim=-1).reshape(-1, 2)
