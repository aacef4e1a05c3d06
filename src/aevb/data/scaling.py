"""Standardizing features by the rows a model is fitted on, with constant features left unscaled."""

from __future__ import annotations

import numpy as np


def standardization(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centre and scale that standardize ``rows`` feature by feature: x̃ = (x − mean) / s.

    ``s`` is the (population) standard deviation, or 1 for a feature that is constant in ``rows``, as scikit-learn's
    ``StandardScaler`` does, with its test: constant when the variance is within what float64 rounding of the sums
    leaves, var ≤ n·ε·var + (n·|mean|·ε)², so a feature of any scale that varies at all keeps its spread. Dividing a
    constant feature by a floor instead (say 10⁻⁶) sends any later row that differs in it to ~10⁶ standard
    deviations, where a model's densities overflow and its anomaly scores become NaN: an unused pixel of
    scikit-learn's digits is such a feature.

    Parameters
    ----------
    rows : numpy.ndarray
        ``[n_samples, ...]``, the rows to standardize by; features are every axis but the first.

    Returns
    -------
    tuple of numpy.ndarray
        ``(center, scale)``, each the shape of one row, in ``rows``' dtype.
    """
    center = rows.mean(0, dtype=np.float64)
    var = rows.var(0, dtype=np.float64)
    n, eps = rows.shape[0], np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * np.abs(center) * eps) ** 2
    return center.astype(rows.dtype), np.where(constant, 1.0, np.sqrt(var)).astype(rows.dtype)
