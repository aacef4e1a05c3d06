"""``aevb probe RUN``: how well a run's posterior means classify with few labels, next to raw pixels and PCA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from aevb.atomic import write_text_atomic
from aevb.errors import ConfigError
from aevb.metrics.probe import CLASSIFIERS, probe_errors
from aevb.plots.common import pyplot, save_figure
from aevb.plots.grids import encode_mean
from aevb.runs.rundir import Run, require_sklearn


def _pca(train: np.ndarray, test: np.ndarray, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=width, random_state=seed).fit(train)  # unsupervised: every training point, no labels
    return pca.transform(train), pca.transform(test)


def _plot(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, len({r["classifier"] for r in rows}), figsize=(11, 4), squeeze=False)
    for ax, clf in zip(axes[0], dict.fromkeys(r["classifier"] for r in rows), strict=True):
        for name in dict.fromkeys(r["features"] for r in rows):
            mine = [r for r in rows if r["features"] == name and r["classifier"] == clf]
            ax.errorbar(
                [r["labels"] for r in mine], [100 * r["error"] for r in mine], [100 * r["error_sd"] for r in mine],
                marker="o", capsize=3, label=name,
            )  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("labelled training points (balanced)")
        ax.set_ylabel("test error (%)")
        ax.set_title(f"{clf} probe")
        ax.legend()
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def probe_run(
    run_dir: str | Path,
    labels: list[int],
    *,
    seeds: int = 5,
    classifiers: list[str] | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Test error of each classifier on the run's posterior means, raw pixels and PCA features of the same width,
    trained on ``labels`` balanced labelled training points, mean ± sd over ``seeds`` labelled subsets. Writes
    ``probe.json``, ``probe.md`` and ``probe.png`` into ``out`` (default ``RUN/probe``) and returns the JSON."""
    require_sklearn("aevb probe")
    run = Run(run_dir)
    train, test = run.data("train"), run.data("test")
    if train.y is None or test.y is None:
        raise ConfigError(f"aevb probe needs labels; dataset {run.config.train.dataset!r} has none")
    x_train, x_test = train.flat().numpy(), test.flat().numpy()
    z_train, z_test = encode_mean(run.model, train.x).numpy(), encode_mean(run.model, test.x).numpy()
    width = z_train.shape[1]
    features = {
        f"VAE posterior mean ({width})": (z_train, z_test),
        f"PCA ({width})": _pca(x_train, x_test, width, 0),
        f"raw ({x_train.shape[1]})": (x_train, x_test),
    }
    rows = probe_errors(
        features, train.y.numpy(), test.y.numpy(), labels, seeds=seeds, classifiers=classifiers or list(CLASSIFIERS)
    )
    folder = Path(out) if out else run.dir / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    result = {"run": str(run.dir), "seeds": seeds, "test_points": len(test), "rows": rows}
    write_text_atomic(folder / "probe.json", json.dumps(result, indent=2) + "\n")
    counts = list(dict.fromkeys(r["labels"] for r in rows))
    lines = ["| features | classifier | " + " | ".join(f"{c} labels" for c in counts) + " |"]
    lines.append("|---|---|" + "---|" * len(counts))
    for name in dict.fromkeys(r["features"] for r in rows):
        for clf in dict.fromkeys(r["classifier"] for r in rows):
            cells = [
                f"{100 * r['error']:.1f} ± {100 * r['error_sd']:.1f}"
                for r in rows
                if r["features"] == name and r["classifier"] == clf
            ]
            lines.append(f"| {name} | {clf} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    write_text_atomic(
        folder / "probe.md",
        f"Test error (%), mean ± sd over {seeds} labelled subsets, {len(test)} test points\n\n{table}\n",
    )
    _plot(rows, folder / "probe.png", f"{run.config.train.dataset}: test error against labels ({seeds} subsets)")
    result["markdown"] = table
    return result
