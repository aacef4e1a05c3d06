"""Image grids of a model: samples from a fixed z, reconstructions, interpolations, 2-D manifolds (traversals:
:mod:`aevb.plots.traversal`).

All are decoder means E_p(x|z)[x] (what is usually shown), tiled with :func:`aevb.plots.png.save_grid`.
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
    """E_p(x|z)[x] for each row of ``z``, on the CPU."""
    device = module_device(model)
    parts = [model.decode(z[i : i + batch].to(device)).mean.float().cpu() for i in range(0, z.shape[0], batch)]
    return torch.cat(parts)


@torch.no_grad()
def encode_mean(model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
    """Posterior means E_q[z|x] ``[N, Nz]`` on the CPU."""
    device = module_device(model)
    c = None if context is None else context.to(device)
    return model.encode(x.to(device), c).mean.float().cpu()


def sample_grid(model: nn.Module, z: torch.Tensor, out: str | Path, nrow: int = 16) -> Path:
    """Decoded fixed draws z ~ p(z): the same z at every epoch, so grids are comparable across training."""
    return save_grid(to_images(decode_mean(model, z), model.event_shape), out, nrow=nrow)


@torch.no_grad()
def recon_grid(
    model: nn.Module, x: torch.Tensor, out: str | Path, context: torch.Tensor | None = None, nrow: int = 16
) -> Path:
    """Rows of data, each followed by a row of their reconstructions (``model.reconstruct``: for a VAE the decoder
    mean at the posterior mean, E_p(x|z=μ_φ(x))[x]); the rows are labelled "data" and "model"."""
    device = module_device(model)
    c = None if context is None else context.to(device)
    recon = model.reconstruct(x.to(device), c).float().cpu()
    rows = []
    for start in range(0, x.shape[0], nrow):
        rows += [to_images(x[start : start + nrow], model.event_shape)]
        rows += [to_images(recon[start : start + nrow], model.event_shape)]
    return save_grid(torch.cat(rows), out, nrow=min(nrow, x.shape[0]), row_labels=["data", "model"])


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for latent spaces):
    slerp(a, b; t) = sin((1−t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, cos Ω = ⟨a, b⟩/(‖a‖‖b‖); linear when Ω ≈ 0."""
    a, b, t = a.double(), b.double(), t.double()[:, None]
    cos = (a @ b / (a.norm() * b.norm()).clamp_min(1e-12)).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    if float(omega.sin().abs()) < 1e-6:
        return ((1 - t) * a + t * b).float()
    return ((torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / omega.sin()).float()


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int, mode: str = "linear") -> torch.Tensor:
    """``steps`` points from ``a`` to ``b`` (both ``[Nz]``), endpoints included: linear (1−t)a + tb or slerp."""
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
    """For each pair of datapoints ``pairs[2i], pairs[2i+1]``, one row per mode decoding the interpolation
    between their posterior means, with the two data at the ends of the row."""
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
    """The learned 2-D manifold (Kingma & Welling 2014, Fig. 4): decoder means at z = Φ⁻¹(u) for u on an n × n grid
    of the unit square ((i + ½)/n), so equal areas of the grid carry equal prior mass."""
    if latent_dim_of(model) != 2:
        raise ConfigError(f"a 2-D manifold needs a model with Nz = 2, this one has Nz = {latent_dim_of(model)}")
    z = manifold_z(n)
    return save_grid(to_images(decode_mean(model, z), model.event_shape), out, nrow=n, scale=nrow_scale)


def manifold_z(n: int) -> torch.Tensor:
    """The n² points z = (Φ⁻¹(u₁), Φ⁻¹(u₂)), u = (i + ½)/n, in reading order: rows top to bottom with decreasing
    z₂, columns left to right with increasing z₁, as on a plot. Shape ``[n², 2]``."""
    if n < 1:
        raise ConfigError(f"a manifold grid needs n >= 1, got {n}")
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    coords = torch.distributions.Normal(0.0, 1.0).icdf(u).float()
    z2, z1 = torch.meshgrid(coords.flip(0), coords, indexing="ij")
    return torch.stack([z1, z2], dim=-1).reshape(-1, 2)
