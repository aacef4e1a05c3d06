"""Pictures of a model and its run, drawn with matplotlib's Agg backend (no display needed) or Pillow grids.

Each module has one job: :mod:`.common` (the backend, the run's fixed z), :mod:`.scatter` (latent scatter),
:mod:`.grids` (samples, reconstructions, interpolations, 2-D manifolds), :mod:`.traversal` (latent traversals),
:mod:`.curves` (training curves from ``metrics.jsonl``) and :mod:`.run` (``aevb plot RUN --kind ...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aevb.lazy import lazy_exports

# name → the module that defines it (loaded on first use: matplotlib is not imported until a picture is drawn)
_EXPORTS: dict[str, str] = {
    "interpolation_grid": "aevb.plots.grids",
    "latent_scatter": "aevb.plots.scatter",
    "latent_traversal": "aevb.plots.traversal",
    "manifold_grid": "aevb.plots.grids",
    "read_metrics": "aevb.plots.curves",
    "recon_grid": "aevb.plots.grids",
    "sample_grid": "aevb.plots.grids",
    "save_traversal": "aevb.plots.traversal",
    "training_curves": "aevb.plots.curves",
}

if TYPE_CHECKING:
    from aevb.plots.curves import read_metrics, training_curves
    from aevb.plots.grids import interpolation_grid, manifold_grid, recon_grid, sample_grid
    from aevb.plots.scatter import latent_scatter
    from aevb.plots.traversal import latent_traversal, save_traversal

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = sorted(_EXPORTS)
