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

    Parameters
    ----------
    latent_dim : int, default 20
        Width of the latent code z (the paper's ``N_z``).
    hidden : tuple of int, default (400,)
        Widths of the encoder's hidden layers; the decoder mirrors them. With ``arch = "conv"``, the channel counts of
        the stride-2 convolutions (one per entry).
    activation : str, default "relu"
        Nonlinearity of the hidden layers: ``"relu"``, ``"tanh"``, ``"softplus"``, ``"elu"``, ``"leaky_relu"`` or
        ``"gelu"``.
    likelihood : str, default "auto"
        Family of p(x|z): ``"bernoulli"`` (data in [0, 1]), ``"gaussian"`` (real data; learned variance), or
        ``"auto"``: Bernoulli when every training value lies in [0, 1], else Gaussian.
    arch : str, default "mlp"
        Network architecture of encoder and decoder: ``"mlp"``, or ``"conv"`` for images (H and W divisible by
        ``2 ** len(hidden)``).
    posterior : str, default "diagonal"
        Family of q(z|x): ``"diagonal"`` or ``"full"`` (full-covariance) Gaussian.
    beta : float, default 1.0
        Weight of the KL term (β-VAE); 1 trains the ELBO itself.
    epochs : int, default 30
        Passes over the training rows.
    batch_size : int, default 100
        Minibatch size (the paper's M), capped at the number of training rows.
    lr : float, default 1e-3
        Learning rate of the optimizer.
    optimizer : str, default "adam"
        ``"adam"``, ``"adamw"``, ``"adagrad"`` or ``"sgd"``.
    standardize : str or bool, default "auto"
        ``"auto"``, True or False: whether the model is trained on features standardized with the training mean and
        standard deviation (``"auto"``: for a Gaussian likelihood only). Densities are reported for the data as
        given either way.
    anomaly_score : str, default "auto"
        The anomaly score, a name of ``aevb.scoring.SCORES`` (``"nll"``, ``"elbo"``, ``"recon"``, ``"regret"``,
        ``"complexity"``, ``"sqerr"``, ``"relerr"``) or ``"auto"``: ``"relerr"`` for images, ``"nll"`` for other data.
        ``"relerr"`` needs images.
    contamination : float, default 0.1
        The fraction of training rows taken to be outliers, in (0, 0.5]: ``offset_`` is this quantile of the
        training rows' ``score_samples``.
    mc_samples : int, default 64
        Monte Carlo samples per row: the importance samples K of ``nll`` and ``complexity``, the posterior samples of
        ``elbo``, ``recon`` and ``regret``.
    regret_steps : int, default 100
        Adam steps of the Likelihood Regret's posterior fit.
    device : str, default "auto"
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    precision : str, default "fp32"
        ``"fp32"``, or ``"bf16"``: autocast of the networks during training (densities stay fp32).
    random_state : int or numpy.random.RandomState or numpy.random.Generator or None, default None
        Seed of the initialization, the data order and the posterior noise. An int is the seed; from a RandomState
        or Generator (or, for None, NumPy's global random state) an int seed is drawn at ``fit`` and kept in
        ``seed_``.
    verbose : bool, default False
        Print a line per training epoch.

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
