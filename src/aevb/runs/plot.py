"""``aevb plot RUN --kind ...``: every picture of a trained run, written into one folder.

The pictures themselves are functions of (model, tensors) in :mod:`aevb.plots`; this module feeds them a run.

Kinds are found through the :data:`PLOT_KINDS` registry; each takes a :class:`PlotContext` (the model, the data of
one split, the run directory) and returns the paths it wrote.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from aevb.data import TensorData
from aevb.errors import ConfigError
from aevb.models.protocols import ConditionalModel
from aevb.plots.common import fixed_z, latent_dim_of
from aevb.plots.curves import read_metrics, training_curves
from aevb.plots.grids import encode_mean, interpolation_grid, manifold_grid, recon_grid, sample_grid
from aevb.plots.png import shows_as_images
from aevb.plots.scatter import latent_scatter
from aevb.plots.traversal import latent_traversal, save_traversal
from aevb.registry import Registry
from aevb.runs.rundir import Run

# Kinds that draw the data themselves as images (the scatter and the curves do not).
IMAGE_KINDS = ("samples", "recon", "interp", "traverse", "manifold")
# Kinds that read datapoints of the run's dataset (the others need only the model and the run directory).
DATA_KINDS = ("scatter", "recon", "interp", "traverse")

PLOT_KINDS: Registry[Callable[[PlotContext], list[Path]]] = Registry("plot kind")


@dataclass
class PlotContext:
    run_dir: Path
    out_dir: Path
    seed: int = 0
    split: str = "test"
    limit: int = 2000  # datapoints used by the scatter
    projection: str = "auto"

    @functools.cached_property
    def run(self) -> Run:
        return Run(self.run_dir)

    @property
    def model(self) -> nn.Module:
        return self.run.model

    @property
    def data(self) -> TensorData:
        return self.run.data(self.split)

    def points(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``n`` datapoints evenly spaced over the split: x, context, labels."""
        return self.run.points(self.split, n)

    def unconditional(self, kind: str) -> None:
        if isinstance(self.model, ConditionalModel):
            raise ConfigError(f"--kind {kind} draws from p(z) and is not available for conditional models")


@PLOT_KINDS.register("scatter")
def _scatter(ctx: PlotContext) -> list[Path]:
    x, context, labels = ctx.points(ctx.limit)
    means = encode_mean(ctx.model, x, context)
    return [latent_scatter(means, labels, ctx.out_dir / "scatter.png", method=ctx.projection, seed=ctx.seed)]


@PLOT_KINDS.register("samples")
def _samples(ctx: PlotContext) -> list[Path]:
    ctx.unconditional("samples")
    return [sample_grid(ctx.model, fixed_z(ctx.model, ctx.run_dir, ctx.seed), ctx.out_dir / "samples.png")]


@PLOT_KINDS.register("recon")
def _recon(ctx: PlotContext) -> list[Path]:
    x, context, _ = ctx.points(32)
    return [recon_grid(ctx.model, x, ctx.out_dir / "recon.png", context)]


@PLOT_KINDS.register("interp")
def _interp(ctx: PlotContext) -> list[Path]:
    ctx.unconditional("interp")
    n = min(8, len(ctx.data) // 2 * 2)
    x = ctx.data.x[torch.randperm(len(ctx.data), generator=torch.Generator().manual_seed(ctx.seed))[:n]]
    return [interpolation_grid(ctx.model, x, ctx.out_dir / "interp.png", modes=("linear", "spherical"))]


@PLOT_KINDS.register("traverse")
def _traverse(ctx: PlotContext) -> list[Path]:
    x, context, _ = ctx.points(1)
    images = latent_traversal(ctx.model, x, context, dims=32)
    return [save_traversal(images, ctx.model.event_shape, ctx.out_dir / "traverse.png")]


@PLOT_KINDS.register("manifold")
def _manifold(ctx: PlotContext) -> list[Path]:
    ctx.unconditional("manifold")
    if latent_dim_of(ctx.model) != 2:
        return []  # only a 2-D latent space is a manifold one can tile; `all` skips it for other models
    return [manifold_grid(ctx.model, ctx.out_dir / "manifold.png")]


@PLOT_KINDS.register("curves")
def _curves(ctx: PlotContext) -> list[Path]:
    return [training_curves(read_metrics(ctx.run_dir), ctx.out_dir / "curves.png", title=ctx.run_dir.name)]


def plot_run(
    run_dir: str | Path,
    kinds: list[str] | tuple[str, ...] = ("all",),
    out_dir: str | Path | None = None,
    *,
    split: str = "test",
    limit: int = 2000,
    projection: str = "auto",
    seed: int = 0,
    skipped: list[str] | None = None,
) -> list[Path]:
    """Write the pictures ``kinds`` (names in :data:`PLOT_KINDS`, or ``all``) of the run in ``run_dir`` into
    ``out_dir`` (default ``run_dir/plots``) and return their paths. Kinds that ``all`` leaves out for this run (image
    pictures of data that are not images, draws from p(z) of a conditional model) are appended to ``skipped``, each
    with the reason."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise ConfigError(f"{run_dir} is not a run directory: config.toml is missing")
    everything = "all" in kinds
    names = PLOT_KINDS.names() if everything else list(kinds)
    for name in names:
        PLOT_KINDS.get(name)  # an unknown kind is an error naming the known ones, before anything is drawn
    ctx = PlotContext(run_dir, Path(out_dir) if out_dir else run_dir / "plots", seed, split, limit, projection)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    images = shows_as_images(ctx.model.event_shape)
    for name in names:
        conditional = isinstance(ctx.model, ConditionalModel)
        if everything and conditional and name in ("samples", "interp", "manifold"):
            # pictures drawn from p(z) need a label per sample; `all` leaves them out
            _skip(skipped, f"{name}: draws from p(z), which needs a label per sample for a conditional model")
            continue
        if name in IMAGE_KINDS and not images:
            why = f"draws the data as images, and datapoints of shape {tuple(ctx.model.event_shape)} are not images"
            if not everything:
                raise ConfigError(f"--kind {name} {why}; the kinds for such data: scatter, curves")
            _skip(skipped, f"{name}: {why}")
            continue
        paths += PLOT_KINDS.get(name)(ctx)
    return paths


def _skip(skipped: list[str] | None, note: str) -> None:
    if skipped is not None:
        skipped.append(note)
