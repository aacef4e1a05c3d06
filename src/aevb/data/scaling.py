"""Standardizing features by the rows a model is fitted on, with constant features left unscaled."""

from __future__ import annotations

import numpy as np

CONSTANT_TOLERANCE = 1e-6
"""A feature whose standard deviation is at most this times max(1, |mean|) counts as constant (float32 rounding)."""


def standardization(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centre and scale that standardize ``rows`` feature by feature: x̃ = (x − mean) / s.

    ``s`` is the (population) standard deviation, or 1 for a feature that is constant in ``rows``, as scikit-learn's
    ``StandardScaler`` does. Dividing by a floor instead (say 10⁻⁶) sends any later row that differs in that feature to
    ~10⁶ standard deviations, where a model's densities overflow and its anomaly scores become NaN: an unused pixel of
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
    std = rows.std(0, dtype=np.float64)
    constant = std <= CONSTANT_TOLERANCE * np.maximum(1.0, np.abs(center))
    return center.astype(rows.dtype), np.where(constant, 1.0, std).astype(rows.dtype)
