"""A labelled heat map of a matrix: e.g. the mutual information between each latent and each generative factor."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aevb.plots.common import pyplot, save_figure


def save_heatmap(
    matrix: np.ndarray,
    row_labels: list[str],
    column_labels: list[str],
    out: str | Path,
    title: str = "",
    unit: str = "",
) -> Path:
    """``matrix`` ``[rows, columns]`` as colours with each value written in its cell; a PNG at ``out``."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != (len(row_labels), len(column_labels)):
        raise ValueError(f"a {matrix.shape} matrix needs {matrix.shape[0]} row and {matrix.shape[1]} column labels")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(column_labels), 0.8 + 0.35 * len(row_labels)))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto", vmin=0.0)
    ax.set_xticks(range(len(column_labels)), column_labels, rotation=30, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels)
    top = matrix.max() if matrix.size else 0.0
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(
            j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="black" if value > 0.6 * top else "white"
        )
    fig.colorbar(image, ax=ax, label=unit)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, out)
