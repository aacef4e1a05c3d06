"""Latent scatter plots: posterior means ``E_q[z|x]`` coloured by label.

Nz = 1: the means against a seeded random jitter (a strip); Nz = 2: the plane; Nz = 3: a 3-D scatter; Nz > 3: a 2-D
projection by PCA or t-SNE (scikit-learn, an optional dependency).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aevb.errors import ConfigError
from aevb.plots.common import pyplot, save_figure

PROJECTIONS = ("auto", "pca", "tsne")
"""The values of ``latent_scatter``'s ``method``: ``auto`` (the raw coordinates for Nz <= 3, PCA above), ``pca``,
``tsne``."""


def project(means: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D projection of ``means`` ``[N, D]`` by PCA or t-SNE (scikit-learn).

    t-SNE starts from the PCA projection, with perplexity min(30, max(2, (N − 1)/3)).

    Parameters
    ----------
    means : numpy.ndarray
        The points to project, ``[N, D]``.
    method : str, default "pca"
        ``"pca"`` or ``"tsne"``.
    seed : int, default 0
        The ``random_state`` of the projection.

    Returns
    -------
    numpy.ndarray
        The projected points, ``[N, 2]``.

    Raises
    ------
    ConfigError
        If ``method`` is neither ``"pca"`` nor ``"tsne"``, or scikit-learn is not installed
        (``pip install scikit-learn``).
    """
    if method not in ("pca", "tsne"):
        raise ConfigError(f"projection {method!r} is not allowed; choose one of: pca, tsne")
    try:
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
    except ImportError:
        raise ConfigError(
            f"a {method.upper()} scatter of a latent space with more than 3 dimensions needs scikit-learn: "
            "pip install scikit-learn (or plot a model with Nz <= 3)"
        ) from None
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(means)
    perplexity = float(min(30.0, max(2.0, (means.shape[0] - 1) / 3)))
    return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(means)


def latent_scatter(
    means: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | None,
    out: str | Path,
    method: str = "auto",
    title: str = "",
    seed: int = 0,
) -> Path:
    """Scatter of latent codes ``[N, D]`` coloured by ``labels``, written as a PNG.

    ``method`` picks the projection when D > 3 (``auto`` = PCA; ``auto`` with D <= 3 draws the raw coordinates: for
    D = 1 against a uniform random jitter in [−1, 1], for D = 2 the plane, for D = 3 a 3-D scatter). ``pca`` or
    ``tsne`` project codes of any D >= 2 (codes with D = 1 are always drawn against the jitter). Integer labels with at
    most 20 distinct values get a legend of their colours, other labels a colour bar.

    Parameters
    ----------
    means : torch.Tensor or numpy.ndarray
        The latent codes (e.g. posterior means ``E_q[z|x]``), ``[N, D]`` with N >= 2.
    labels : torch.Tensor or numpy.ndarray or None
        One label per code, ``[N]``, which colours it; None draws the points in one colour.
    out : str or Path
        The PNG file to write.
    method : str, default "auto"
        The projection, one of ``PROJECTIONS``: ``"auto"``, ``"pca"`` or ``"tsne"`` (t-SNE needs scikit-learn, as
        does any projection).
    title : str, default ""
        The title of the plot; empty: ``posterior means E_q[z|x] (Nz = D)``, or for a projection
        ``PCA of the D-D posterior means`` (t-SNE likewise).
    seed : int, default 0
        The seed of the jitter (D = 1) and of the projection.

    Returns
    -------
    Path
        The PNG written, ``out``.

    Raises
    ------
    ConfigError
        If ``method`` is not one of ``PROJECTIONS``, the codes are not of shape ``[N >= 2, D]``, or a projection needs
        scikit-learn and it is not installed.
    """
    if method not in PROJECTIONS:
        raise ConfigError(f"projection {method!r} is not allowed; choose one of: {', '.join(PROJECTIONS)}")
    m = np.asarray(torch.as_tensor(means).detach().float().cpu())
    if m.ndim != 2 or m.shape[0] < 2:
        raise ConfigError(f"a latent scatter needs codes of shape [N >= 2, D], got {tuple(m.shape)}")
    c = None if labels is None else np.asarray(torch.as_tensor(labels).cpu())
    plt = pyplot()
    style = {"c": c, "cmap": "tab10", "s": 6, "alpha": 0.8, "linewidths": 0} if c is not None else {"s": 6}
    dim = m.shape[1]
    if dim == 3 and method == "auto":
        fig = plt.figure(figsize=(6, 5))
        ax = fig.add_subplot(projection="3d")
        points = ax.scatter(m[:, 0], m[:, 1], m[:, 2], **style)
        ax.set_xlabel("z1"), ax.set_ylabel("z2"), ax.set_zlabel("z3")
    else:
        fig, ax = plt.subplots(figsize=(6, 5))
        if dim == 1:
            xs, ys, names = m[:, 0], np.random.default_rng(seed).uniform(-1, 1, m.shape[0]), ("z1", "jitter")
        elif dim == 2 and method == "auto":
            xs, ys, names = m[:, 0], m[:, 1], ("z1", "z2")
        else:
            proj = project(m, "pca" if method == "auto" else method, seed)
            xs, ys = proj[:, 0], proj[:, 1]
            kind = "PCA" if method in ("auto", "pca") else "t-SNE"
            names = (f"{kind} 1", f"{kind} 2")
            title = title or f"{kind} of the {dim}-D posterior means"
        points = ax.scatter(xs, ys, **style)
        ax.set_xlabel(names[0]), ax.set_ylabel(names[1])
    if c is not None and np.issubdtype(c.dtype, np.integer) and len(np.unique(c)) <= 20:
        # Discrete labels get a legend of their colours rather than a continuous colour bar.
        handles, names = points.legend_elements()
        ax.legend(handles, names, title="label", fontsize=7, loc="best", markerscale=0.8)
    elif c is not None:
        fig.colorbar(points, ax=ax, label="label", shrink=0.8)
    ax.set_title(title or f"posterior means E_q[z|x] (Nz = {dim})")
    return save_figure(fig, out)
