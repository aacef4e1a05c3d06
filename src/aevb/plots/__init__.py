"""Pictures of a model and its run, drawn with matplotlib's Agg backend (no display needed) or Pillow grids.

Each module has one job: :mod:`.common` (the backend, the run's fixed z), :mod:`.scatter` (latent scatter),
:mod:`.grids` (samples, reconstructions, interpolations, 2-D manifolds), :mod:`.traversal` (latent traversals),
:mod:`.curves` (training curves from ``metrics.jsonl``) and :mod:`.run` (``aevb plot RUN --kind ...``).
"""
