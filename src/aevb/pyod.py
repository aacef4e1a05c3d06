"""aevb's VAE detector as a PyOD detector (``pip install 'aevb[pyod]'``), for PyOD's benchmark code and utilities.

PyOD's conventions differ from scikit-learn's, and this class follows PyOD's: ``decision_function(X)`` is the outlier
score, higher = more abnormal (the negative of ``VAEOutlierDetector.score_samples``); after ``fit``,
``decision_scores_`` holds the training rows' outlier scores, ``threshold_`` their ``1 − contamination`` quantile and
``labels_`` 0 (inlier) / 1 (outlier); ``predict`` gives 0/1 labels and ``predict_proba`` PyOD's probabilities. Every
parameter is ``aevb.sklearn.VAEOutlierDetector``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyod.models.base import BaseDetector

from aevb.sklearn.outlier import VAEOutlierDetector

__all__ = ["AEVBDetector"]


class AEVBDetector(VAEOutlierDetector, BaseDetector):
    """A VAE outlier detector with PyOD's interface.

    ``aevb.sklearn.VAEOutlierDetector`` in PyOD's conventions: ``decision_function(X)`` is the outlier score, higher =
    more abnormal (the negative of ``VAEOutlierDetector.score_samples``); ``fit`` also sets ``decision_scores_``,
    ``threshold_`` and ``labels_``; ``predict`` gives 0 (inlier) / 1 (outlier) labels and ``predict_proba`` PyOD's
    probabilities. Every parameter is ``VAEOutlierDetector``'s; ``contamination`` must be a number (not a PyThresh
    thresholder).

    Its parameters are exactly ``VAEOutlierDetector``'s (``latent_dim``, ``hidden``, …, ``anomaly_score``,
    ``contamination``, ``random_state``), with the same defaults: see that class.

    Attributes
    ----------
    decision_scores_ : numpy.ndarray
        The training rows' outlier scores, ``[n_samples]``, higher = more abnormal.
    threshold_ : float
        The ``1 − contamination`` quantile of ``decision_scores_``.
    labels_ : numpy.ndarray
        The training rows' labels, ``[n_samples]``: 0 (inlier) or 1 (outlier, ``decision_scores_ > threshold_``).
    model_, anomaly_score_, offset_, train_bound_
        As in ``VAEOutlierDetector``.
    likelihood_, event_shape_, n_features_in_, feature_names_in_
        What ``fit`` saw and chose, as in ``VAEOutlierDetector``.

    Examples
    --------
    >>> from aevb.pyod import AEVBDetector
    >>> detector = AEVBDetector(epochs=20, contamination=0.05, random_state=0).fit(X_train)  # doctest: +SKIP
    >>> detector.labels_  # 0 inlier, 1 outlier (the training rows)  # doctest: +SKIP
    >>> detector.predict(X_test)  # doctest: +SKIP
    """

    # PyOD's meaning of these, not scikit-learn's OutlierMixin's (which VAEOutlierDetector provides).
    predict = BaseDetector.predict
    """PyOD's ``predict(X, return_confidence=False)``: 0 (inlier) / 1 (outlier) per row of ``X``.

    1 where ``decision_function(X) > threshold_``; with ``return_confidence = True``, also PyOD's confidence.
    """
    fit_predict = BaseDetector.fit_predict
    """PyOD's ``fit_predict(X, y=None)``: ``fit(X)``, then the training rows' ``labels_``."""

    def _fitted_on(self, normality: np.ndarray) -> None:
        self._set_n_classes(None)  # PyOD's bookkeeping for predict_proba (two classes; unsupervised)
        self.decision_scores_ = -normality
        self._process_decision_scores()  # threshold_ and labels_ from contamination, as every PyOD detector

    def decision_function(self, X: Any) -> np.ndarray:
        """Outlier scores of the rows of ``X``: higher is more abnormal (PyOD's sign).

        Parameters
        ----------
        X : array-like
            Rows shaped as those ``fit`` saw: ``[n_samples, n_features]`` or images ``[N, C, H, W]`` / ``[N, H, W]``.

        Returns
        -------
        numpy.ndarray
            ``[n_samples]``, float64: ``−score_samples(X)``, the anomaly score ``anomaly_score_`` of each row.
        """
        return -self.score_samples(X)
