"""Pictures of a model and its run, drawn with matplotlib's Agg backend (no display needed) or Pillow grids.

Each module has one job: ``aevb.plots.common`` (the backend, the run's fixed z), ``aevb.plots.scatter`` (latent
scatter), ``aevb.plots.grids`` (samples, reconstructions, interpolations, 2-D manifolds), ``aevb.plots.traversal``
(latent traversals), ``aevb.plots.curves`` (training curves from ``metrics.jsonl``), ``aevb.plots.png`` (image grids
written as PNG with Pillow) and ``aevb.plots.heatmap`` (labelled heat maps of a matrix). ``aevb.runs.plot`` feeds them
a trained run (``aevb plot RUN --kind ...``).
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

__all__ = [
    "interpolation_grid",
    "latent_scatter",
    "latent_traversal",
    "manifold_grid",
    "read_metrics",
    "recon_grid",
    "sample_grid",
    "save_traversal",
    "training_curves",
]
