"""aevb's VAE detector as a PyOD detector (``pip install 'aevb[pyod]'``), for PyOD's benchmark code and utilities.

PyOD's conventions differ from scikit-learn's, and this class follows PyOD's: ``decision_function(X)`` is the outlier
score, higher = more abnormal (the negative of :meth:`VAEOutlierDetector.score_samples`); after ``fit``,
``decision_scores_`` holds the training rows' outlier scores, ``threshold_`` their ``1 − contamination`` quantile and
``labels_`` 0 (inlier) / 1 (outlier); ``predict`` gives 0/1 labels and ``predict_proba`` PyOD's probabilities. Every
parameter is :class:`~aevb.sklearn.VAEOutlierDetector`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyod.models.base import BaseDetector

from aevb.sklearn.outlier import VAEOutlierDetector

__all__ = ["AEVBDetector"]


class AEVBDetector(VAEOutlierDetector, BaseDetector):
    """A VAE outlier detector with PyOD's interface (see the module docstring)."""

    # PyOD's meaning of these, not scikit-learn's OutlierMixin's (which VAEOutlierDetector provides).
    predict = BaseDetector.predict
    fit_predict = BaseDetector.fit_predict

    def _fitted_on(self, normality: np.ndarray) -> None:
        self._set_n_classes(None)  # PyOD's bookkeeping for predict_proba (two classes; unsupervised)
        self.decision_scores_ = -normality
        self._process_decision_scores()  # threshold_ and labels_ from contamination, as every PyOD detector

    def decision_function(self, X: Any) -> np.ndarray:
        """Outlier scores of the rows of ``X``: higher is more abnormal (PyOD's sign)."""
        return -self.score_samples(X)
