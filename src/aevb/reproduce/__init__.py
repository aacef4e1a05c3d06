"""The experiments of Kingma & Welling (2014), one command each: ``aevb reproduce fig2|fig3|fig4|fig5``; the
lecture's ``ae-vs-vae``, Higgins et al.'s ``beta-vae-dsprites``, and the anomaly-detection benchmarks ``one-class``
(MNIST and Fashion-MNIST, each class normal in turn) and ``one-class-tabular``.

Each writes into ``--out`` a PNG, a CSV of the numbers behind it, a ``summary.md`` and the run directories of the
models it trained (``runs/NAME``; a rerun with the same settings reuses finished runs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aevb.registry import Registry
from aevb.reproduce import ae_vs_vae, beta_vae_dsprites, fig2, fig3, fig45, one_class
from aevb.reproduce.common import Options

EXPERIMENTS: Registry[Callable[[Options, Path], Path]] = Registry("experiment")
EXPERIMENTS.register("fig2")(fig2.run)
EXPERIMENTS.register("fig3")(fig3.run)
EXPERIMENTS.register("fig4")(fig45.run_fig4)
EXPERIMENTS.register("fig5")(fig45.run_fig5)
EXPERIMENTS.register("ae-vs-vae")(ae_vs_vae.run)
EXPERIMENTS.register("beta-vae-dsprites")(beta_vae_dsprites.run)
EXPERIMENTS.register("one-class")(one_class.run_images)
EXPERIMENTS.register("one-class-tabular")(one_class.run_tables)


def run_experiment(name: str, **options: Any) -> Path:
    """Run experiment ``name`` with the options of ``aevb reproduce`` (:class:`Options` fields); returns the path of
    its ``summary.md``."""
    experiment = EXPERIMENTS.get(name)
    opts = Options(**options)
    out = Path(opts.out or Path("runs") / "reproduce" / name)
    out.mkdir(parents=True, exist_ok=True)
    return experiment(opts, out)
