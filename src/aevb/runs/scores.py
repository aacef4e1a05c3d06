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
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aevb.atomic import write_text_atomic
from aevb.data import TensorData, load_dataset
from aevb.data.loading import SPLIT_ALIASES, is_user_data, user_split
from aevb.errors import ConfigError, DataError
from aevb.models.protocols import labels_to_context
from aevb.plots.common import pyplot, save_figure
from aevb.plots.png import save_grid, shows_as_images, to_images
from aevb.runs.rundir import Run, require_sklearn
from aevb.scoring import ScoreSettings, score
from aevb.training.trainer import check_compatible

OOD_FILE = "ood.json"
USER_SPLITS = ("all", "train", "test")
"""The splits of a file of the user's."""


@dataclass(frozen=True)
class Source:
    """What a ``--data``/``--in``/``--out`` spec names: a dataset (or the user's file) and the split to read."""

    name: str
    split: str
    user: bool  # a file of the user's: ``index`` columns are its rows


def source(run: Run, spec: str | None, split: str | None) -> Source:
    """``NAME``, ``NAME:split`` or a path (None: the run's own dataset), with the split to read: the spec's own, else
    ``split``, else ``all`` for a file of the user's (its rows are what the user will join scores to) and ``test``
    for a named dataset. Split names are canonical (``eval`` → ``test``, ``Train`` → ``train``)."""
    name, named_split = run.config.train.dataset, ""
    if spec is not None:
        name, _, named_split = spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
    user = is_user_data(name)
    chosen = (named_split or split or ("all" if user else "test")).strip().lower()
    canonical = SPLIT_ALIASES.get(chosen, chosen)
    if user and canonical not in USER_SPLITS:  # named as typed: "validation" is not echoed back as "valid"
        raise DataError(
            f"{name} is a file of yours: its splits are {', '.join(USER_SPLITS)} (test: the rows held out when the "
            f"run was trained); got {chosen!r}"
        )
    return Source(name, canonical, user)


def _data(run: Run, src: Source, limit: int = 0) -> TensorData:
    """The rows ``src`` names (``limit`` > 0: that many, evenly spaced)."""
    train = run.config.train
    if src.name == train.dataset:
        data = run.data(src.split)
    else:
        data = load_dataset(
            src.name,
            split=src.split,
            data_dir=train.data_dir or None,
            download=train.download,
            test_fraction=train.test_fraction,
        )
    return data.spread(limit) if limit else data


def _with_file_rows(run: Run, src: Source) -> tuple[TensorData, torch.Tensor | None]:
    """The rows ``src`` names and, for a file of the user's, their rows in the file (the file is read once)."""
    if not src.user:
        return _data(run, src), None
    data, rows = user_split(_data(run, Source(src.name, "all", True)), src.split, run.config.train.test_fraction)
    if not len(rows):
        raise DataError(
            f"{src.name}: its {src.split!r} split is empty (test_fraction {run.config.train.test_fraction})"
        )
    return data, torch.from_numpy(rows)


def _scores(
    run: Run, data: TensorData, kinds: list[str], settings: ScoreSettings, seed: int
) -> dict[str, torch.Tensor]:
    check_compatible(run.model, data)  # shape and value range, each named in the error
    context = labels_to_context(run.model, data.y)
    return score(run.model, data.x, kinds, context=context, settings=settings, seed=seed)


def score_run(
    run_dir: str | Path,
    data: str | None = None,
    split: str | None = None,
    kinds: list[str] | tuple[str, ...] = ("auto",),
    out: str | Path = "scores.csv",
    settings: ScoreSettings | None = None,
    limit: int = 0,
    seed: int = 0,
) -> Path:
    """Write one CSV row per datapoint of ``data`` (default: the run's dataset): its index, the split scored, its
    label (when known) and one column per score, higher = more anomalous; written atomically.

    ``split`` None scores every row of a file of the user's and the test split of a named dataset. ``index`` is the
    row of the user's file (whatever the split; also with ``limit``), or the position in the named dataset's split.
    """
    run = Run(run_dir)
    src = source(run, data, split)
    whole, file_rows = _with_file_rows(run, src)
    positions = whole.spread_indices(limit or len(whole))
    dataset = whole.take(positions) if limit else whole
    rows = positions if file_rows is None else file_rows[positions]
    scores = _scores(run, dataset, list(kinds), settings or ScoreSettings(), seed)
    header = ["index", "split", *(["label"] if dataset.y is not None else []), *scores]
    lines = [",".join(header)]
    for i in range(len(dataset)):
        cells = [str(int(rows[i])), src.split] + ([str(int(dataset.y[i]))] if dataset.y is not None else [])
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


def histogram_range(values: np.ndarray, tail: float = 0.5) -> tuple[float, float, int]:
    """The x-axis of a score histogram: from the ``tail`` to the 100 − ``tail`` percentile of ``values`` (so that a
    few extreme scores, e.g. the NLL of inputs far outside the data, do not push every other value into one bar), and
    how many values lie beyond it."""
    lo, hi = np.percentile(values, [tail, 100 - tail])
    if not hi > lo:  # (nearly) constant scores: a unit-wide axis around them
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi), int(np.sum((values < lo) | (values > hi)))


def write_top(folder: Path, kind: str, sets: dict[str, TensorData], scores: dict[str, np.ndarray], k: int = 16) -> Path:
    """The ``k`` inputs with the highest ``kind`` score over both sets: ``top_<kind>.csv`` (rank, set, index in the
    set, score) and, for images, ``top_<kind>.png`` (most anomalous first, in reading order)."""
    ranked = sorted(
        ((float(v), name, i) for name, values in scores.items() for i, v in enumerate(values)), reverse=True
    )[:k]
    lines = ["rank,set,index,score"] + [f"{r + 1},{name},{i},{v:.6g}" for r, (v, name, i) in enumerate(ranked)]
    write_text_atomic(folder / f"top_{kind}.csv", "\n".join(lines) + "\n")
    event_shape = tuple(sets["in"].x.shape[1:])
    if ranked and shows_as_images(event_shape):
        images = torch.stack([sets[name].x[i].float() for _, name, i in ranked])
        save_grid(to_images(images, event_shape), folder / f"top_{kind}.png", nrow=min(8, len(ranked)))
    return folder / f"top_{kind}.csv"


def ood_run(
    run_dir: str | Path,
    inlier: str | None = None,
    outlier: str = "",
    kinds: list[str] | tuple[str, ...] = ("all",),
    out_dir: str | Path | None = None,
    settings: ScoreSettings | None = None,
    limit: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Score the in-distribution set (``inlier``, default the run's test split) and the out-of-distribution set
    (``outlier``, ``NAME[:split]`` or a file: every row) and measure how well each score separates them; writes
    ``ood.json``, ``hist_<score>.png`` and ``roc.png`` into ``out_dir`` (default ``RUN/ood``) and returns the
    numbers."""
    roc_curve = _sklearn_metrics().roc_curve
    if not outlier:
        raise ConfigError("--out NAME[:split] is required: the out-of-distribution data")
    run = Run(run_dir)
    settings = settings or ScoreSettings()
    # The default in-set is the run's held-out test split (its training rows would look more normal than any new
    # inlier); a file named by the user is scored whole, as is a named dataset's test split.
    in_source = source(run, inlier, "test" if inlier is None else None)
    sets = {
        "in": _data(run, in_source, limit),
        "out": _data(run, source(run, outlier, None), limit),
    }
    if in_source.user and in_source.name == run.config.train.dataset and in_source.split != "test":
        warnings.warn(
            f"--in {in_source.name} is the file this run was trained on, and its split {in_source.split!r} holds the "
            "rows it was trained on: they look more normal than new inliers would, so the metrics are optimistic; "
            f"--in {in_source.name}:test scores only the rows held out at training",
            stacklevel=2,
        )
    start = time.perf_counter()
    scores = {k: _scores(run, d, list(kinds), settings, seed) for k, d in sets.items()}
    seconds = time.perf_counter() - start
    folder = Path(out_dir) if out_dir else run.dir / "ood"
    folder.mkdir(parents=True, exist_ok=True)
    plt = pyplot()
    results: dict[str, Any] = {}
    fig_roc, ax_roc = plt.subplots(figsize=(5, 5))
    for kind in scores["in"]:  # "auto" and "all" are resolved to the scores' own names
        a, b = scores["in"][kind].numpy(), scores["out"][kind].numpy()
        results[kind] = detection_metrics(a, b)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        lo, hi, beyond = histogram_range(np.r_[a, b])
        bins = np.linspace(lo, hi, 61)
        for name, values in (("in", a), ("out", b)):
            # values beyond the axis land in its edge bins, so a few extreme scores cannot squeeze the rest into one
            ax.hist(np.clip(values, lo, hi), bins=bins, alpha=0.6, density=True, label=f"{name}: {sets[name].name}")
        note = f"; {beyond} beyond the axis, counted in its end bins" if beyond else ""
        ax.set_xlabel(f"{kind} (higher = more anomalous){note}")
        ax.set_ylabel("density (each set integrates to 1)")
        ax.set_title(f"{kind}: AUROC {results[kind]['auroc']:.3f}")
        ax.legend()
        save_figure(fig, folder / f"hist_{kind}.png")
        write_top(folder, kind, sets, {"in": a, "out": b})
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
