"""Run directories: the one part of aevb that reads and writes them.

Open a run, load its model and data, train into it, evaluate, sample, reconstruct, encode, traverse, plot, report,
FID, explore.
"""

from aevb.runs.disentangle import disentanglement_run
from aevb.runs.explore import explore_run, export_explorer, latent_spaces
from aevb.runs.fid import fid_run, train_fid_classifier
from aevb.runs.plot import PLOT_KINDS, plot_run
from aevb.runs.probe import probe_run
from aevb.runs.report import write_report
from aevb.runs.rundir import Run, load, load_data, run_config
from aevb.runs.scores import ood_run, score_run
from aevb.runs.tasks import (
    augment_run,
    encode_run,
    evaluate_run,
    export_run,
    reconstruct_run,
    run_demo,
    sample_run,
    train_from_config,
    traverse_run,
)

__all__ = [
    "augment_run",
    "probe_run",
    "disentanglement_run",
    "PLOT_KINDS",
    "Run",
    "encode_run",
    "evaluate_run",
    "explore_run",
    "export_explorer",
    "export_run",
    "fid_run",
    "latent_spaces",
    "load",
    "load_data",
    "ood_run",
    "plot_run",
    "reconstruct_run",
    "run_config",
    "run_demo",
    "sample_run",
    "score_run",
    "train_fid_classifier",
    "train_from_config",
    "traverse_run",
    "write_report",
]
