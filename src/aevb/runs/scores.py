"""``aevb score`` and ``aevb ood``: anomaly scores of a run's model on any data, and how well each score separates
in-distribution from out-of-distribution data.

The scores are :mod:`aevb.scoring`'s (higher = more anomalous). ``ood`` treats the out-of-distribution set as the
positive class and reports, for every score, the area under the ROC curve (AUROC), the average precision (AUPRC) and
the false-positive rate at 95 % true-positive rate, with scikit-learn's metrics; it draws a histogram of each score
for both sets and the ROC curves, and leaves ``ood.json`` for ``aevb report``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aevb.atomic import write_text_atomic
from aevb.data import TensorData, load_dataset
from aevb.errors import ConfigError
from aevb.models.protocols import labels_to_context
from aevb.plots.common import pyplot, save_figure
from aevb.runs.rundir import Run, require_sklearn
from aevb.scoring import ScoreSettings, score
from aevb.training.trainer import check_compatible

OOD_FILE = "ood.json"


def _data(run: Run, spec: str | None, split: str, limit: int = 0) -> TensorData:
    """``NAME``, ``NAME:split`` or a path; None: the run's own dataset. ``limit`` > 0 keeps that many evenly spaced."""
    if spec is None:
        data = run.data(split)
    else:
        name, _, named_split = spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
        train = run.config.train
        data = load_dataset(name, split=named_split or split, data_dir=train.data_dir or None, download=train.download)
    return data.spread(limit) if limit else data


def _scores(
    run: Run, data: TensorData, kinds: list[str], settings: ScoreSettings, seed: int
) -> dict[str, torch.Tensor]:
    check_compatible(run.model, data)  # shape and value range, each named in the error
    context = labels_to_context(run.model, data.y)
    return score(run.model, data.x, kinds, context=context, settings=settings, seed=seed)


def score_run(
    run_dir: str | Path,
    data: str | None = None,
    split: str = "test",
    kinds: list[str] | tuple[str, ...] = ("regret",),
    out: str | Path = "scores.csv",
    settings: ScoreSettings | None = None,
    limit: int = 0,
    seed: int = 0,
) -> Path:
    """Write one CSV row per datapoint of ``data`` (default: the run's dataset): its index in the split (also with
    ``limit``), label (when known) and one column per score, higher = more anomalous; written atomically."""
    run = Run(run_dir)
    whole = _data(run, data, split)
    rows = whole.spread_indices(limit or len(whole))  # the index column: positions in the split, also with a limit
    dataset = whole.take(rows) if limit else whole
    scores = _scores(run, dataset, list(kinds), settings or ScoreSettings(), seed)
    header = ["index", *(["label"] if dataset.y is not None else []), *scores]
    lines = [",".join(header)]
    for i in range(len(dataset)):
        cells = [str(int(rows[i]))] + ([str(int(dataset.y[i]))] if dataset.y is not None else [])
        cells += [f"{float(v[i]):.6g}" for v in scores.values()]
        lines.append(",".join(cells))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "\n".join(lines) + "\n")
    return out


def _sklearn_metrics():  # noqa: ANN202 - the module
    """scikit-learn's metrics (an optional dependency: ``pip install 'aevb[plots]'``)."""
    require_sklearn("aevb ood")
    from sklearn import metrics

    return metrics


def detection_metrics(inlier: np.ndarray, outlier: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC (average precision) and FPR at 95 % TPR, outliers the positive class, higher score = outlier."""
    metrics = _sklearn_metrics()

    y = np.r_[np.zeros(len(inlier)), np.ones(len(outlier))]
    s = np.r_[inlier, outlier]
    fpr, tpr, _ = metrics.roc_curve(y, s, drop_intermediate=False)  # keep every threshold: the 95 % point exactly
    return {
        "auroc": float(metrics.roc_auc_score(y, s)),
        "auprc": float(metrics.average_precision_score(y, s)),
        "fpr_at_95_tpr": float(fpr[np.searchsorted(tpr, 0.95, side="left")]),
    }


def ood_run(
    run_dir: str | Path,
    inlier: str | None = None,
    outlier: str = "",
    kinds: list[str] | tuple[str, ...] = ("nll", "elbo", "recon", "regret", "complexity"),
    out_dir: str | Path | None = None,
    settings: ScoreSettings | None = None,
    limit: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Score the in-distribution set (``inlier``, default the run's test split) and the out-of-distribution set
    (``outlier``, ``NAME[:split]``) and measure how well each score separates them; writes ``ood.json``,
    ``hist_<score>.png`` and ``roc.png`` into ``out_dir`` (default ``RUN/ood``) and returns the numbers."""
    roc_curve = _sklearn_metrics().roc_curve
    if not outlier:
        raise ConfigError("--out NAME[:split] is required: the out-of-distribution data")
    run = Run(run_dir)
    settings = settings or ScoreSettings()
    sets = {"in": _data(run, inlier, "test", limit), "out": _data(run, outlier, "test", limit)}
    start = time.perf_counter()
    scores = {k: _scores(run, d, list(kinds), settings, seed) for k, d in sets.items()}
    seconds = time.perf_counter() - start
    folder = Path(out_dir) if out_dir else run.dir / "ood"
    folder.mkdir(parents=True, exist_ok=True)
    plt = pyplot()
    results: dict[str, Any] = {}
    fig_roc, ax_roc = plt.subplots(figsize=(5, 5))
    for kind in kinds:
        a, b = scores["in"][kind].numpy(), scores["out"][kind].numpy()
        results[kind] = detection_metrics(a, b)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        bins = np.histogram_bin_edges(np.r_[a, b], bins=60)
        ax.hist(a, bins=bins, alpha=0.6, density=True, label=f"in: {sets['in'].name}")
        ax.hist(b, bins=bins, alpha=0.6, density=True, label=f"out: {sets['out'].name}")
        ax.set_xlabel(f"{kind} (higher = more anomalous)")
        ax.set_title(f"{kind}: AUROC {results[kind]['auroc']:.3f}")
        ax.legend()
        save_figure(fig, folder / f"hist_{kind}.png")
        fpr, tpr, _ = roc_curve(np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a, b])
        ax_roc.plot(fpr, tpr, label=f"{kind} ({results[kind]['auroc']:.3f})")
    ax_roc.plot([0, 1], [0, 1], color="gray", lw=0.8, ls="--")
    ax_roc.set_xlabel("false-positive rate")
    ax_roc.set_ylabel("true-positive rate")
    ax_roc.set_title(f"ROC: {sets['in'].name} (in) vs {sets['out'].name} (out)")
    ax_roc.legend(loc="lower right")
    save_figure(fig_roc, folder / "roc.png")
    summary = {
        "in": sets["in"].name,
        "out": sets["out"].name,
        "n_in": len(sets["in"]),
        "n_out": len(sets["out"]),
        "settings": settings.__dict__,
        "seconds": seconds,
        "metrics": results,
        "note": "outliers are the positive class; every score is higher for more anomalous inputs",
    }
    write_text_atomic(folder / OOD_FILE, json.dumps(summary, indent=2) + "\n")
    return summary
